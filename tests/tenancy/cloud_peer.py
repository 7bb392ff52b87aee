"""The IAM corpus under tests/fixtures/iam judged by riskgrid's guardrails and by parliament."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "iam"


def corpus() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(CORPUS.glob("*.json"))}


def as_ack_policy(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A corpus document as the ACK Policy object riskgrid would render for its tenant."""
    return {
        "apiVersion": "iam.services.k8s.aws/v1alpha1",
        "kind": "Policy",
        "metadata": {
            "name": name,
            "namespace": entry["tenant"],
            "labels": {"riskgrid.dev/tenant": entry["tenant"]},
        },
        "spec": {"name": name, "policyDocument": json.dumps(entry["document"])},
    }


def ours(entries: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Corpus name → the RG-AWS rules that fire (one batch through the policy library)."""
    from riskgrid.policy.check import check_objects

    names = list(entries)
    report = check_objects([as_ack_policy(n, entries[n]) for n in names])
    out: dict[str, set[str]] = {n: set() for n in names}
    for v in report.violations:
        if v.policy_id.startswith("RG-AWS"):
            out[v.name].add(v.policy_id)
    return {n: sorted(ids) for n, ids in out.items()}


def parliament_issues(entries: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Corpus name → parliament's finding types (community auditors on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources (deprecated)
        from parliament import analyze_policy_string

        return {
            n: sorted({f.issue for f in analyze_policy_string(
                json.dumps(e["document"]), include_community_auditors=True).findings})
            for n, e in entries.items()
        }  # fmt: skip
