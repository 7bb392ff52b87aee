"""The connectivity matrix and its queries: allowed?, why?, and the list of open paths.

Endpoints are pods (``namespace/name``; workloads appear as their representative pods) and
external address atoms (shown as CIDRs). A pod→pod connection is allowed when the source's
egress *and* the destination's ingress both allow it; traffic to or from an external address
is decided by the pod side alone (the outside is not policed here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from riskgrid.netpol import model as m
from riskgrid.netpol.atoms import IpRange, PortAtom, describe_ranges, parse_cidr, summarize_ports
from riskgrid.netpol.evaluation import ALLOW, BoolArray, Int8Array, Program, Step, trace


@dataclass
class PodClass:
    """Pods that no policy can tell apart (same namespace, labels and named ports)."""

    index: int
    namespace: str
    labels: dict[str, str]
    named_ports: frozenset[tuple[str, str, int]]
    pods: list[m.Pod] = field(default_factory=list)
    #: Indexes of the address atoms the pods' addresses lie in; None: addresses unknown.
    addresses: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Verdict:
    """One direction's decision (egress at the source, ingress at the destination)."""

    direction: str
    action: str
    steps: tuple[Step, ...]

    @property
    def deciding(self) -> Step:
        return self.steps[-1]


@dataclass(frozen=True)
class Decision:
    """Why ``src`` may or may not reach ``dst`` on ``port``."""

    src: str
    dst: str
    port: PortAtom
    allowed: bool
    egress: Verdict | None  # None: the source is outside the cluster
    ingress: Verdict | None  # None: the destination is outside the cluster
    #: The verdict could change once unknown pod addresses are known (never "allowed" or
    #: "denied" for sure then).
    depends_on_addresses: bool = False
    #: The endpoints of this decision whose addresses are unknown (when it depends on them).
    unaddressed: tuple[str, ...] = ()

    def policies(self) -> list[str]:
        """The policies (with their tier) whose rules decided, in evaluation order."""
        out: list[str] = []
        for v in (self.egress, self.ingress):
            for s in v.steps if v else ():
                if s.policy and s.policy not in out:
                    out.append(s.policy)
        return out

    def explain(self) -> str:
        verdict = "ALLOWED" if self.allowed else "DENIED"
        if self.depends_on_addresses:
            who = ", ".join(self.unaddressed) or "a pod"
            verdict = (
                f"UNDECIDED (depends on pod addresses not in the input: {who} has no "
                f"status.podIP; with it outside every ipBlock: {verdict})"
            )
        lines = [f"{self.src} -> {self.dst} {self.port}: {verdict}"]
        for v in (self.egress, self.ingress):
            if v is None:
                continue
            lines.append(f"  {v.direction}: {v.action}")
            lines.extend(f"    {s}" for s in v.steps)
        return "\n".join(lines)


@dataclass(frozen=True)
class Connection:
    src: str
    dst: str
    ports: str
    atoms: tuple[PortAtom, ...]


class QueryError(ValueError):
    """A query names an endpoint or port the matrix does not know."""


