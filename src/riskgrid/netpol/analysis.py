"""Objects → connectivity matrix: the public entry point of the netpol area.

Pods with the same namespace, labels and named ports are indistinguishable to every policy, so
the analysis works on such *classes*; addresses and ports are cut into atoms at every boundary
a policy names (:mod:`riskgrid.netpol.atoms`). Every policy then compiles to boolean masks over
classes, endpoints and port atoms, and :mod:`riskgrid.netpol.evaluation` runs the tiers.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskgrid.netpol import model as m
from riskgrid.netpol.atoms import (
    PORT_PROTOCOLS,
    IpRange,
    ip_atoms,
    parse_cidr,
    port_atoms,
)
from riskgrid.netpol.evaluation import (
    CompiledPolicy,
    CompiledRule,
    CompiledTier,
    Program,
    address_doubt,
    evaluate,
)
from riskgrid.netpol.matrix import ConnectivityMatrix, PodClass
from riskgrid.netpol.parsing import DEFAULT_CIDRS_OF_INTEREST, parse_objects
from riskgrid.netpol.selectors import Selector
from riskgrid.spec.errors import SpecError


@dataclass(frozen=True)
class _Views:
    """Label views of one class: plain Kubernetes and Calico (with projectcalico.org/*)."""

    pod: dict[str, str]
    pod_calico: dict[str, str]


def _address_atoms(pod: m.Pod, externals: Sequence[IpRange]) -> tuple[int, ...] | None:
    """Indexes of the address atoms holding the pod's addresses (None: addresses unknown)."""
    if pod.addresses is None:
        return None
    out = set()
    for addr in pod.addresses:
        # Atoms are sorted and cover each family: bisect on (family, lo).
        i = bisect.bisect_right(externals, IpRange(addr.family, addr.lo, _MAX_ADDR)) - 1
        out.add(i)
    return tuple(sorted(out))


_MAX_ADDR = (1 << 128) - 1


def _classes(cluster: m.Cluster, externals: Sequence[IpRange] = ()) -> list[PodClass]:
    """Pods no policy can tell apart. With known addresses, the address atoms join the key:
    two pods whose addresses fall in the same atoms match exactly the same ipBlocks (D-#16.6)."""
    by_key: dict[tuple[Any, ...], PodClass] = {}
    for pod in cluster.pods:
        atoms = _address_atoms(pod, externals)
        key = (pod.namespace, tuple(sorted(pod.labels.items())), pod.named_ports(), atoms)
        if key not in by_key:
            by_key[key] = PodClass(
                len(by_key), pod.namespace, dict(pod.labels), pod.named_ports(), addresses=atoms
            )
        by_key[key].pods.append(pod)
    return list(by_key.values())


def policy_ranges(cluster: m.Cluster) -> list[IpRange]:
    """Every address range a policy (or the cidrs of interest) names: the atom boundaries."""
    ranges: list[IpRange] = list(cluster.cidrs_of_interest)
    for pol in cluster.policies:
        for rules in (pol.ingress or (), pol.egress or ()):
            for rule in rules:
                for peer in (*(rule.peers or ()), *([rule.local] if rule.local else [])):
                    ranges.extend(peer.nets or ())
                    ranges.extend(peer.not_nets)
    return ranges


class _Compiler:
    def __init__(
        self,
        cluster: m.Cluster,
        classes: list[PodClass],
        pod_network: Sequence[IpRange] = (),
        flag_unknown_addresses: bool = False,
    ) -> None:
        self.cluster = cluster
        self.flag_unknown = flag_unknown_addresses
        self.warnings: list[str] = []
        self._where = ""
        self.classes = classes
        self.C = len(classes)
        ranges: list[IpRange] = list(cluster.cidrs_of_interest)
        port_ranges: list[tuple[str, int, int]] = []
        extra_protocols: set[str] = set()
        for pol in cluster.policies:
            for rules in (pol.ingress or (), pol.egress or ()):
                for rule in rules:
                    for peer in (*(rule.peers or ()), *([rule.local] if rule.local else [])):
                        ranges.extend(peer.nets or ())
                        ranges.extend(peer.not_nets)
                    for alt in (*(rule.ports.any_of or ()), *rule.ports.none_of):
                        protos = [alt.protocol] if alt.protocol else list(PORT_PROTOCOLS)
                        for proto in protos:
                            if proto not in PORT_PROTOCOLS:
                                extra_protocols.add(proto)
                            elif alt.lo is not None and alt.hi is not None:
                                port_ranges.append((proto, alt.lo, alt.hi))
        for pod in cluster.pods:
            port_ranges.extend((p.protocol, p.number, p.number) for p in pod.ports)
        self.externals = ip_atoms([*ranges, *pod_network])
        self._families = np.array([a.family for a in self.externals])
        #: Indexes of the external atoms that make up the pod network (None: not configured).
        self.pod_atoms = (
            np.array(
                [i for i, a in enumerate(self.externals) if any(n.contains(a) for n in pod_network)]
            )
            if pod_network
            else None
        )
        self.ports = port_atoms(port_ranges, extra_protocols)
        self.X = len(self.externals)
        self.E = self.C + self.X
        self.P = len(self.ports)
        self.views = [self._views(c) for c in classes]
        self._port_proto = np.array([a.protocol for a in self.ports])
        self._port_lo = np.array([a.lo for a in self.ports])
        self._port_hi = np.array([a.hi for a in self.ports])
        self._pm_cache: dict[int, np.ndarray] = {}
        self._nets_cache: dict[tuple[IpRange, ...], np.ndarray] = {}
        self._by_ns: dict[str, list[int]] = {}
        self._ns_views: dict[tuple[str, bool], dict[str, str]] = {}
        self._ns_sel_cache: dict[tuple[str, bool], list[int]] = {}
        self._alt_cache: dict[tuple[m.PortAlt, str], np.ndarray] = {}
        for cls in classes:
            self._by_ns.setdefault(cls.namespace, []).append(cls.index)

    def _views(self, cls: PodClass) -> _Views:
        return _Views(
            pod=cls.labels,
            pod_calico={
                **cls.labels,
                m.CALICO_NAMESPACE_LABEL: cls.namespace,
                m.CALICO_ORCHESTRATOR_LABEL: "k8s",
            },
        )

    # ---------------------------------------------------------------- masks

    def pod_match(self, pm: m.PodMatch) -> np.ndarray:
        key = id(pm)
        if key in self._pm_cache:
            return self._pm_cache[key]
        out = np.zeros(self.C, dtype=bool)
        if not pm.none:
            candidates: Sequence[int]
            if pm.namespace is not None:
                candidates = self._by_ns.get(pm.namespace, [])
            elif pm.namespace_selector is not None:
                candidates = self._ns_members(pm.namespace_selector, pm.calico)
            else:
                candidates = range(self.C)
            for i in candidates:
                labels = self.views[i].pod_calico if pm.calico else self.views[i].pod
                if not pm.pod_selector.matches(labels):
                    continue
                if pm.not_selector is not None and pm.not_selector.matches(labels):
                    continue
                out[i] = True
        self._pm_cache[key] = out
        return out

    def _ns_members(self, sel: Selector, calico: bool) -> list[int]:
        """Classes in the namespaces ``sel`` picks (cached: tenants share DNS/platform peers)."""
        key = (sel.text, calico)
        if key not in self._ns_sel_cache:
            self._ns_sel_cache[key] = [
                i
                for ns, members in self._by_ns.items()
                if sel.matches(self._ns_view(ns, calico))
                for i in members
            ]
        return self._ns_sel_cache[key]

    def _ns_view(self, name: str, calico: bool) -> dict[str, str]:
        """Namespace labels as a namespaceSelector sees them (Calico adds its name label)."""
        key = (name, calico)
        if key not in self._ns_views:
            labels = self.cluster.namespaces[name].labels
            self._ns_views[key] = {**labels, m.CALICO_NAME_LABEL: name} if calico else labels
        return self._ns_views[key]

    def _nets_mask(self, nets: tuple[IpRange, ...]) -> np.ndarray:
        if nets not in self._nets_cache:
            self._nets_cache[nets] = np.array(
                [any(n.contains(a) for n in nets) for a in self.externals], dtype=bool
            )
        return self._nets_cache[nets]

    def _address_masks(self, peer: m.Peer) -> tuple[np.ndarray, np.ndarray | None]:
        """bool[C]: classes whose addresses satisfy the peer's nets/notNets; and bool[C] of the
        classes for which that depends on addresses nobody knows (None: none do).

        A class with known addresses matches when every one of its addresses does (Calico
        compares the packet's address, and a dual-stack pod sends from either family; when the
        families disagree the verdict is address-dependent). A class with unknown addresses
        follows :meth:`_pods_inside` and, with ``flag_unknown_addresses``, is marked dependent
        whenever the peer constrains addresses at all.
        """
        ok = np.ones(self.C, dtype=bool)
        if peer.nets is None and not peer.not_nets:
            return ok, None
        unknown_ok = self._pods_inside(peer)
        inside = self._nets_mask(peer.nets) if peer.nets is not None else None
        excluded = self._nets_mask(peer.not_nets) if peer.not_nets else None
        uncertain = np.zeros(self.C, dtype=bool)
        for i, cls in enumerate(self.classes):
            if cls.addresses is None:
                ok[i] = unknown_ok
                uncertain[i] = self.flag_unknown
                continue
            each = [
                (inside is None or bool(inside[a])) and (excluded is None or not excluded[a])
                for a in cls.addresses
            ]
            ok[i] = all(each)
            if any(each) and not all(each):
                uncertain[i] = True
                self._warn(f"{peer.text}: matches only some addresses of {cls.pods[0].id}")
        return ok, (uncertain if uncertain.any() else None)

    def _pods_inside(self, peer: m.Peer) -> bool:
        """Whether pods of unknown address satisfy the peer's address constraints."""
        if peer.nets is None and not peer.not_nets:
            return True
        if self.pod_atoms is None:
            # Pods lie outside every CIDR a policy names: never in nets, always outside notNets.
            return peer.nets is None
        inside = self._nets_mask(peer.nets)[self.pod_atoms] if peer.nets is not None else None
        excluded = self._nets_mask(peer.not_nets)[self.pod_atoms] if peer.not_nets else None
        ok = True
        if inside is not None and not inside.all():
            ok = False
            if inside.any():
                self._warn(f"{peer.text}: covers only part of the pod network; pods not matched")
        if excluded is not None and excluded.any():
            ok = False
            if not excluded.all():
                self._warn(f"{peer.text}: excludes part of the pod network; pods not matched")
        return ok

    def _warn(self, text: str) -> None:
        msg = f"{self._where}: {text}"
        if msg not in self.warnings:
            self.warnings.append(msg)

    def peer(self, peer: m.Peer) -> np.ndarray:
        return self.peer_and_doubt(peer)[0]

    def peer_and_doubt(self, peer: m.Peer) -> tuple[np.ndarray, np.ndarray | None]:
        """The peer's endpoint mask, and bool[E] of endpoints whose match depends on unknown
        addresses (None: none)."""
        out = np.zeros(self.E, dtype=bool)
        doubt = None
        if peer.pods is not None:
            ok, uncertain = self._address_masks(peer)
            selected = self.pod_match(peer.pods)
            out[: self.C] = selected & ok
            if uncertain is not None and (uncertain & selected).any():
                doubt = np.zeros(self.E, dtype=bool)
                doubt[: self.C] = uncertain & selected
        if peer.externals:
            ext = np.ones(self.X, dtype=bool) if peer.nets is None else self._nets_mask(peer.nets)
            if peer.not_nets:
                ext = ext & ~self._nets_mask(peer.not_nets)
            if peer.ip_version is not None:
                ext = ext & (self._families == peer.ip_version)
            out[self.C :] = ext
        return out, doubt

    def peers(self, peers: tuple[m.Peer, ...] | None) -> tuple[np.ndarray, np.ndarray | None]:
        if peers is None:
            return np.ones(self.E, dtype=bool), None
        out = np.zeros(self.E, dtype=bool)
        doubt: np.ndarray | None = None
        for p in peers:
            mask, d = self.peer_and_doubt(p)
            out |= mask
            if d is not None:
                doubt = d if doubt is None else doubt | d
        return out, doubt

    def _alt(self, alt: m.PortAlt, axis: str) -> np.ndarray:
        """bool[P] for numeric alternatives; bool[C or E, P] for a named port (cached)."""
        key = (alt, axis)
        if key not in self._alt_cache:
            self._alt_cache[key] = self._alt_uncached(alt, axis)
        return self._alt_cache[key]

    def _alt_uncached(self, alt: m.PortAlt, axis: str) -> np.ndarray:
        proto_ok = (
            np.ones(self.P, dtype=bool)
            if alt.protocol is None
            else self._port_proto == alt.protocol
        )
        if alt.name is None:
            if alt.lo is None:
                return proto_ok
            return proto_ok & (self._port_lo >= alt.lo) & (self._port_hi <= alt.hi)
        rows = self.C if axis == "local" else self.E
        out = np.zeros((rows, self.P), dtype=bool)
        for i, cls in enumerate(self.classes):
            for name, proto, number in cls.named_ports:
                if name == alt.name and (alt.protocol is None or proto == alt.protocol):
                    out[i] |= (
                        (self._port_proto == proto)
                        & (self._port_lo <= number)
                        & (self._port_hi >= number)
                    )
        return out

    def port_mask(self, cond: m.PortCond, axis: str) -> tuple[np.ndarray, str]:
        """The port mask and the axis it varies along ("none", "local" or "peer")."""
        if cond.any_of is None:
            pos: np.ndarray = np.ones(self.P, dtype=bool)
        else:
            pos = np.zeros(self.P, dtype=bool)
            for alt in cond.any_of:
                pos = pos | self._alt(alt, axis)
        neg = np.zeros(self.P, dtype=bool)
        for alt in cond.none_of:
            neg = neg | self._alt(alt, axis)
        mask = pos & ~neg
        return mask, ("none" if mask.ndim == 1 else axis)

    def rule(self, rule: m.Rule, direction: str) -> CompiledRule:
        # Named ports resolve against the destination: the local pod for ingress, the peer
        # for egress (an external address has no named ports).
        axis = "local" if direction == "ingress" else "peer"
        ports, ports_axis = self.port_mask(rule.ports, axis)
        local = local_doubt = None
        if rule.local is not None:
            lmask, ldoubt = self.peer_and_doubt(rule.local)
            local = lmask[: self.C]
            local_doubt = None if ldoubt is None else ldoubt[: self.C]
        peers, doubt = self.peers(rule.peers)
        return CompiledRule(rule, peers, ports, ports_axis, local, doubt, local_doubt)

    def policy(self, pol: m.Policy) -> CompiledPolicy:
        self._where = pol.ref
        return CompiledPolicy(
            pol,
            self.pod_match(pol.selects),
            None if pol.ingress is None else tuple(self.rule(r, "ingress") for r in pol.ingress),
            None if pol.egress is None else tuple(self.rule(r, "egress") for r in pol.egress),
        )

    def program(self) -> Program:
        tiers = sorted(self.cluster.tiers.values(), key=lambda t: (t.order, t.name))
        compiled = []
        for tier in tiers:
            pols = sorted(
                (p for p in self.cluster.policies if p.tier == tier.name), key=m.Policy.sort_key
            )
            compiled.append(CompiledTier(tier, tuple(self.policy(p) for p in pols)))
        return Program(tuple(compiled), self.C, self.E, self.P)


def connectivity(
    objects: Sequence[Mapping[str, Any]],
    *,
    sources: Sequence[str] | None = None,
    cidrs_of_interest: Sequence[str] = DEFAULT_CIDRS_OF_INTEREST,
    add_cluster_dns: bool = True,
    pod_network: Sequence[str] = (),
    flag_unknown_addresses: bool = False,
) -> ConnectivityMatrix:
    """The connectivity matrix of the pods, workloads and policies in ``objects``.

    ``objects`` are Kubernetes/Calico objects as dicts (Namespaces, Pods, workloads,
    NetworkPolicies, Calico Tiers/GlobalNetworkPolicies/NetworkPolicies; other kinds are
    counted in ``matrix.ignored``). Raises :class:`~riskgrid.spec.errors.SpecError` naming the
    object (``sources[i]`` or ``objects[i]``), field and reason for anything it cannot model.
    ``cidrs_of_interest`` are reported as external destinations even if no policy names them.
    ``pod_network``: the CIDRs pod addresses come from; when given, an ipBlock/nets that covers
    the whole pod network also matches pods (Calico's behaviour); by default pods are taken to
    be outside every CIDR a policy names (the Kubernetes docs' model, and NCA's).
    """
    cluster = parse_objects(
        objects,
        sources=sources,
        cidrs_of_interest=cidrs_of_interest,
        add_cluster_dns=add_cluster_dns,
    )
    try:
        network = [parse_cidr(c) for c in pod_network]
    except ValueError as exc:
        raise SpecError.one("pod_network", str(exc)) from None
    return compute(cluster, pod_network=network, flag_unknown_addresses=flag_unknown_addresses)


def compute(
    cluster: m.Cluster,
    *,
    pod_network: Sequence[IpRange] = (),
    flag_unknown_addresses: bool = False,
) -> ConnectivityMatrix:
    """The matrix of an already parsed :class:`~riskgrid.netpol.model.Cluster`.

    Pods with known addresses (``Pod.addresses``) are matched by ipBlocks/nets exactly. With
    ``flag_unknown_addresses`` every verdict an address-constrained rule could change for a
    pod of unknown address is marked in ``matrix.*_doubt`` (reported as "depends on
    addresses", never as allowed or isolated); without it the unknown-address model of
    :class:`~riskgrid.netpol.model.Peer` applies silently, as before.
    """
    classes = _classes(cluster, ip_atoms([*policy_ranges(cluster), *pod_network]))
    comp = _Compiler(cluster, classes, pod_network, flag_unknown_addresses)
    program = comp.program()
    doubt = (
        address_doubt(program)
        if flag_unknown_addresses
        or any(
            r.peer_doubt is not None or r.local_doubt is not None
            for t in program.tiers
            for cp in t.policies
            for r in (*(cp.ingress or ()), *(cp.egress or ()))
        )
        else None
    )
    return ConnectivityMatrix(
        cluster=cluster,
        classes=classes,
        externals=comp.externals,
        ports=comp.ports,
        program=program,
        ingress=evaluate(program, "ingress"),
        egress=evaluate(program, "egress"),
        warnings=comp.warnings,
        ingress_doubt=None if doubt is None else doubt[0],
        egress_doubt=None if doubt is None else doubt[1],
    )


__all__ = ["ConnectivityMatrix", "compute", "connectivity"]
