"""The analysed world: namespaces, pods, tiers and policies in one normalised form.

Kubernetes NetworkPolicies and Calico policies are both normalised to :class:`Policy` — an
ordered list of rules with an action each — so that one evaluator implements both. A Kubernetes
NetworkPolicy is what Calico makes of it: a policy in the ``default`` tier with order 1000 whose
rules all ``Allow``; the "union of allows, deny if selected" semantics of the Kubernetes docs
falls out of the tier rule "first match decides, no match → end-of-tier deny".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from riskgrid.netpol.atoms import IpRange
from riskgrid.netpol.selectors import Selector

DEFAULT_TIER = "default"
#: Calico's ``default`` tier order (the Tier CRD validates exactly this value).
DEFAULT_TIER_ORDER = 1_000_000.0
#: Order Calico gives a Kubernetes NetworkPolicy inside the default tier.
K8S_POLICY_ORDER = 1000.0

CALICO_NAMESPACE_LABEL = "projectcalico.org/namespace"
CALICO_ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
CALICO_NAME_LABEL = "projectcalico.org/name"
K8S_NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

ACTIONS = ("Allow", "Deny", "Pass", "Log")


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: dict[str, str]
    source: str = ""
    declared: bool = True


@dataclass(frozen=True)
class ContainerPort:
    number: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Pod:
    """A pod, or the representative pod of a workload (``kind`` says which)."""

    namespace: str
    name: str
    labels: dict[str, str]
    ports: tuple[ContainerPort, ...] = ()
    kind: str = "Pod"
    source: str = ""
    #: The pod's addresses (``status.podIPs``) as single-address ranges; ``None``: unknown
    #: (a template, or a pod not yet given an address).
    addresses: tuple[IpRange, ...] | None = None

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_ports(self) -> frozenset[tuple[str, str, int]]:
        return frozenset((p.name, p.protocol, p.number) for p in self.ports if p.name)


@dataclass(frozen=True)
class Tier:
    name: str
    order: float = math.inf
    default_action: str = "Deny"
    source: str = ""


@dataclass(frozen=True)
class PodMatch:
    """Which pods an entity selects: namespace scope AND pod selector AND NOT ``not_selector``.

    ``namespace`` pins the scope to one namespace (a namespaced policy's own); otherwise
    ``namespace_selector`` picks namespaces by their labels (``None``: every namespace).
    ``calico`` chooses the label view: Calico selectors also see ``projectcalico.org/*`` labels.
    """

    pod_selector: Selector
    namespace: str | None = None
    namespace_selector: Selector | None = None
    not_selector: Selector | None = None
    calico: bool = False
    #: ``global()`` namespace selector: matches only non-namespaced entities, never a pod.
    none: bool = False

    def describe(self) -> str:
        if self.none:
            return "global() (no pods)"
        scope = (
            f"ns={self.namespace}"
            if self.namespace is not None
            else f"ns[{self.namespace_selector.text}]"
            if self.namespace_selector is not None
            else "all namespaces"
        )
        text = f"{scope} pods[{self.pod_selector.text}]"
        if self.not_selector is not None:
            text += f" not[{self.not_selector.text}]"
        return text


@dataclass(frozen=True)
class Peer:
    """One peer of a rule: which pods and which external addresses it matches.

    ``pods``: the pods the selectors pick (``None``: no pod). ``externals``: whether addresses
    outside the cluster can match at all (not when a selector is given). ``nets``/``not_nets``
    constrain the address of either kind (``nets is None``: no constraint). A pod's address is
    unknown: by default pods are taken to lie outside every CIDR a policy names, so a peer with
    ``nets`` never selects a pod; with a configured pod network, a pod matches when the whole
    pod network lies inside ``nets`` and outside ``not_nets`` (docs/netpol.md, "ipBlock and pod
    addresses"). ``ip_version`` limits external addresses to one family (pods are dual-stack).
    """

    pods: PodMatch | None
    externals: bool
    nets: tuple[IpRange, ...] | None = None
    not_nets: tuple[IpRange, ...] = ()
    ip_version: int | None = None
    text: str = ""


@dataclass(frozen=True)
class PortAlt:
    """One alternative of a port condition: protocol (None: any) and a port range or name."""

    protocol: str | None
    lo: int | None = None  # None: every port of the protocol
    hi: int | None = None
    name: str | None = None

    def describe(self) -> str:
        proto = self.protocol or "any"
        if self.name:
            return f"{proto}:{self.name}"
        if self.lo is None:
            return f"{proto}:*"
        return f"{proto}:{self.lo}" + (f"-{self.hi}" if self.hi != self.lo else "")


@dataclass(frozen=True)
class PortCond:
    """Destination port/protocol condition: any of ``any_of`` (None: anything) and none of
    ``none_of``."""

    any_of: tuple[PortAlt, ...] | None = None
    none_of: tuple[PortAlt, ...] = ()

    def describe(self) -> str:
        text = "any port" if self.any_of is None else ",".join(a.describe() for a in self.any_of)
        if self.none_of:
            text += " except " + ",".join(a.describe() for a in self.none_of)
        return text


@dataclass(frozen=True)
class Rule:
    """One rule of a policy in one direction.

    ``peers``: the remote side (source of ingress, destination of egress); ``None`` matches
    everything, several peers are ORed (Kubernetes ``from``/``to`` lists). ``local`` further
    restricts the policy's own endpoint (Calico ``destination`` of an ingress rule, ``source``
    of an egress rule).
    """

    action: str
    peers: tuple[Peer, ...] | None
    ports: PortCond
    local: Peer | None = None
    index: int = 0
    where: str = ""

    def describe(self) -> str:
        peers = "anyone" if self.peers is None else " OR ".join(p.text for p in self.peers)
        return f"{self.action} {peers} on {self.ports.describe()}"


@dataclass(frozen=True)
class Policy:
    kind: str  # NetworkPolicy | calico NetworkPolicy | GlobalNetworkPolicy
    name: str
    namespace: str | None
    tier: str
    order: float
    selects: PodMatch
    ingress: tuple[Rule, ...] | None  # None: the policy does not apply to ingress
    egress: tuple[Rule, ...] | None
    source: str = ""

    @property
    def ref(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} (tier {self.tier})"

    def sort_key(self) -> tuple[float, str]:
        return (self.order, self.name)


@dataclass
class Cluster:
    """Everything the analysis needs, as parsed from the objects."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)
    policies: list[Policy] = field(default_factory=list)
    #: CIDRs the matrix reports on even if no policy names them (metadata service, 0.0.0.0/0).
    cidrs_of_interest: list[IpRange] = field(default_factory=list)
    #: Objects that were read but have no bearing on connectivity (kind → count).
    ignored: dict[str, int] = field(default_factory=dict)
