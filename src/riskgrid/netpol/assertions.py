"""Tenant isolation assertions over a connectivity matrix.

Three guarantees, each checked for every tenant pod class:

1. **cross-tenant** — no connection, on any port, from a pod of one tenant to a pod of another
   (both directions are covered because every ordered pair is checked);
2. **metadata** — the instance metadata service (169.254.169.254, fd00:ec2::254) is unreachable;
3. **egress** — a tenant pod reaches only its allow-list (CIDR × ports), its own tenant's pods,
   and cluster DNS (``k8s-app=kube-dns`` in ``kube-system``) on 53/UDP and 53/TCP.

Each :class:`Finding` carries the path, the ports and the policy trace of one representative
connection, naming the policies (with their tier) that let it through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskgrid.netpol.atoms import MAX_PORT, IpRange, describe_ranges, parse_cidr
from riskgrid.netpol.matrix import ConnectivityMatrix

METADATA_ADDRESSES = ("169.254.169.254/32", "fd00:ec2::254/128")
DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_PORTS = (("UDP", 53, 53), ("TCP", 53, 53))


@dataclass(frozen=True)
class EgressAllowance:
    """One allow-list entry: a CIDR, a protocol (None: any) and a port range."""

    cidr: str
    protocol: str | None = None
    lo: int = 1
    hi: int = MAX_PORT

    @property
    def range(self) -> IpRange:
        return parse_cidr(self.cidr)


_ALLOWANCE = re.compile(
    r"^(?P<cidr>[^/\s]+/\d+)(?::(?P<lo>\d+)(?:-(?P<hi>\d+))?)?(?:/(?P<proto>TCP|UDP|SCTP))?$",
    re.IGNORECASE,
)


def parse_allowances(entries: Iterable[Any]) -> list[EgressAllowance]:
    """Allow-list entries as :class:`EgressAllowance`.

    Accepted forms: an ``EgressAllowance``; a string ``CIDR``, ``CIDR:PORT``, ``CIDR:LO-HI``,
    optionally suffixed ``/TCP``, ``/UDP`` or ``/SCTP`` (e.g. ``10.20.0.0/16:443/TCP``); or a
    mapping ``{"cidr" or "cidrs": …, "ports": [443, {"port": 8000, "endPort": 8080,
    "protocol": "TCP"}, …]}`` shaped like a NetworkPolicy egress rule (no ports: all ports).
    """
    out: list[EgressAllowance] = []
    for entry in entries:
        if isinstance(entry, EgressAllowance):
            out.append(entry)
        elif isinstance(entry, str):
            m = _ALLOWANCE.match(entry.strip())
            if not m:
                raise ValueError(f"allow-list entry {entry!r}: expected CIDR[:PORT[-END]][/PROTO]")
            parse_cidr(m["cidr"])
            lo = int(m["lo"]) if m["lo"] else 1
            hi = int(m["hi"]) if m["hi"] else (lo if m["lo"] else MAX_PORT)
            proto = m["proto"].upper() if m["proto"] else None
            out.append(EgressAllowance(m["cidr"], proto, lo, hi))
        elif isinstance(entry, Mapping):
            cidrs = entry.get("cidrs") or ([entry["cidr"]] if "cidr" in entry else [])
            if not cidrs:
                raise ValueError(f"allow-list entry {entry!r}: needs cidr or cidrs")
            ports = entry.get("ports") or [None]
            for cidr in cidrs:
                parse_cidr(cidr)
                for port in ports:
                    out.append(_mapping_port(cidr, port, entry.get("protocol")))
        else:
            raise ValueError(f"allow-list entry {entry!r}: unsupported type")
    return out


def _mapping_port(cidr: str, port: Any, default_proto: Any) -> EgressAllowance:
    if port is None:
        return EgressAllowance(cidr, default_proto)
    if isinstance(port, int):
        return EgressAllowance(cidr, default_proto or "TCP", port, port)
    if isinstance(port, Mapping):
        lo = int(port.get("port", 1))
        hi = int(
            port.get("endPort") or port.get("end_port") or (lo if "port" in port else MAX_PORT)
        )
        return EgressAllowance(cidr, port.get("protocol", default_proto or "TCP"), lo, hi)
    raise ValueError(f"allow-list port {port!r}: expected a number or a mapping")


@dataclass(frozen=True)
class Finding:
    """One broken guarantee: the path, its ports and the policies that let it through."""

    kind: str  # "cross-tenant" | "metadata" | "egress"
    tenant: str
    source: str
    destination: str
    ports: str  # every open port/protocol on this path, e.g. "TCP:1-52,54-65535; UDP:*"
    port: str  # the representative port atom the trace was taken on
    policies: tuple[str, ...]
    trace: str
    message: str

    def __str__(self) -> str:
        via = ", ".join(self.policies) if self.policies else "no policy (default allow)"
        return (
            f"{self.kind}: {self.message}: {self.source} -> {self.destination} [{self.ports}]; "
            f"let through by: {via}\n{self.trace}"
        )


@dataclass
class _Context:
    matrix: ConnectivityMatrix
    tenant_of_class: np.ndarray  # int[C], -1: no tenant
    names: list[str]
    findings: list[Finding] = field(default_factory=list)


def check_tenant_isolation(
    matrix: ConnectivityMatrix,
    tenants: Mapping[str, Iterable[str]],
    allowed_egress: Mapping[str, Sequence[Any]] | None = None,
) -> list[Finding]:
    """Check cross-tenant isolation, metadata-service denial and the egress allow-lists.

    ``tenants``: tenant name → its namespaces. ``allowed_egress``: tenant name → allow-list
    entries (see :func:`parse_allowances`); a tenant without an entry may reach no external
    address at all. Returns the findings (empty: every guarantee holds).
    """
    names = sorted(tenants)
    ns_tenant: dict[str, int] = {}
    for i, name in enumerate(names):
        for ns in tenants[name]:
            if ns in ns_tenant:
                raise ValueError(
                    f"namespace {ns} belongs to both {names[ns_tenant[ns]]} and {name}"
                )
            ns_tenant[ns] = i
    tenant_of_class = np.array(
        [ns_tenant.get(c.namespace, -1) for c in matrix.classes], dtype=np.int64
    )
    ctx = _Context(matrix, tenant_of_class, names)
    _cross_tenant(ctx)
    _cluster_egress(ctx)
    allowances = {name: parse_allowances((allowed_egress or {}).get(name, ())) for name in names}
    _external_egress(ctx, allowances)
    return ctx.findings


def _finding(
    ctx: _Context,
    kind: str,
    tenant: int,
    s: int,
    dst_kind: str,
    d_indexes: list[int],
    mask: np.ndarray,
    message: str,
) -> Finding:
    mx = ctx.matrix
    p = int(np.flatnonzero(mask)[0])
    decision = mx.decision("pod", s, dst_kind, d_indexes[0], p)
    dst = (
        mx.class_name(d_indexes[0])
        if dst_kind == "pod"
        else describe_ranges(mx.externals[x] for x in d_indexes)
    )
    return Finding(
        kind=kind,
        tenant=ctx.names[tenant],
        source=mx.class_name(s),
        destination=dst,
        ports=mx.port_text(mask),
        port=str(decision.port),
        policies=tuple(decision.policies()),
        trace=decision.explain(),
        message=message,
    )


def _cross_tenant(ctx: _Context) -> None:
    t = ctx.tenant_of_class
    pp = ctx.matrix.pod_to_pod
    open_pairs = pp.any(axis=2)
    cross = (t[:, None] >= 0) & (t[None, :] >= 0) & (t[:, None] != t[None, :])
    for s, d in zip(*np.nonzero(open_pairs & cross), strict=True):
        ctx.findings.append(
            _finding(
                ctx,
                "cross-tenant",
                int(t[s]),
                int(s),
                "pod",
                [int(d)],
                pp[s, d],
                f"tenant {ctx.names[t[s]]} reaches tenant {ctx.names[t[d]]}",
            )
        )


def _dns_mask(ctx: _Context, d: int) -> np.ndarray:
    mx = ctx.matrix
    cls = mx.classes[d]
    ok = np.zeros(len(mx.ports), dtype=bool)
    if cls.namespace == DNS_NAMESPACE and all(
        cls.labels.get(k) == v for k, v in DNS_LABELS.items()
    ):
        for i, a in enumerate(mx.ports):
            ok[i] = any(a.protocol == pr and lo <= a.lo and a.hi <= hi for pr, lo, hi in DNS_PORTS)
    return ok


def _cluster_egress(ctx: _Context) -> None:
    """Tenant pods → in-cluster pods that are neither the same tenant nor DNS on port 53."""
    t = ctx.tenant_of_class
    pp = ctx.matrix.pod_to_pod
    for s in np.flatnonzero(t >= 0):
        for d in np.flatnonzero(pp[s].any(axis=1)):
            if t[d] >= 0:
                continue  # same tenant is fine; another tenant is a cross-tenant finding
            extra = pp[s, d] & ~_dns_mask(ctx, int(d))
            if extra.any():
                ctx.findings.append(
                    _finding(
                        ctx,
                        "egress",
                        int(t[s]),
                        int(s),
                        "pod",
                        [int(d)],
                        extra,
                        f"tenant {ctx.names[t[s]]} reaches a non-tenant pod beyond DNS",
                    )
                )


def _external_egress(ctx: _Context, allowances: Mapping[str, list[EgressAllowance]]) -> None:
    mx = ctx.matrix
    t = ctx.tenant_of_class
    pe = mx.pod_to_external
    metadata = [parse_cidr(c) for c in METADATA_ADDRESSES]
    is_metadata = np.array([any(a.overlaps(md) for md in metadata) for a in mx.externals])
    for s in np.flatnonzero(t >= 0):
        name = ctx.names[t[s]]
        reach = pe[s]  # [X, P]
        md = np.flatnonzero(reach.any(axis=1) & is_metadata)
        if md.size:
            mask = reach[md].any(axis=0)
            ctx.findings.append(
                _finding(
                    ctx,
                    "metadata",
                    int(t[s]),
                    int(s),
                    "ext",
                    [int(x) for x in md],
                    mask,
                    f"tenant {name} reaches the instance metadata service",
                )
            )
        allowed = _allowed_mask(mx, allowances.get(name, []))  # [X, P]
        extra = reach & ~allowed
        extra[is_metadata] = False  # reported above
        groups: dict[bytes, list[int]] = {}
        for x in np.flatnonzero(extra.any(axis=1)):
            groups.setdefault(extra[x].tobytes(), []).append(int(x))
        for key, xs in groups.items():
            mask = np.frombuffer(key, dtype=bool)
            ctx.findings.append(
                _finding(
                    ctx,
                    "egress",
                    int(t[s]),
                    int(s),
                    "ext",
                    xs,
                    mask,
                    f"tenant {name} reaches addresses outside its egress allow-list",
                )
            )


def _allowed_mask(mx: ConnectivityMatrix, allowances: list[EgressAllowance]) -> np.ndarray:
    """bool[X, P]: (atom, port) pairs wholly inside some allowance."""
    out = np.zeros((len(mx.externals), len(mx.ports)), dtype=bool)
    for al in allowances:
        rng = al.range
        xs = np.array([rng.contains(a) for a in mx.externals])
        ps = np.array(
            [
                (al.protocol is None or a.protocol == al.protocol.upper())
                and (
                    (al.lo <= a.lo and a.hi <= al.hi)
                    if a.has_ports
                    else (al.lo, al.hi) == (1, MAX_PORT)
                )
                for a in mx.ports
            ]
        )
        out |= xs[:, None] & ps[None, :]
    return out
