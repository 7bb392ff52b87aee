"""Which resources a rendered IAM policy can reach, and whether two tenants' reaches meet.

IAM matches resource ARNs against patterns with ``*`` (any run of characters) and ``?`` (one
character); in the first five ARN fields a wildcard stays inside its field, in the resource
part it may span ``/`` and ``:``. Two tenants are isolated in the cloud when no ARN matches a
pattern of one and a pattern of the other, which is decided exactly here as the emptiness of
the intersection of two wildcard languages (no sampling of example ARNs).

Conditions narrow a statement's reach where riskgrid relies on them: an S3 bucket ARN with a
``StringLike`` ``s3:prefix`` condition reaches ``bucket/<prefix>`` (and without one, every key
of the bucket). Other conditions (``aws:SourceVpce``, principal tags) do not change *which*
resources are reached, so they are ignored here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

ACK_IAM = "iam.services.k8s.aws/v1alpha1"
TENANT_LABEL = "riskgrid.dev/tenant"


def _fields(arn: str) -> list[str]:
    parts = arn.split(":", 5)
    return parts + [""] * (6 - len(parts))


def _glob_overlap(a: str, b: str) -> bool:
    """Some string matches both wildcard patterns (``*``, ``?``)."""

    @cache
    def ov(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return ov(i + 1, j) or (j < len(b) and ov(i, j + 1))
        if j < len(b) and b[j] == "*":
            return ov(i, j + 1) or (i < len(a) and ov(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            return ov(i + 1, j + 1)
        return False

    return ov(0, 0)


def overlaps(a: str, b: str) -> bool:
    """Some ARN matches both resource patterns (``*`` alone matches everything)."""
    if a == "*" or b == "*":
        return True
    return all(_glob_overlap(x, y) for x, y in zip(_fields(a), _fields(b), strict=True))


def matches(pattern: str, arn: str) -> bool:
    """``arn`` (no wildcards) matches the resource ``pattern`` as IAM matches it."""
    return overlaps(pattern, arn)


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def reach(document: dict[str, Any]) -> list[tuple[str, str]]:
    """``(statement id, resource pattern)`` for every resource an Allow statement reaches."""
    out: list[tuple[str, str]] = []
    for n, st in enumerate(_as_list(document.get("Statement", []))):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        sid = str(st.get("Sid") or f"Statement[{n}]")
        if "NotResource" in st:
            out.append((sid, "*"))  # everything but a list: treat as everything
        prefixes = _as_list(
            ((st.get("Condition") or {}).get("StringLike") or {}).get("s3:prefix", [])
        )
        for r in _as_list(st.get("Resource", [])):
            r = str(r)
            f = _fields(r)
            if f[2] == "s3" and "/" not in f[5] and r != "*":
                out.extend((sid, f"{r}/{p}") for p in (prefixes or ["*"]))
            else:
                out.append((sid, r))
    return out


@dataclass(frozen=True)
class CrossTenantReach:
    tenant: str
    policy: str
    statement: str
    pattern: str
    other_tenant: str
    other_policy: str
    other_pattern: str

    def __str__(self) -> str:
        return (
            f"{self.tenant}'s {self.policy} ({self.statement}) reaches {self.pattern!r}, which "
            f"overlaps {self.other_tenant}'s {self.other_policy} resource {self.other_pattern!r}"
        )


def policy_documents(objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(tenant, Policy object ref, document)`` of every ACK IAM Policy among ``objects``."""
    out = []
    for o in objects:
        if o.get("kind") != "Policy" or o.get("apiVersion") != ACK_IAM:
            continue
        meta = o.get("metadata") or {}
        tenant = (meta.get("labels") or {}).get(TENANT_LABEL, "")
        try:
            doc = json.loads((o.get("spec") or {}).get("policyDocument", "{}"))
        except ValueError:
            doc = {}
        ref = f"Policy/{meta.get('namespace', '')}/{meta.get('name', '')}"
        out.append((tenant, ref, doc if isinstance(doc, dict) else {}))
    return out


def cross_tenant_reach(objects: list[dict[str, Any]]) -> list[CrossTenantReach]:
    """Every (ordered) pair of statements of different tenants whose resources overlap."""
    docs = [(t, ref, reach(doc)) for t, ref, doc in policy_documents(objects)]
    out = []
    for t, ref, mine in docs:
        for u, other_ref, theirs in docs:
            if u == t:
                continue
            for sid, p in mine:
                for _, q in theirs:
                    if overlaps(p, q):
                        out.append(CrossTenantReach(t, ref, sid, p, u, other_ref, q))
    return out
