"""The policy library: Rego modules plus the metadata that says what each one is for.

Each policy is ``rego/policies/<slug>.rego`` (the logic) and ``metadata/<slug>.yaml`` (id,
title, severity, rationale, remediation, threat-model control ids, catalogue rows, parameter
schema and defaults, the kinds it reads, and its own test cases).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema

from riskgrid.spec.yamlbounds import load_one

METADATA_DIR = Path(__file__).parent / "metadata"
REGO_DIR = Path(__file__).parent / "rego"

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Case:
    """One test case of a policy: an object and whether the policy must allow it."""

    name: str
    expect: Literal["allow", "deny"]
    spec: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    # For deny cases: the violations that must be among those reported (path/container).
    violations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Policy:
    id: str
    slug: str
    title: str
    severity: Severity
    category: str
    rationale: str
    remediation: str
    controls: tuple[str, ...]
    catalogue: tuple[int, ...]
    kinds: tuple[str, ...]
    scope: Literal["all", "tenant"]
    pss_level: str | None
    params_schema: dict[str, Any]
    defaults: dict[str, Any]
    cases: tuple[Case, ...]
    gatekeeper: tuple[str, ...] = ()

    @property
    def rego_path(self) -> Path:
        return REGO_DIR / "policies" / f"{self.slug}.rego"

    def params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults with ``overrides`` on top (top-level keys replace, they do not merge)."""
        return {**self.defaults, **(overrides or {})}

    def validate_params(self, params: dict[str, Any]) -> list[str]:
        """Problems with ``params`` against this policy's schema, as ``field: reason``."""
        validator = jsonschema.Draft202012Validator(self.params_schema)
        out = []
        for err in sorted(validator.iter_errors(params), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path)
            out.append(f"{where}: {err.message}" if where else err.message)
        return out


@dataclass(frozen=True)
class Library:
    policies: tuple[Policy, ...]

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def get(self, policy_id: str) -> Policy:
        for p in self.policies:
            if p.id == policy_id:
                return p
        raise KeyError(policy_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.policies)

    def engine_key(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """(id, module slug, kinds) of every policy: what an engine's driver is built from."""
        return tuple((p.id, p.slug, p.kinds) for p in self.policies)


def _case(raw: dict[str, Any]) -> Case:
    spec = {k: v for k, v in raw.items() if k not in {"name", "expect", "params", "violations"}}
    return Case(
        name=raw["name"],
        expect=raw["expect"],
        spec=spec,
        params=raw.get("params", {}),
        violations=tuple(raw.get("violations", ())),
    )


def _policy(slug: str, raw: dict[str, Any]) -> Policy:
    schema = raw.get("params", {}).get("schema") or {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    return Policy(
        id=raw["id"],
        slug=slug,
        title=raw["title"],
        severity=raw["severity"],
        category=raw["category"],
        rationale=" ".join(raw["rationale"].split()),
        remediation=" ".join(raw["remediation"].split()),
        controls=tuple(raw["controls"]),
        catalogue=tuple(raw.get("catalogue", ())),
        kinds=tuple(raw["kinds"]),
        scope=raw.get("scope", "all"),
        pss_level=raw.get("pss_level"),
        params_schema=schema,
        defaults=raw.get("params", {}).get("defaults", {}),
        cases=tuple(_case(c) for c in raw["cases"]),
        gatekeeper=tuple(raw.get("gatekeeper", ())),
    )


@cache
def load_library() -> Library:
    """Every shipped policy, ordered by id; metadata is read once per process."""
    policies = []
    for path in sorted(METADATA_DIR.glob("*.yaml")):
        raw = load_one(path.read_text(encoding="utf-8"), aliases=True)  # shipped, capped
        policies.append(_policy(path.stem, raw))
    policies.sort(key=lambda p: p.id)
    return Library(tuple(policies))
