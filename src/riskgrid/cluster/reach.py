"""Reachability on a snapshot: running pods with their real addresses, and the isolation proof.

The network world of a snapshot is its Namespaces, running Pods (with ``status.podIPs``) and
policies. Workload templates are left out: their running pods are the truth (a Deployment
scaled to zero runs nothing). Pods that have finished (Succeeded/Failed) are left out, and
host-network pods too (NetworkPolicy does not apply to them; Calico host endpoints are not
modelled) — each such skip is listed. Verdicts that depend on a pod without an address are
flagged (``flag_unknown_addresses``), never reported as allowed or isolated (D-#16.7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from riskgrid.cluster.snapshot import Snapshot
from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.assertions import Finding, check_tenant_isolation
from riskgrid.netpol.matrix import ConnectivityMatrix
from riskgrid.tenancy import constants as c

#: Kinds the network analysis needs from a snapshot.
_NETWORK_KINDS = frozenset(
    {
        "Namespace",
        "Pod",
        "NetworkPolicy",
        "GlobalNetworkPolicy",
        "Tier",
        "GlobalNetworkSet",
        "NetworkSet",
    }
)


@dataclass
class SnapshotWorld:
    objects: list[dict[str, Any]]
    sources: list[str]
    skipped: list[str] = field(default_factory=list)


def network_world(snap: Snapshot) -> SnapshotWorld:
    world = SnapshotWorld([], [])
    for so in snap.objects:
        obj = so.obj
        if obj.get("kind") not in _NETWORK_KINDS:
            continue
        if obj.get("kind") == "Pod":
            phase = (obj.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                world.skipped.append(f"{so.ref}: {phase}, not running")
                continue
            if (obj.get("spec") or {}).get("hostNetwork") is True:
                world.skipped.append(f"{so.ref}: host network, outside pod network policy")
                continue
        world.objects.append(obj)
        world.sources.append(f"{so.source}[{so.index}] {so.ref}")
    return world


def snapshot_matrix(snap: Snapshot) -> tuple[ConnectivityMatrix, SnapshotWorld]:
    """The connectivity matrix of the running pods; no cluster DNS is assumed (it is there)."""
    world = network_world(snap)
    mx = connectivity(
        world.objects, sources=world.sources, add_cluster_dns=False, flag_unknown_addresses=True
    )
    return mx, world


def tenants_of(snap: Snapshot) -> dict[str, set[str]]:
    """Tenant → namespaces, from the riskgrid tenant label on the live Namespaces."""
    out: dict[str, set[str]] = {}
    for so in snap.objects:
        if so.obj.get("kind") != "Namespace":
            continue
        meta = so.obj.get("metadata") or {}
        tenant = (meta.get("labels") or {}).get(c.TENANT_LABEL)
        if tenant and tenant != c.PLATFORM_TENANT:
            out.setdefault(tenant, set()).add(str(meta.get("name")))
    return out


@dataclass
class IsolationResult:
    tenants: dict[str, set[str]]
    findings: list[Finding]
    #: Cross-tenant pod pairs whose verdict depends on unknown addresses.
    undecided: list[tuple[str, str]]
    partial: str = ""

    @property
    def holds(self) -> bool | None:
        """True: proven on this state; False: broken; None: undecided (addresses missing or
        a partial snapshot)."""
        if any(f.kind == "cross-tenant" for f in self.findings):
            return False
        if self.undecided or self.partial:
            return None
        return True

    def verdict(self) -> str:
        return {True: "HOLDS", False: "BROKEN", None: "UNDECIDED"}[self.holds]


def isolation(
    snap: Snapshot,
    matrix: ConnectivityMatrix | None = None,
    tenants: dict[str, set[str]] | None = None,
    allowed_egress: dict[str, list[str]] | None = None,
) -> IsolationResult:
    """Cross-tenant isolation (and the egress guarantees) on the live state."""
    mx = matrix if matrix is not None else snapshot_matrix(snap)[0]
    tenancy = tenants if tenants is not None else tenants_of(snap)
    findings = list(check_tenant_isolation(mx, tenancy, allowed_egress))
    doubt = mx.pod_to_pod_doubt
    if doubt is not None:
        # A path open only under the unknown-address model is undecided, not proven open.
        index = {mx.class_name(i): i for i in range(mx.n_classes)}
        findings = [
            f
            for f in findings
            if not (
                f.kind == "cross-tenant"
                and f.source in index
                and f.destination in index
                and doubt[index[f.source], index[f.destination]]
            )
        ]
    owner = {ns: t for t, nss in tenancy.items() for ns in nss}
    undecided = [
        (s, d)
        for s, d in mx.undecided()
        if owner.get(s.split("/", 1)[0])
        and owner.get(d.split("/", 1)[0])
        and owner[s.split("/", 1)[0]] != owner[d.split("/", 1)[0]]
    ]
    return IsolationResult(tenancy, findings, undecided, snap.banner())
