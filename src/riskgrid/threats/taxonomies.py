"""Pinned external taxonomies (ATT&CK Containers, Microsoft K8s matrix, OWASP K8s Top 10).

Each is vendored in the model directory as a YAML id list with its version and source, so that
validation never depends on the network and an id that drifts between releases is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError

from riskgrid.spec.base import Strict
from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import parse_yaml_documents, problems_from_validation, read_text


class _Entry(Strict):
    id: str = Field(pattern=r"^[A-Z][A-Za-z0-9.-]+$")
    name: str


class _TaxonomyFile(Strict):
    name: str
    version: str
    source: str
    ids: list[_Entry] = Field(min_length=1)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    source: str
    names: dict[str, str]  # id → name, in file order

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.names

    @staticmethod
    def parent(item_id: str) -> str | None:
        """ATT&CK sub-technique T1552.007 → T1552; ``None`` for a top-level id."""
        head, dot, _ = item_id.partition(".")
        return head if dot else None


def load_taxonomy(path: Path) -> Taxonomy:
    source = str(path)
    docs = parse_yaml_documents(read_text(path, what="taxonomy file"), source)
    if len(docs) != 1:
        raise SpecError.one(source, "expected exactly one YAML document")
    try:
        data = _TaxonomyFile.model_validate(docs[0])
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, source)) from None
    names: dict[str, str] = {}
    for i, entry in enumerate(data.ids):
        if entry.id in names:
            raise SpecError.one(source, f"duplicate id {entry.id!r}", ("ids", i, "id"))
        names[entry.id] = entry.name
    return Taxonomy(data.name, data.version, data.source, names)
