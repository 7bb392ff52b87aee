"""Kubernetes and Calico objects (plain dicts) → :class:`~riskgrid.netpol.model.Cluster`.

Anything that would change the answer but is not modelled (Calico ``serviceAccounts``,
``http`` matches, source ports, ``doNotTrack``/``preDNAT`` policies, host-network pods) is an
error rather than silently ignored: an isolation proof must not rest on a field it skipped.
Objects that cannot affect pod connectivity (Services, RBAC, quotas…) are counted and ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from riskgrid.netpol import model as m
from riskgrid.netpol.atoms import PORT_PROTOCOLS, IpRange, parse_cidr
from riskgrid.netpol.selectors import ALL, Selector, SelectorError, calico_selector, k8s_selector
from riskgrid.netpol.workloads import WorkloadError, pods_for
from riskgrid.spec.errors import Problem, SpecError

Loc = tuple[str | int, ...]

K8S_NP_API = "networking.k8s.io/v1"
CALICO_APIS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
_PROTOCOL_NUMBERS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP", 136: "UDPLite"}
_CALICO_PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "UDPLite")
METADATA_CIDRS = ("169.254.169.254/32", "fd00:ec2::254/128")
DEFAULT_CIDRS_OF_INTEREST = (*METADATA_CIDRS, "0.0.0.0/0", "::/0")


class _Fail(Exception):
    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _map(value: Any, loc: Loc) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Fail(loc, "must be a mapping")
    return value


def _list(value: Any, loc: Loc) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Fail(loc, "must be a list")
    return value


def _only(obj: Mapping[str, Any], allowed: Sequence[str], loc: Loc) -> None:
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise _Fail((*loc, unknown[0]), "field not supported by the netpol analysis")


def _k8s_sel(value: Any, loc: Loc) -> Selector:
    try:
        return k8s_selector(value, ".".join(str(p) for p in loc))
    except SelectorError as exc:
        raise _Fail(loc, str(exc).split(": ", 1)[-1]) from None


def _calico_sel(value: Any, loc: Loc) -> Selector:
    try:
        return calico_selector(value, "")
    except SelectorError as exc:
        raise _Fail(loc, str(exc).lstrip(": ")) from None


def _cidr(value: Any, loc: Loc) -> IpRange:
    try:
        return parse_cidr(value)
    except ValueError as exc:
        raise _Fail(loc, str(exc)) from None


# ------------------------------------------------------------------ Kubernetes NetworkPolicy


def _k8s_ports(value: Any, loc: Loc) -> m.PortCond:
    entries = _list(value, loc)
    if not entries:
        return m.PortCond(None)
    alts: list[m.PortAlt] = []
    for i, entry in enumerate(entries):
        eloc = (*loc, i)
        entry = _map(entry, eloc)
        _only(entry, ("protocol", "port", "endPort"), eloc)
        proto = entry.get("protocol", "TCP")
        if proto not in PORT_PROTOCOLS:
            raise _Fail((*eloc, "protocol"), f"must be TCP, UDP or SCTP, got {proto!r}")
        port = entry.get("port")
        end = entry.get("endPort")
        if port is None:
            if end is not None:
                raise _Fail((*eloc, "endPort"), "requires a numeric port")
            alts.append(m.PortAlt(proto))
        elif isinstance(port, str):
            if port.isdigit() or not port:
                raise _Fail((*eloc, "port"), f"{port!r} is neither a number nor a port name")
            if end is not None:
                raise _Fail((*eloc, "endPort"), "may not be used with a named port")
            alts.append(m.PortAlt(proto, name=port))
        elif isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
            hi = port
            if end is not None:
                if not isinstance(end, int) or isinstance(end, bool) or not port <= end <= 65535:
                    raise _Fail((*eloc, "endPort"), "must be an integer in port..65535")
                hi = end
            alts.append(m.PortAlt(proto, port, hi))
        else:
            raise _Fail((*eloc, "port"), "must be an integer in 1..65535 or a port name")
    return m.PortCond(tuple(alts))


def _k8s_peer(value: Any, loc: Loc, namespace: str) -> m.Peer:
    peer = _map(value, loc)
    _only(peer, ("podSelector", "namespaceSelector", "ipBlock"), loc)
    if "ipBlock" in peer:
        if "podSelector" in peer or "namespaceSelector" in peer:
            raise _Fail(loc, "ipBlock may not be combined with podSelector/namespaceSelector")
        block = _map(peer["ipBlock"], (*loc, "ipBlock"))
        _only(block, ("cidr", "except"), (*loc, "ipBlock"))
        if "cidr" not in block:
            raise _Fail((*loc, "ipBlock", "cidr"), "required")
        cidr = _cidr(block["cidr"], (*loc, "ipBlock", "cidr"))
        excepts = []
        for i, text in enumerate(_list(block.get("except"), (*loc, "ipBlock", "except"))):
            ex = _cidr(text, (*loc, "ipBlock", "except", i))
            # The API server rejects an except that is not strictly inside the cidr.
            if not cidr.contains(ex) or ex == cidr:
                raise _Fail((*loc, "ipBlock", "except", i), f"{text} is not inside {block['cidr']}")
            excepts.append(ex)
        text = f"ipBlock {block['cidr']}" + (
            f" except {','.join(map(str, block.get('except') or []))}" if excepts else ""
        )
        everyone = m.PodMatch(ALL, namespace_selector=None)
        return m.Peer(everyone, True, (cidr,), tuple(excepts), text=text)
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        raise _Fail(loc, "a peer must set podSelector, namespaceSelector or ipBlock")
    pod_sel = _k8s_sel(peer.get("podSelector"), (*loc, "podSelector"))
    if "namespaceSelector" in peer:
        ns_sel = _k8s_sel(peer["namespaceSelector"], (*loc, "namespaceSelector"))
        match = m.PodMatch(pod_sel, namespace_selector=ns_sel)
    else:
        match = m.PodMatch(pod_sel, namespace=namespace)
    return m.Peer(match, False, text=match.describe())


def _k8s_rules(value: Any, loc: Loc, namespace: str, peer_key: str) -> tuple[m.Rule, ...]:
    rules = []
    for i, raw in enumerate(_list(value, loc)):
        rloc = (*loc, i)
        raw = _map(raw, rloc)
        _only(raw, (peer_key, "ports"), rloc)
        raw_peers = _list(raw.get(peer_key), (*rloc, peer_key))
        # Absent or empty from/to: the rule matches every peer, in-cluster or not.
        peers = (
            tuple(_k8s_peer(p, (*rloc, peer_key, j), namespace) for j, p in enumerate(raw_peers))
            if raw_peers
            else None
        )
        ports = _k8s_ports(raw.get("ports"), (*rloc, "ports"))
        rules.append(m.Rule("Allow", peers, ports, index=i, where=".".join(map(str, rloc))))
    return tuple(rules)


def parse_k8s_policy(obj: Mapping[str, Any], namespace: str, source: str) -> m.Policy:
    meta = _map(obj.get("metadata"), ("metadata",))
    spec = _map(obj.get("spec"), ("spec",))
    _only(spec, ("podSelector", "policyTypes", "ingress", "egress"), ("spec",))
    selects = m.PodMatch(_k8s_sel(spec.get("podSelector"), ("spec", "podSelector")), namespace)
    types = spec.get("policyTypes")
    if types is None or types == []:
        # Kubernetes: Ingress always; Egress only if the policy has egress rules.
        types = ["Ingress"] + (["Egress"] if _list(spec.get("egress"), ("spec", "egress")) else [])
    for i, t in enumerate(_list(types, ("spec", "policyTypes"))):
        if t not in ("Ingress", "Egress"):
            raise _Fail(("spec", "policyTypes", i), f"must be Ingress or Egress, got {t!r}")
    ingress = (
        _k8s_rules(spec.get("ingress"), ("spec", "ingress"), namespace, "from")
        if "Ingress" in types
        else None
    )
    egress = (
        _k8s_rules(spec.get("egress"), ("spec", "egress"), namespace, "to")
        if "Egress" in types
        else None
    )
    return m.Policy(
        kind="NetworkPolicy",
        name=str(meta.get("name", "")),
        namespace=namespace,
        tier=m.DEFAULT_TIER,
        order=m.K8S_POLICY_ORDER,
        selects=selects,
        ingress=ingress,
        egress=egress,
        source=source,
    )


# ------------------------------------------------------------------ Calico


def _calico_protocol(value: Any, loc: Loc) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 255:
            raise _Fail(loc, "protocol number must be in 1..255")
        return _PROTOCOL_NUMBERS.get(value, f"proto-{value}")
    if isinstance(value, str):
        for p in _CALICO_PROTOCOLS:
            if value.lower() == p.lower():
                return p
    raise _Fail(loc, f"unknown protocol {value!r}")


def _calico_port_alts(value: Any, loc: Loc, proto: str | None) -> tuple[m.PortAlt, ...]:
    items = _list(value, loc)
    if items and proto not in PORT_PROTOCOLS:
        raise _Fail(loc, "ports require the rule's protocol to be TCP, UDP or SCTP")
    alts = []
    for i, item in enumerate(items):
        iloc = (*loc, i)
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item <= 65535:
                raise _Fail(iloc, "port must be in 0..65535")
            alts.append(m.PortAlt(proto, item, item))
        elif isinstance(item, str) and ":" in item:
            lo_s, _, hi_s = item.partition(":")
            if not (lo_s.isdigit() and hi_s.isdigit()) or not int(lo_s) <= int(hi_s) <= 65535:
                raise _Fail(iloc, f"port range {item!r} must be 'lo:hi' with lo <= hi <= 65535")
            alts.append(m.PortAlt(proto, int(lo_s), int(hi_s)))
        elif isinstance(item, str) and item.isdigit():
            alts.append(m.PortAlt(proto, int(item), int(item)))
        elif isinstance(item, str) and item:
            alts.append(m.PortAlt(proto, name=item))
        else:
            raise _Fail(iloc, "port must be a number, 'lo:hi' or a port name")
    return tuple(alts)


def _calico_entity(value: Any, loc: Loc, namespace: str | None) -> tuple[m.Peer | None, Any, Any]:
    """An entity rule → (peer or None for 'anything', ports, notPorts)."""
    ent = _map(value, loc)
    _only(
        ent,
        ("selector", "notSelector", "namespaceSelector", "nets", "notNets", "ports", "notPorts"),
        loc,
    )
    ports, not_ports = ent.get("ports"), ent.get("notPorts")
    keys = set(ent) - {"ports", "notPorts"}
    if not keys:
        return None, ports, not_ports
    nets = (
        tuple(_cidr(c, (*loc, "nets", i)) for i, c in enumerate(_list(ent["nets"], (*loc, "nets"))))
        if "nets" in ent
        else None
    )
    not_nets = tuple(
        _cidr(c, (*loc, "notNets", i)) for i, c in enumerate(_list(ent.get("notNets"), loc))
    )
    has_sel = "selector" in ent or "namespaceSelector" in ent
    ns_sel_text = ent.get("namespaceSelector")
    pods: m.PodMatch | None
    if isinstance(ns_sel_text, str) and ns_sel_text.strip() == "global()":
        pods = None
    else:
        pod_sel = _calico_sel(ent.get("selector"), (*loc, "selector"))
        not_sel = (
            _calico_sel(ent["notSelector"], (*loc, "notSelector")) if "notSelector" in ent else None
        )
        if ns_sel_text not in (None, ""):
            pods = m.PodMatch(
                pod_sel,
                namespace_selector=_calico_sel(ns_sel_text, (*loc, "namespaceSelector")),
                not_selector=not_sel,
                calico=True,
            )
        elif "selector" in ent or "notSelector" in ent:
            # Namespaced policy: selectors stay in the policy's namespace; global: everywhere.
            pods = m.PodMatch(pod_sel, namespace=namespace, not_selector=not_sel, calico=True)
        else:
            pods = m.PodMatch(ALL, calico=True)  # only nets/notNets: any pod, any namespace
    parts = [f"{k}={ent[k]}" for k in sorted(keys)]
    peer = m.Peer(pods, not has_sel, nets, not_nets, text=" ".join(parts))
    return peer, ports, not_ports


def _calico_rules(
    value: Any, loc: Loc, namespace: str | None, direction: str
) -> tuple[m.Rule, ...]:
    rules = []
    for i, raw in enumerate(_list(value, loc)):
        rloc = (*loc, i)
        raw = _map(raw, rloc)
        _only(
            raw,
            ("action", "protocol", "notProtocol", "ipVersion", "source", "destination", "metadata"),
            rloc,
        )
        action = raw.get("action")
        if action not in m.ACTIONS:
            raise _Fail((*rloc, "action"), f"must be one of {', '.join(m.ACTIONS)}")
        proto = (
            _calico_protocol(raw["protocol"], (*rloc, "protocol")) if "protocol" in raw else None
        )
        not_proto = (
            _calico_protocol(raw["notProtocol"], (*rloc, "notProtocol"))
            if "notProtocol" in raw
            else None
        )
        ipv = raw.get("ipVersion")
        if ipv not in (None, 4, 6):
            raise _Fail((*rloc, "ipVersion"), "must be 4 or 6")
        src, src_ports, src_not_ports = _calico_entity(
            raw.get("source"), (*rloc, "source"), namespace
        )
        dst, dst_ports, dst_not_ports = _calico_entity(
            raw.get("destination"), (*rloc, "destination"), namespace
        )
        if src_ports is not None or src_not_ports is not None:
            key = "ports" if src_ports is not None else "notPorts"
            raise _Fail((*rloc, "source", key), "source ports are not modelled")
        any_of = _calico_port_alts(dst_ports, (*rloc, "destination", "ports"), proto)
        none_of = _calico_port_alts(dst_not_ports, (*rloc, "destination", "notPorts"), proto)
        if not any_of:
            any_of = (m.PortAlt(proto),) if proto else None  # type: ignore[assignment]
        if not_proto:
            none_of = (*none_of, m.PortAlt(not_proto))
        ports = m.PortCond(any_of, none_of)
        remote, local = (src, dst) if direction == "ingress" else (dst, src)
        if ipv is not None:
            base = remote or m.Peer(m.PodMatch(ALL, calico=True), True)
            text = f"{base.text} ipVersion={ipv}".strip()
            remote = m.Peer(base.pods, base.externals, base.nets, base.not_nets, ipv, text)
        rules.append(
            m.Rule(
                action,
                None if remote is None else (remote,),
                ports,
                local=local,
                index=i,
                where=".".join(map(str, rloc)),
            )
        )
    return tuple(rules)


def parse_calico_policy(obj: Mapping[str, Any], namespace: str | None, source: str) -> m.Policy:
    kind = str(obj.get("kind"))
    meta = _map(obj.get("metadata"), ("metadata",))
    spec = _map(obj.get("spec"), ("spec",))
    allowed = [
        "order", "tier", "selector", "types", "ingress", "egress", "serviceAccountSelector",
        "doNotTrack", "preDNAT", "applyOnForward", "performanceHints",
    ]  # fmt: skip
    if namespace is None:
        allowed.append("namespaceSelector")
    _only(spec, allowed, ("spec",))
    for flag in ("doNotTrack", "preDNAT"):
        if spec.get(flag):
            raise _Fail(("spec", flag), "untracked/pre-DNAT policies are not modelled")
    if spec.get("serviceAccountSelector") not in (None, ""):
        raise _Fail(("spec", "serviceAccountSelector"), "service-account selection is not modelled")
    order = spec.get("order")
    if order is None:
        order_f = math.inf
    elif isinstance(order, int | float) and not isinstance(order, bool):
        order_f = float(order)
    else:
        raise _Fail(("spec", "order"), "must be a number")
    tier = spec.get("tier") or m.DEFAULT_TIER
    sel = _calico_sel(spec.get("selector"), ("spec", "selector"))
    ns_sel_text = spec.get("namespaceSelector")
    if namespace is not None:
        selects = m.PodMatch(sel, namespace=namespace, calico=True)
    elif isinstance(ns_sel_text, str) and ns_sel_text.strip() == "global()":
        selects = m.PodMatch(sel, calico=True, none=True)
    else:
        ns_sel = _calico_sel(ns_sel_text, ("spec", "namespaceSelector")) if ns_sel_text else None
        selects = m.PodMatch(sel, namespace_selector=ns_sel, calico=True)
    has_in = bool(_list(spec.get("ingress"), ("spec", "ingress")))
    has_eg = bool(_list(spec.get("egress"), ("spec", "egress")))
    types = spec.get("types")
    if not types:
        # Calico's defaulting (Tier/GNP CRD docs): Egress alone only when only egress rules.
        types = (
            ["Egress"]
            if has_eg and not has_in
            else ["Ingress", "Egress"]
            if has_eg
            else ["Ingress"]
        )
    for i, t in enumerate(_list(types, ("spec", "types"))):
        if t not in ("Ingress", "Egress"):
            raise _Fail(("spec", "types", i), f"must be Ingress or Egress, got {t!r}")
    ingress = (
        _calico_rules(spec.get("ingress"), ("spec", "ingress"), namespace, "ingress")
        if "Ingress" in types
        else None
    )
    egress = (
        _calico_rules(spec.get("egress"), ("spec", "egress"), namespace, "egress")
        if "Egress" in types
        else None
    )
    return m.Policy(
        kind=kind if namespace is None else "NetworkPolicy.projectcalico.org",
        name=str(meta.get("name", "")),
        namespace=namespace,
        tier=str(tier),
        order=order_f,
        selects=selects,
        ingress=ingress,
        egress=egress,
        source=source,
    )


def parse_tier(obj: Mapping[str, Any], source: str) -> m.Tier:
    meta = _map(obj.get("metadata"), ("metadata",))
    spec = _map(obj.get("spec"), ("spec",))
    _only(spec, ("order", "defaultAction"), ("spec",))
    order = spec.get("order")
    if order is not None and (not isinstance(order, int | float) or isinstance(order, bool)):
        raise _Fail(("spec", "order"), "must be a number")
    action = spec.get("defaultAction", "Deny")
    if action not in ("Deny", "Pass"):
        raise _Fail(("spec", "defaultAction"), "must be Deny or Pass")
    name = str(meta.get("name", ""))
    return m.Tier(name, math.inf if order is None else float(order), action, source)


# ------------------------------------------------------------------ whole object lists


def _expand(objects: Sequence[Any], sources: Sequence[str]) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    for obj, src in zip(objects, sources, strict=True):
        if isinstance(obj, Mapping) and obj.get("kind") == "List" and "items" in obj:
            items = obj.get("items") or []
            out.extend((item, f"{src}.items[{i}]") for i, item in enumerate(items))
        else:
            out.append((obj, src))
    return out


def parse_objects(
    objects: Sequence[Any],
    *,
    sources: Sequence[str] | None = None,
    cidrs_of_interest: Sequence[str] = DEFAULT_CIDRS_OF_INTEREST,
    add_cluster_dns: bool = True,
) -> m.Cluster:
    """Parse every object; all problems are collected and raised together as a SpecError.

    ``sources[i]`` names object ``i`` in error messages (the CLI passes ``file.yaml[doc 2]``);
    by default objects are named ``objects[i]``. With ``add_cluster_dns`` a ``kube-dns`` pod
    (``k8s-app=kube-dns``, 53/UDP and 53/TCP) is assumed in ``kube-system`` unless the objects
    declare one, since every cluster runs it and tenant DNS egress targets it.
    """
    names = list(sources) if sources is not None else [f"objects[{i}]" for i in range(len(objects))]
    cluster = m.Cluster()
    problems: list[Problem] = []
    for obj, src in _expand(objects, names):
        try:
            _add_object(cluster, obj, src)
        except _Fail as exc:
            problems.append(Problem(src, exc.loc, exc.message))
        except WorkloadError as exc:
            problems.append(Problem(src, exc.loc, str(exc)))
    for i, text in enumerate(cidrs_of_interest):
        try:
            cluster.cidrs_of_interest.append(parse_cidr(text))
        except ValueError as exc:
            problems.append(Problem("cidrs_of_interest", (i,), str(exc)))
    for pol in cluster.policies:
        if pol.tier not in cluster.tiers and pol.tier != m.DEFAULT_TIER:
            problems.append(
                Problem(pol.source, ("spec", "tier"), f"tier {pol.tier!r} is not defined")
            )
    seen: dict[str, str] = {}
    for pod in cluster.pods:
        if pod.id in seen:
            problems.append(
                Problem(
                    pod.source, ("metadata", "name"), f"pod {pod.id} also comes from {seen[pod.id]}"
                )
            )
        seen[pod.id] = pod.source
    if problems:
        raise SpecError(problems)
    cluster.tiers.setdefault(
        m.DEFAULT_TIER, m.Tier(m.DEFAULT_TIER, m.DEFAULT_TIER_ORDER, "Deny", "(implicit)")
    )
    if add_cluster_dns and not any(
        p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns" for p in cluster.pods
    ):
        cluster.pods.append(
            m.Pod(
                "kube-system",
                "kube-dns",
                {"k8s-app": "kube-dns"},
                (m.ContainerPort(53, "UDP", "dns"), m.ContainerPort(53, "TCP", "dns-tcp")),
                "Pod",
                "(assumed cluster DNS)",
            )
        )
    for pod in cluster.pods:
        if pod.namespace not in cluster.namespaces:
            cluster.namespaces[pod.namespace] = m.Namespace(
                pod.namespace,
                {m.K8S_NAMESPACE_NAME_LABEL: pod.namespace},
                "(implied by pods)",
                declared=False,
            )
    return cluster


def _add_object(cluster: m.Cluster, obj: Any, src: str) -> None:
    if not isinstance(obj, Mapping):
        raise _Fail((), f"expected a mapping, got {type(obj).__name__}")
    kind, api = obj.get("kind"), str(obj.get("apiVersion", ""))
    if not isinstance(kind, str) or not kind:
        raise _Fail(("kind",), "required")
    meta = _map(obj.get("metadata"), ("metadata",))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise _Fail(("metadata", "name"), "required")
    namespace = str(meta.get("namespace") or "default")
    if kind == "Namespace" and api == "v1":
        labels = {
            str(k): str(v) for k, v in _map(meta.get("labels"), ("metadata", "labels")).items()
        }
        # The API server sets this label on every namespace; selectors rely on it.
        labels[m.K8S_NAMESPACE_NAME_LABEL] = name
        if name in cluster.namespaces and cluster.namespaces[name].declared:
            raise _Fail(("metadata", "name"), f"namespace {name} is declared twice")
        cluster.namespaces[name] = m.Namespace(name, labels, src)
        return
    if kind == "NetworkPolicy" and api == K8S_NP_API:
        cluster.policies.append(parse_k8s_policy(obj, namespace, src))
        return
    if api in CALICO_APIS:
        if kind == "Tier":
            tier = parse_tier(obj, src)
            if tier.name == m.DEFAULT_TIER and tier.order != m.DEFAULT_TIER_ORDER:
                raise _Fail(("spec", "order"), "the default tier's order must be 1000000")
            cluster.tiers[tier.name] = tier
            return
        if kind == "GlobalNetworkPolicy":
            cluster.policies.append(parse_calico_policy(obj, None, src))
            return
        if kind == "NetworkPolicy":
            cluster.policies.append(parse_calico_policy(obj, namespace, src))
            return
        if kind in ("GlobalNetworkSet", "NetworkSet", "HostEndpoint", "Profile"):
            raise _Fail(("kind",), f"Calico {kind} is not modelled by the netpol analysis")
    if api.startswith("policy.networking.k8s.io/"):
        raise _Fail(("kind",), f"{kind} (network policy API) is not modelled")
    pods = pods_for(obj, namespace, src)
    if pods is None:
        cluster.ignored[kind] = cluster.ignored.get(kind, 0) + 1
        return
    cluster.pods.extend(pods)
