"""``PolicyException``: an approved, scoped, time-boxed waiver of one policy.

An exception names exactly one policy and a scope; every scope field that is set must match
for a violation to be waived, so an exception never reaches past what it names (excepting one
container leaves its siblings checked). It stops applying the day after ``expires``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from riskgrid.spec.base import Resource, Strict
from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import read_text, validate_document


class ExceptionScope(Strict):
    namespace: str | None = Field(None, description="Namespace of the excepted object.")
    kind: str | None = Field(None, description="Kind of the excepted object, e.g. RayCluster.")
    name: str | None = Field(None, description="Name of the excepted object.")
    container: str | None = Field(None, description="Only this container of the object.")
    image: str | None = Field(None, description="Only containers running exactly this image.")
    cves: list[str] | None = Field(
        None,
        description="Only these vulnerability ids (CVE-/GHSA-…) found in the image: the image "
        "supply-chain gate (RG-IMG-005) waives exactly these findings.",
    )

    @model_validator(mode="after")
    def _not_everything(self) -> ExceptionScope:
        if self.namespace is None and self.name is None:
            raise ValueError("scope must name at least a namespace or an object name")
        return self


class PolicyExceptionSpec(Strict):
    policy: str = Field(pattern=r"^RG-[A-Z]+-\d{3}$", description="Policy id, e.g. RG-PSS-004.")
    scope: ExceptionScope
    justification: str = Field(min_length=20, description="Why the risk is accepted.")
    approver: str = Field(min_length=3, description="Who accepted the risk (not the requester).")
    expires: dt.date = Field(description="Last day the exception applies (inclusive).")


class PolicyException(Resource):
    kind: Literal["PolicyException"] = "PolicyException"
    spec: PolicyExceptionSpec

    def active(self, today: dt.date) -> bool:
        return today <= self.spec.expires

    def days_left(self, today: dt.date) -> int:
        return (self.spec.expires - today).days


class _DatesAsText(yaml.SafeLoader):
    """YAML dates stay strings so that pydantic reports a bad date (2026-13-01) by field."""


_DatesAsText.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _documents(text: str, source: str) -> list[Any]:
    from riskgrid.spec.yamlbounds import load_spec_file

    return [d for d in load_spec_file(text, source, loader=_DatesAsText) if d is not None]


def load_exceptions(paths: list[str | Path]) -> list[PolicyException]:
    """Every PolicyException in the given files (multi-document YAML allowed)."""
    out: list[PolicyException] = []
    problems = []
    for path in paths:
        source = str(path)
        for i, doc in enumerate(_documents(read_text(Path(path)), source)):
            try:
                out.append(validate_document(doc, PolicyException, f"{source}[{i}]"))
            except SpecError as exc:
                problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return out
