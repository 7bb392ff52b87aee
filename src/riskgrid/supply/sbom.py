"""CycloneDX SBOMs: the components an image declares, and the banned ones among them."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from riskgrid.supply.dsse import AttestationError

#: in-toto predicate types accepted for an SBOM attestation (CycloneDX's own, with or without
#: a spec version suffix, as cosign and syft write them).
SBOM_PREDICATES = ("https://cyclonedx.org/bom",)


def is_sbom_predicate(predicate_type: str) -> bool:
    return any(predicate_type == p or predicate_type.startswith(p + "/") for p in SBOM_PREDICATES)


def component_purls(bom: Any) -> list[str]:
    """Every purl in a CycloneDX JSON BOM, nested components included."""
    if not isinstance(bom, dict) or bom.get("bomFormat") != "CycloneDX":
        raise AttestationError("SBOM predicate is not a CycloneDX JSON document (bomFormat)")
    comps = bom.get("components", [])
    if not isinstance(comps, list):
        raise AttestationError("SBOM components is not a list")
    out: list[str] = []
    stack = list(comps)
    while stack:
        c = stack.pop()
        if not isinstance(c, dict):
            raise AttestationError("SBOM component is not an object")
        if isinstance(c.get("purl"), str):
            out.append(c["purl"])
        nested = c.get("components") or []
        if not isinstance(nested, list):
            raise AttestationError("SBOM component's components is not a list")
        stack.extend(nested)
    return sorted(out)


@dataclass(frozen=True)
class BannedHit:
    purl: str
    pattern: str
    reason: str


def banned(purls: Iterable[str], rules: Iterable[Any]) -> list[BannedHit]:
    """Components matching a banned purl glob (case-sensitive, as purls are)."""
    hits = []
    rules = list(rules)
    for purl in purls:
        for rule in rules:
            if fnmatch.fnmatchcase(purl, rule.purl):
                hits.append(BannedHit(purl, rule.purl, rule.reason))
    return hits
