"""Reading resources from YAML/JSON files with errors that name file, field and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from riskgrid.spec.base import API_VERSION
from riskgrid.spec.errors import Problem, SpecError

M = TypeVar("M", bound=BaseModel)


def read_text(path: Path, *, what: str = "file") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError.one(str(path), f"{what} not found") from None
    except IsADirectoryError:
        raise SpecError.one(str(path), f"{what} is a directory, expected a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.one(str(path), f"cannot read {what}: {exc}") from None


def parse_yaml_documents(text: str, source: str) -> list[Any]:
    """All documents of a (multi-document) YAML or JSON text; empty documents are dropped."""
    from riskgrid.spec.yamlbounds import load_spec_file

    # bounded: no aliases, limited depth (see spec/yamlbounds.py)
    return [d for d in load_spec_file(text, source) if d is not None]


def problems_from_validation(exc: ValidationError, source: str) -> list[Problem]:
    """Turn pydantic's errors into riskgrid problems, one per failing field."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        msg = err["msg"]
        # pydantic prefixes messages of custom validators; the field path says enough.
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        out.append(Problem(source, loc, msg))
    return out


def validate_document(doc: Any, model: type[M], source: str, *, kind: str | None = None) -> M:
    """Validate one parsed document as ``model``; apiVersion and kind are checked first."""
    if not isinstance(doc, dict):
        raise SpecError.one(
            source, f"expected a mapping at the top level, got {type(doc).__name__}"
        )
    expected_kind = kind or model.__name__
    problems: list[Problem] = []
    if doc.get("apiVersion") != API_VERSION:
        problems.append(
            Problem(
                source, ("apiVersion",), f"must be {API_VERSION!r}, got {doc.get('apiVersion')!r}"
            )
        )
    if doc.get("kind") != expected_kind:
        problems.append(
            Problem(source, ("kind",), f"must be {expected_kind!r}, got {doc.get('kind')!r}")
        )
    if problems:
        raise SpecError(problems)
    try:
        return model.model_validate(doc, context={"source": source})
    except ValidationError as exc:
        raise SpecError(problems_from_validation(exc, source)) from None


def load_resource(path: str | Path, model: type[M], *, kind: str | None = None) -> M:
    """Load exactly one resource of type ``model`` from a YAML/JSON file."""
    path = Path(path)
    source = str(path)
    docs = parse_yaml_documents(read_text(path), source)
    if len(docs) != 1:
        raise SpecError.one(source, f"expected exactly one YAML document, found {len(docs)}")
    return validate_document(docs[0], model, source, kind=kind)
