"""Vulnerability reports: Trivy JSON, Grype JSON and CycloneDX (reports and VEX) → findings.

A report reaches the gate inside a signed attestation with cosign's vulnerability predicate
(``https://cosign.sigstore.dev/attestation/vuln/v1``: ``scanner.uri``, ``scanner.result`` =
the scanner's own JSON, ``metadata.scanFinishedOn``); VEX documents (CycloneDX with
``analysis.state``) come with the predicate type ``https://cyclonedx.org/vex``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.trust import SEVERITIES
from riskgrid.supply.dsse import AttestationError

VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"
VEX_PREDICATE = "https://cyclonedx.org/vex"
#: CycloneDX analysis states that say the image is not affected by a vulnerability.
NOT_AFFECTED = frozenset({"not_affected", "false_positive", "resolved"})


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # one of SEVERITIES
    package: str


def _severity(text: Any) -> str:
    s = str(text or "unknown").strip().lower()
    return s if s in SEVERITIES else "unknown"


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def _list(doc: Any, key: str, what: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise AttestationError(f"{what}: {key} is not a list")
    return value


def parse_trivy(doc: dict[str, Any]) -> list[Finding]:
    out = []
    for r in _list(doc, "Results", "Trivy report"):
        if not isinstance(r, dict):
            raise AttestationError("Trivy report: a result is not an object")
        for v in _list(r, "Vulnerabilities", "Trivy report"):
            if not isinstance(v, dict) or not isinstance(v.get("VulnerabilityID"), str):
                raise AttestationError("Trivy report: a vulnerability lacks VulnerabilityID")
            pkg = f"{v.get('PkgName', '?')}@{v.get('InstalledVersion', '?')}"
            out.append(Finding(v["VulnerabilityID"], _severity(v.get("Severity")), pkg))
    return out


def parse_grype(doc: dict[str, Any]) -> list[Finding]:
    out = []
    for m in _list(doc, "matches", "Grype report"):
        vuln = m.get("vulnerability") if isinstance(m, dict) else None
        if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
            raise AttestationError("Grype report: a match lacks vulnerability.id")
        art = m.get("artifact") if isinstance(m.get("artifact"), dict) else {}
        pkg = f"{art.get('name', '?')}@{art.get('version', '?')}"
        out.append(Finding(vuln["id"], _severity(vuln.get("severity")), pkg))
    return out


def parse_cyclonedx(doc: dict[str, Any]) -> tuple[list[Finding], set[str]]:
    """(findings, ids stated not affected) of a CycloneDX vulnerability report or VEX."""
    findings, cleared = [], set()
    for v in _list(doc, "vulnerabilities", "CycloneDX document"):
        if not isinstance(v, dict) or not isinstance(v.get("id"), str):
            raise AttestationError("CycloneDX document: a vulnerability lacks id")
        state = (
            (v.get("analysis") or {}).get("state") if isinstance(v.get("analysis"), dict) else None
        )
        if state in NOT_AFFECTED:
            cleared.add(v["id"])
            continue
        ratings = [r for r in _list(v, "ratings", "CycloneDX document") if isinstance(r, dict)]
        sev = max((_severity(r.get("severity")) for r in ratings), key=rank, default="unknown")
        refs = [a.get("ref", "?") for a in _list(v, "affects", "CycloneDX") if isinstance(a, dict)]
        findings.append(Finding(v["id"], sev, ",".join(map(str, refs)) or "?"))
    return findings, cleared


def scanner_format(result: Any) -> str:
    if not isinstance(result, dict):
        raise AttestationError("scanner result is not a JSON object")
    if ("SchemaVersion" in result and "Results" in result) or "ArtifactName" in result:
        return "trivy"
    if "matches" in result and isinstance(result.get("descriptor"), dict):
        return "grype"
    if result.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    raise AttestationError("scanner result is neither Trivy JSON, Grype JSON nor CycloneDX")


@dataclass(frozen=True)
class Report:
    scanner: str
    finished: dt.datetime
    findings: list[Finding]
    cleared: set[str]


def _timestamp(text: Any, what: str) -> dt.datetime:
    if not isinstance(text, str):
        raise AttestationError(f"{what} is missing")
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AttestationError(f"{what} {text!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise AttestationError(f"{what} {text!r} has no time zone")
    return t


def parse_vuln_predicate(predicate: Any) -> Report:
    """A cosign vuln/v1 predicate → the scan's time and findings."""
    if not isinstance(predicate, dict) or not isinstance(predicate.get("scanner"), dict):
        raise AttestationError("vulnerability predicate lacks scanner")
    raw_meta = predicate.get("metadata")
    meta = raw_meta if isinstance(raw_meta, dict) else {}
    finished = _timestamp(meta.get("scanFinishedOn"), "metadata.scanFinishedOn")
    result = predicate["scanner"].get("result")
    fmt = scanner_format(result)
    if fmt == "trivy":
        return Report("trivy", finished, parse_trivy(result), set())
    if fmt == "grype":
        return Report("grype", finished, parse_grype(result), set())
    findings, cleared = parse_cyclonedx(result)
    return Report("cyclonedx", finished, findings, cleared)


def parse_vex_predicate(predicate: Any) -> set[str]:
    """Vulnerability ids a CycloneDX VEX states the image is not affected by."""
    if not isinstance(predicate, dict) or predicate.get("bomFormat") != "CycloneDX":
        raise AttestationError("VEX predicate is not a CycloneDX document")
    return parse_cyclonedx(predicate)[1]