@dataclass
class ConnectivityMatrix:
    cluster: m.Cluster
    classes: list[PodClass]
    externals: list[IpRange]
    ports: list[PortAtom]
    program: Program
    ingress: Int8Array  # int8[C, E, P] at the destination (local) from peer
    egress: Int8Array  # int8[C, E, P] at the source (local) to peer
    #: Rules whose address constraints could not be decided for pods (pod network set).
    warnings: list[str] = field(default_factory=list)
    #: bool[C, E]: cells whose verdict depends on unknown pod addresses (None: none do, or
    #: not asked for — see ``compute(flag_unknown_addresses=...)``).
    ingress_doubt: BoolArray | None = None
    egress_doubt: BoolArray | None = None

    # ------------------------------------------------------------ indexes

    @cached_property
    def pod_to_pod_doubt(self) -> BoolArray | None:
        """bool[src class, dst class]: pairs whose verdict depends on unknown addresses."""
        if self.ingress_doubt is None or self.egress_doubt is None:
            return None
        c = self.n_classes
        eg_doubt = self.egress_doubt[:, :c]
        ing_doubt = self.ingress_doubt[:, :c].T  # [src, dst]
        # numpy's stubs type ``==`` on arrays as Any: the annotations say what it is.
        eg_allow: BoolArray = self.egress[:, :c, :] == ALLOW
        ing_allow: BoolArray = self.ingress[:, :c, :] == ALLOW
        eg_open = eg_allow.any(axis=2) | eg_doubt
        ing_open = ing_allow.any(axis=2).T | ing_doubt
        # A side that denies for sure (whatever the addresses) closes the path on its own.
        return (eg_doubt & ing_open) | (ing_doubt & eg_open)

    def _doubt(self, sk: str, s: int, dk: str, d: int) -> bool:
        c = self.n_classes
        if self.ingress_doubt is None or self.egress_doubt is None:
            return False
        if sk == "pod" and dk == "pod":
            return bool(self.pod_to_pod_doubt[s, d])  # type: ignore[index]
        if sk == "pod":
            return bool(self.egress_doubt[s, c + d])
        if dk == "pod":
            return bool(self.ingress_doubt[d, c + s])
        return False

    def undecided(self) -> list[tuple[str, str]]:
        """Pod pairs whose verdict depends on unknown addresses (listed, never as allowed)."""
        doubt = self.pod_to_pod_doubt
        if doubt is None:
            return []
        out = []
        for s, d in zip(*np.nonzero(doubt), strict=True):
            for sp in self.classes[s].pods:
                for dp in self.classes[d].pods:
                    if sp.id != dp.id:
                        out.append((sp.id, dp.id))
        return out

    @cached_property
    def pods(self) -> list[m.Pod]:
        return [p for c in self.classes for p in c.pods]

    @cached_property
    def class_of(self) -> dict[str, int]:
        return {p.id: c.index for c in self.classes for p in c.pods}

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @cached_property
    def pod_to_pod(self) -> BoolArray:
        """bool[src class, dst class, port atom]."""
        c = self.n_classes
        eg: BoolArray = self.egress[:, :c, :] == ALLOW
        ing: BoolArray = self.ingress[:, :c, :] == ALLOW  # [dst, src, p]
        return eg & ing.transpose(1, 0, 2)

    @cached_property
    def pod_to_external(self) -> BoolArray:
        """bool[src class, external atom, port atom]."""
        out: BoolArray = self.egress[:, self.n_classes :, :] == ALLOW
        return out

    @cached_property
    def external_to_pod(self) -> BoolArray:
        """bool[external atom, dst class, port atom]."""
        allow: BoolArray = self.ingress[:, self.n_classes :, :] == ALLOW
        return allow.transpose(1, 0, 2)

    # ------------------------------------------------------------ endpoint lookup

    def _endpoint(self, ref: str) -> tuple[str, list[int]]:
        """("pod", [class]) or ("ext", [atoms overlapping the address/CIDR])."""
        if ref in self.class_of:
            return "pod", [self.class_of[ref]]
        try:
            rng = parse_cidr(ref)
        except ValueError:
            raise QueryError(
                f"unknown endpoint {ref!r} (expected namespace/pod or a CIDR)"
            ) from None
        atoms = [i for i, a in enumerate(self.externals) if a.overlaps(rng)]
        return "ext", atoms

    def _port_indexes(
        self, port: int | str | None, protocol: str | None, dst_class: int | None
    ) -> list[int]:
        out = []
        for i, a in enumerate(self.ports):
            if protocol is not None and a.protocol != protocol.upper():
                continue
            if port is None:
                out.append(i)
            elif isinstance(port, int):
                if a.lo <= port <= a.hi:
                    out.append(i)
            else:
                named = self.classes[dst_class].named_ports if dst_class is not None else ()
                for name, proto, number in named:
                    if name == port and proto == a.protocol and a.lo <= number <= a.hi:
                        out.append(i)
        return out

    def _cell(self, src_kind: str, s: int, dst_kind: str, d: int, p: int) -> bool:
        if src_kind == "pod" and dst_kind == "pod":
            return bool(self.pod_to_pod[s, d, p])
        if src_kind == "pod":
            return bool(self.pod_to_external[s, d, p])
        if dst_kind == "pod":
            return bool(self.external_to_pod[s, d, p])
        raise QueryError("at least one side must be a pod")

    # ------------------------------------------------------------ queries

    def allowed(
        self, src: str, dst: str, port: int | str | None = None, protocol: str | None = "TCP"
    ) -> bool:
        """Can ``src`` open a connection to ``dst`` (on any of the matching ports)?

        ``src``/``dst``: ``namespace/pod`` or an address/CIDR (true if any part of it is
        reachable); ``port``: a number, a named port of ``dst``, or ``None`` for any.
        """
        sk, ss = self._endpoint(src)
        dk, ds = self._endpoint(dst)
        for s in ss:
            for d in ds:
                ports = self._port_indexes(port, protocol, d if dk == "pod" else None)
                if any(self._cell(sk, s, dk, d, p) for p in ports):
                    return True
        return False

    def explain(
        self, src: str, dst: str, port: int | str | None = None, protocol: str | None = "TCP"
    ) -> Decision:
        """The decision for one representative cell, with the policy trace of each side.

        When ``port`` is ``None`` (or ``dst`` spans several atoms) an allowed cell is preferred,
        so that the trace shows what lets traffic through.
        """
        sk, ss = self._endpoint(src)
        dk, ds = self._endpoint(dst)
        cells = [
            (s, d, p)
            for s in ss
            for d in ds
            for p in self._port_indexes(port, protocol, d if dk == "pod" else None)
        ]
        if not cells:
            raise QueryError(f"no port matches {port!r}/{protocol} at {dst}")
        chosen = next((c for c in cells if self._cell(sk, c[0], dk, c[1], c[2])), cells[0])
        return self.decision(sk, chosen[0], dk, chosen[1], chosen[2], src, dst)

    def decision(
        self,
        sk: str,
        s: int,
        dk: str,
        d: int,
        p: int,
        src: str | None = None,
        dst: str | None = None,
    ) -> Decision:
        """Trace one cell given by class/atom indexes."""
        c = self.n_classes
        egress = ingress = None
        if sk == "pod":
            peer = d if dk == "pod" else c + d
            action, steps = trace(self.program, "egress", s, peer, p)
            egress = Verdict("egress", action, tuple(steps))
        if dk == "pod":
            peer = s if sk == "pod" else c + s
            action, steps = trace(self.program, "ingress", d, peer, p)
            ingress = Verdict("ingress", action, tuple(steps))
        allowed = all(v.action == "Allow" for v in (egress, ingress) if v is not None)
        doubt = self._doubt(sk, s, dk, d)
        return Decision(
            src or self.endpoint_name(sk, s),
            dst or self.endpoint_name(dk, d),
            self.ports[p],
            allowed,
            egress,
            ingress,
            doubt,
            tuple(
                self.classes[i].pods[0].id
                for kind, i in ((sk, s), (dk, d))
                if doubt and kind == "pod" and self.classes[i].addresses is None
            ),
        )

    def endpoint_name(self, kind: str, index: int) -> str:
        if kind == "pod":
            return self.class_name(index)
        return describe_ranges([self.externals[index]])

    def class_name(self, index: int) -> str:
        pods = self.classes[index].pods
        return pods[0].id if len(pods) == 1 else f"{pods[0].id} (+{len(pods) - 1} alike)"

    def port_text(self, mask: np.ndarray) -> str:
        if mask.all():
            return "all"
        return summarize_ports(self.ports[i] for i in np.flatnonzero(mask))

    def connections(self, *, external: bool = True) -> list[Connection]:
        """Every allowed (source, destination) pair with its ports.

        Pods are listed individually; a pod's traffic to itself is not listed (it never leaves
        the pod, so no policy applies). External atoms with the same ports are merged into one
        address description per pod.
        """
        out: list[Connection] = []
        pp = self.pod_to_pod
        any_port = pp.any(axis=2)
        if self.pod_to_pod_doubt is not None:
            any_port = any_port & ~self.pod_to_pod_doubt  # listed by undecided() instead
        for s, d in zip(*np.nonzero(any_port), strict=True):
            mask = pp[s, d]
            atoms = tuple(self.ports[i] for i in np.flatnonzero(mask))
            text = self.port_text(mask)
            for sp in self.classes[s].pods:
                for dp in self.classes[d].pods:
                    if sp.id != dp.id:
                        out.append(Connection(sp.id, dp.id, text, atoms))
        if not external:
            return out
        for cube, pod_first in ((self.pod_to_external, True), (self.external_to_pod, False)):
            groups: dict[tuple[int, bytes], list[int]] = {}
            any_port = cube.any(axis=2)
            for a, b in zip(*np.nonzero(any_port), strict=True):
                pod, ext = (a, b) if pod_first else (b, a)
                groups.setdefault((int(pod), cube[a, b].tobytes()), []).append(int(ext))
            for (pod, key), exts in groups.items():
                mask = np.frombuffer(key, dtype=bool)
                where = describe_ranges(self.externals[x] for x in exts)
                atoms = tuple(self.ports[i] for i in np.flatnonzero(mask))
                text = self.port_text(mask)
                for p in self.classes[pod].pods:
                    src, dst = (p.id, where) if pod_first else (where, p.id)
                    out.append(Connection(src, dst, text, atoms))
        return out

    def to_dict(self, *, external: bool = True) -> dict[str, Any]:
        """JSON-ready form: endpoints, port atoms, allowed connections and ignored kinds."""
        return {
            "pods": [
                {"id": p.id, "kind": p.kind, "labels": p.labels, "source": p.source}
                for p in self.pods
            ],
            "externals": [a.cidrs() for a in self.externals],
            "port_atoms": [str(a) for a in self.ports],
            "connections": [
                {"src": c.src, "dst": c.dst, "ports": c.ports}
                for c in self.connections(external=external)
            ],
            "ignored_kinds": dict(sorted(self.cluster.ignored.items())),
            "warnings": list(self.warnings),
            **(
                {"undecided": [{"src": s, "dst": d} for s, d in self.undecided()]}
                if self.pod_to_pod_doubt is not None
                else {}
            ),
        }
