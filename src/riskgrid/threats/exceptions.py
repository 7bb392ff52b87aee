"""Reading the PolicyException register for the exceptions metrics.

The PolicyException resource belongs to the policy area (``riskgrid.spec.exceptions``). When
that model is importable each file is validated with it; either way only what the metrics need
is read — the name, the policies it exempts, and the expiry date — and a file without a
readable expiry is an error, because an exception that cannot expire is exactly what the
register exists to prevent.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import parse_yaml_documents, read_text, validate_document
from riskgrid.threats.metrics import ExceptionRecord

_EXPIRY_FIELDS = ("expires", "expiresAt", "expiry", "expiration", "until", "validUntil")
_POLICY_FIELDS = ("policies", "policyIds", "policy", "policyId", "policy_id", "policy_ids")


def _exception_model() -> Any:
    try:
        return importlib.import_module("riskgrid.spec.exceptions").PolicyException
    except (ImportError, AttributeError):
        return None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def _policies(spec: dict) -> tuple[str, ...]:
    for key in _POLICY_FIELDS:
        value = spec.get(key)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(
                str(v.get("id") or v.get("policy") or v) if isinstance(v, dict) else str(v)
                for v in value
            )
    return ()


def read_exceptions(dirs: list[Path]) -> list[ExceptionRecord]:
    """Every PolicyException document in ``*.yaml`` files under ``dirs`` (missing dirs: none)."""
    model = _exception_model()
    out: list[ExceptionRecord] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.rglob("*.yaml")):
            source = str(path)
            for doc in parse_yaml_documents(read_text(path), source):
                if not isinstance(doc, dict) or doc.get("kind") != "PolicyException":
                    continue
                if model is not None:
                    validate_document(doc, model, source, kind="PolicyException")
                spec = doc.get("spec") or {}
                expires = next(
                    (day for k in _EXPIRY_FIELDS if (day := _as_date(spec.get(k))) is not None),
                    None,
                )
                if expires is None:
                    raise SpecError.one(source, "no readable expiry date", ("spec", "expires"))
                name = str((doc.get("metadata") or {}).get("name", path.stem))
                out.append(ExceptionRecord(name, _policies(spec), expires, source))
    return out
