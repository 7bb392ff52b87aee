"""Reading a threat-model directory into one :class:`~riskgrid.threats.model.ThreatModel`.

Layout: every ``*.yaml`` file directly inside the directory (except ``floors.yaml``) is a
:class:`~riskgrid.threats.model.Part`; exactly one of them carries ``metadata`` and ``scales``.
Sections are concatenated in file-name order; an id defined twice is an error naming both files.
The loader remembers where every item came from, so later checks can say
``threatmodel/controls.yaml: controls[4].implementation[0]: …``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import parse_yaml_documents, problems_from_validation, read_text
from riskgrid.threats.model import SECTIONS, Floors, Part, ThreatModel

FLOORS_FILE = "floors.yaml"


@dataclass(frozen=True)
class Location:
    """Where an item of a section was written: file and its index in that file's section."""

    source: str
    section: str
    index: int

    def at(self, *loc: str | int) -> tuple[str, tuple[str | int, ...]]:
        """``(file, (section, index, *loc))`` — ready for :class:`Problem`."""
        return self.source, (self.section, self.index, *loc)


@dataclass(frozen=True)
class LoadedModel:
    model: ThreatModel
    root: Path
    locations: dict[tuple[str, str], Location]  # (section, id) → where it was defined

    def where(self, section: str, item_id: str, *loc: str | int) -> tuple[str, tuple]:
        return self.locations[(section, item_id)].at(*loc)


def _load_part(path: Path) -> Part:
    source = str(path)
    docs = parse_yaml_documents(read_text(path, what="threat-model file"), source)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise SpecError.one(source, "expected exactly one YAML mapping of model sections")
    try:
        return Part.model_validate(docs[0])
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, source)) from None


def model_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*.yaml") if p.name != FLOORS_FILE)


def load_model(root: str | Path) -> LoadedModel:
    """Load and merge a model directory; raises :class:`SpecError` with every problem found."""
    root = Path(root)
    if not root.is_dir():
        raise SpecError.one(str(root), "threat-model directory not found")
    files = model_files(root)
    if not files:
        raise SpecError.one(str(root), "no *.yaml files in the threat-model directory")

    problems: list[Problem] = []
    parts: list[tuple[Path, Part]] = []
    for path in files:
        try:
            parts.append((path, _load_part(path)))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)

    headers = [(p, part) for p, part in parts if part.metadata or part.scales]
    if len(headers) != 1 or headers[0][1].metadata is None or headers[0][1].scales is None:
        names = ", ".join(str(p) for p, _ in headers) or "none"
        raise SpecError.one(
            str(root), f"exactly one file must hold both 'metadata' and 'scales' (found: {names})"
        )

    merged: dict[str, list] = {s: [] for s in SECTIONS}
    locations: dict[tuple[str, str], Location] = {}
    for path, part in parts:
        for section in SECTIONS:
            for i, item in enumerate(getattr(part, section)):
                key = (section, item.id)
                if key in locations:
                    first = locations[key]
                    problems.append(
                        Problem(
                            str(path),
                            (section, i, "id"),
                            f"duplicate id {item.id!r}, first defined in {first.source}",
                        )
                    )
                    continue
                locations[key] = Location(str(path), section, i)
                merged[section].append(item)
    if problems:
        raise SpecError(problems)

    header = headers[0][1]
    model = ThreatModel(metadata=header.metadata, scales=header.scales, **merged)
    return LoadedModel(model=model, root=root, locations=locations)


def load_floors(root: str | Path) -> Floors:
    path = Path(root) / FLOORS_FILE
    source = str(path)
    docs = parse_yaml_documents(read_text(path, what="floors file"), source)
    if len(docs) != 1:
        raise SpecError.one(source, "expected exactly one YAML document")
    try:
        return Floors.model_validate(docs[0])
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, source)) from None
