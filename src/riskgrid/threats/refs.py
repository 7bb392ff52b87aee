"""Typed references from controls to the repository: parsing and the kinds that exist.

A reference is ``"<kind>: <target>"``. Implementation kinds say *where* a control lives:

- ``policy: RG-POD-001`` — a policy id of the policy library (``riskgrid.policy.library``);
- ``bundle: Kind[/name-glob][{label=value}]`` — the rendered example tenant bundle contains such
  an object (so the feature is checked in what tenancy actually renders, not in a name list);
- ``api: METHOD /path`` — a route of the service's FastAPI application;
- ``code: package.module:attribute`` — an importable Python object.

Verification kinds say *how it is proven*; each resolves to exactly one pytest node id, which
is what :mod:`riskgrid.threats.evidence` runs or looks up in JUnit XML:

- ``test: tests/…::test_x`` — a pytest node id;
- ``isolation: tests/…::test_x`` — a pytest node id of a tenant-isolation proof (these feed the
  isolation pass-rate metric);
- ``policy-case: RG-POD-001/case-name`` — a test case of a library policy, run by the policy
  suite's parametrised test whose node id names the policy and the case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMPLEMENTATION_KINDS = ("policy", "bundle", "api", "code")
VERIFICATION_KINDS = ("test", "isolation", "policy-case")

_REF = re.compile(r"^(?P<kind>[a-z-]+):\s*(?P<target>\S.*)$")
_BUNDLE = re.compile(
    r"^(?P<kind>[A-Za-z]+)(?:/(?P<name>[^{}\s]+))?(?:\{(?P<key>[^=}]+)=(?P<value>[^}]*)\})?$"
)
_API = re.compile(r"^(?P<method>GET|POST|PUT|PATCH|DELETE)\s+(?P<path>/\S*)$")
_CODE = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")
_POLICY_CASE = re.compile(r"^(?P<policy>[A-Za-z0-9_.-]+)/(?P<case>\S.*)$")


@dataclass(frozen=True)
class Ref:
    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.target}"


def parse_ref(text: str, allowed: tuple[str, ...]) -> Ref:
    """Parse and syntax-check one reference; raises ValueError with the reason."""
    m = _REF.match(text.strip())
    if not m or m["kind"] not in allowed:
        raise ValueError(f"must be '<kind>: <target>' with kind one of {', '.join(allowed)}")
    ref = Ref(m["kind"], m["target"].strip())
    pattern, shape = {
        "bundle": (_BUNDLE, "Kind[/name-glob][{label=value}]"),
        "api": (_API, "METHOD /path"),
        "code": (_CODE, "package.module:attribute"),
        "policy-case": (_POLICY_CASE, "<policy id>/<case name>"),
    }.get(ref.kind, (None, ""))
    if pattern is not None and not pattern.match(ref.target):
        raise ValueError(f"{ref.kind} reference must look like '{shape}'")
    if ref.kind in ("test", "isolation") and "::" not in ref.target:
        raise ValueError("must be a pytest node id like tests/area/test_x.py::test_name")
    return ref


def bundle_parts(target: str) -> tuple[str, str | None, tuple[str, str] | None]:
    m = _BUNDLE.match(target)
    assert m is not None  # parse_ref checked the shape
    label = (m["key"].strip(), m["value"].strip()) if m["key"] else None
    return m["kind"], m["name"], label


def api_parts(target: str) -> tuple[str, str]:
    m = _API.match(target)
    assert m is not None
    return m["method"], m["path"]


def code_parts(target: str) -> tuple[str, str]:
    m = _CODE.match(target)
    assert m is not None
    return m["module"], m["attr"]


def policy_case_parts(target: str) -> tuple[str, str]:
    m = _POLICY_CASE.match(target)
    assert m is not None
    return m["policy"], m["case"]
