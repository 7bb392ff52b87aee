"""Check results and their renderings: text, JSON, SARIF 2.1.0 and JUnit XML."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from riskgrid.policy.library import severity_rank
from riskgrid.spec.errors import format_loc


def format_path(segments: list[str | int]) -> str:
    """``["spec", "containers", 0, "image"]`` → ``spec.containers[0].image``: the same field
    path notation as every other riskgrid error."""
    return format_loc(segments)


@dataclass(frozen=True)
class Violation:
    policy_id: str
    severity: str
    title: str
    kind: str
    namespace: str
    name: str
    container: str
    path: str
    message: str
    hint: str
    source: str = ""
    document: int = 0
    image: str = ""
    excepted_by: str = ""  # name of the PolicyException that waived it, when it was waived

    @property
    def object_ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


@dataclass(frozen=True)
class InputError:
    """Input that could not be checked: unparseable, no kind/apiVersion, unknown kind."""

    source: str
    document: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}[{self.document}]: {self.message}"


@dataclass
class CheckReport:
    objects: int = 0
    violations: list[Violation] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    waived: list[Violation] = field(default_factory=list)
    expired_exceptions: list[str] = field(default_factory=list)
    engine: str = "regorus"

    def failing(self, fail_on: str) -> list[Violation]:
        floor = severity_rank(fail_on)
        return [v for v in self.violations if severity_rank(v.severity) >= floor]

    def exit_code(self, fail_on: str = "low") -> int:
        if self.errors:
            return 2
        return 1 if self.failing(fail_on) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "objects": self.objects,
            "violations": [asdict(v) for v in self.violations],
            "waived": [asdict(v) for v in self.waived],
            "expiredExceptions": self.expired_exceptions,
            "errors": [asdict(e) for e in self.errors],
        }


def render_text(report: CheckReport) -> str:
    lines = []
    for e in report.errors:
        lines.append(f"ERROR {e}")
    for v in report.violations:
        where = f" container={v.container}" if v.container else ""
        lines.append(
            f"{v.severity.upper():8} {v.policy_id} {v.object_ref}{where} {v.path}: {v.message}"
        )
        lines.append(f"         fix: {v.hint}")
    for name in report.expired_exceptions:
        lines.append(f"EXPIRED  exception {name} no longer applies")
    lines.append(
        f"{report.objects} objects, {len(report.violations)} violations, "
        f"{len(report.waived)} waived by exceptions, {len(report.errors)} input errors"
    )
    return "\n".join(lines) + "\n"


def render_json(report: CheckReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def render_sarif(report: CheckReport, rules: list[dict[str, Any]]) -> str:
    results = []
    for v in report.violations:
        results.append(
            {
                "ruleId": v.policy_id,
                "level": _SARIF_LEVEL[v.severity],
                "message": {"text": f"{v.object_ref} {v.path}: {v.message}. Fix: {v.hint}"},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": v.source or "stdin"}},
                        "logicalLocations": [
                            {"fullyQualifiedName": f"{v.object_ref}.{v.path}", "kind": "object"}
                        ],
                    }
                ],
                "properties": {"severity": v.severity, "container": v.container},
            }
        )
    for e in report.errors:
        results.append(
            {
                "ruleId": "RG-INPUT",
                "level": "error",
                "message": {"text": str(e)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": e.source}}}],
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "riskgrid-policy", "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_junit(report: CheckReport) -> str:
    """One testcase per (object, violation) and per input error; clean objects pass."""
    cases = []
    for v in report.violations:
        name = quoteattr(f"{v.object_ref} {v.path}")
        cases.append(
            f"  <testcase classname={quoteattr(v.policy_id)} name={name}>"
            f"<failure type={quoteattr(v.severity)} message={quoteattr(v.message)}>"
            f"{escape(v.hint)}</failure></testcase>"
        )
    for e in report.errors:
        name = quoteattr(f"{e.source}[{e.document}]")
        cases.append(
            f'  <testcase classname="RG-INPUT" name={name}>'
            f"<error message={quoteattr(e.message)}/></testcase>"
        )
    if not cases:
        cases.append(f'  <testcase classname="riskgrid" name="{report.objects} objects clean"/>')
    failures = len(report.violations)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="riskgrid-policy" tests="{len(cases)}" failures="{failures}" '
        f'errors="{len(report.errors)}">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )
