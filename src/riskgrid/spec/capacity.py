"""``CapacityPlan``: the platform's capacity — on-premises and cloud — and how desks share it.

One resource drives everything bursting needs: the Kueue ResourceFlavors (reserved → spot →
on-demand, in that order), the cohort and each desk's ClusterQueue quotas, the workload
priority classes, the Karpenter NodePools and EC2NodeClass, the price table the burst planner
and the simulation charge from, and the provisioning/interruption figures the simulation uses.

Cross-field rules are checked here, so that nothing inconsistent is ever rendered: a lending
limit above the nominal quota, borrowing in a flavor the cohort has no quota in, quotas in an
undefined flavor, a NodePool whose taints match no flavor, a desk allowed a priority class that
does not exist. Each problem names the field (``spec.desks[1].quotas.cloud-spot.lendingLimit``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from riskgrid.spec.base import DnsLabel, Finite, Resource, Strict
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource

FlavorKind = Literal["reserved", "spot", "onDemand"]
#: Kueue tries flavors in the order a ClusterQueue lists them; riskgrid fixes that order.
FLAVOR_ORDER: dict[str, int] = {"reserved": 0, "spot": 1, "onDemand": 2}
CAPACITY_TYPES = {"spot": "spot", "onDemand": "on-demand"}

Cores = Annotated[int, Field(ge=0, le=10_000_000)]
Seconds = Annotated[Finite, Field(ge=0, le=86_400)]


class Taint(Strict):
    key: str = Field(min_length=1, max_length=316)
    value: str = Field(default="", max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Flavor(Strict):
    """A Kueue ResourceFlavor: one kind of capacity, tied to nodes by labels and taints."""

    name: DnsLabel
    kind: FlavorKind = Field(
        description="`reserved` (on-premises or reserved instances), `spot` or `onDemand`."
    )
    node_labels: dict[str, str] = Field(
        alias="nodeLabels", min_length=1, description="Labels that select this flavor's nodes."
    )
    node_taints: list[Taint] = Field(
        default_factory=list,
        alias="nodeTaints",
        description="Taints on this flavor's nodes; Kueue adds the matching tolerations.",
    )


class FlavorQuota(Strict):
    """A desk's quota in one flavor (cores)."""

    nominal: Cores = Field(description="Cores the desk owns in the cohort (`nominalQuota`).")
    borrowing_limit: Cores | None = Field(
        default=None,
        alias="borrowingLimit",
        description="Most cores it may borrow above nominal; omit for no limit.",
    )
    lending_limit: Cores | None = Field(
        default=None,
        alias="lendingLimit",
        description="Most of its nominal cores others may borrow; omit to lend all.",
    )


class Desk(Strict):
    """One desk's ClusterQueue in the cohort."""

    name: DnsLabel
    namespace: DnsLabel
    weight: Annotated[Finite, Field(gt=0, le=1000)] = Field(
        default=1.0, description="Fair-sharing weight (`fairSharing.weight`)."
    )
    priority_classes: list[DnsLabel] = Field(
        alias="priorityClasses",
        min_length=1,
        description="WorkloadPriorityClasses the desk's jobs may use.",
    )
    quotas: dict[DnsLabel, FlavorQuota] = Field(
        min_length=1, description="Quota per flavor name, in cores."
    )


class PriorityClass(Strict):
    name: DnsLabel
    value: int = Field(ge=-2_147_483_648, le=1_000_000_000)
    description: str = ""


class BorrowWithinCohort(Strict):
    policy: Literal["Never", "LowerPriority"] = "LowerPriority"
    max_priority_threshold: int | None = Field(default=None, alias="maxPriorityThreshold")


class Preemption(Strict):
    """Kueue's ClusterQueue preemption settings, the same for every desk."""

    reclaim_within_cohort: Literal["Never", "LowerPriority", "Any"] = Field(
        default="Any", alias="reclaimWithinCohort"
    )
    borrow_within_cohort: BorrowWithinCohort = Field(
        default_factory=BorrowWithinCohort, alias="borrowWithinCohort"
    )
    within_cluster_queue: Literal["Never", "LowerPriority", "LowerOrNewerEqualPriority"] = Field(
        default="LowerPriority", alias="withinClusterQueue"
    )


class BurstPool(Strict):
    """A ClusterQueue that admits no workloads and lends the cloud ceilings to the desks."""

    name: DnsLabel = "burst-pool"
    quotas: dict[DnsLabel, Cores] = Field(min_length=1, description="Cores per flavor.")


class Prices(Strict):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    per_core_hour: dict[DnsLabel, Annotated[Finite, Field(ge=0)]] = Field(
        alias="perCoreHour",
        description="Price of one core for one hour, per flavor. On-premises: amortised.",
    )


class NodePoolSpec(Strict):
    """A Karpenter NodePool; it serves the flavor whose labels/taints it carries."""

    name: DnsLabel
    instance_families: list[str] = Field(alias="instanceFamilies", min_length=1)
    instance_sizes: list[str] = Field(alias="instanceSizes", min_length=1)
    architecture: Literal["amd64", "arm64"] = "amd64"
    cores_per_node: int = Field(
        alias="coresPerNode", gt=0, le=512, description="Cores of the typical node (planning)."
    )
    labels: dict[str, str] = Field(min_length=1)
    taints: list[Taint] = Field(default_factory=list)
    consolidate_after: str = Field(
        default="300s", alias="consolidateAfter", pattern=r"^(([0-9]+(s|m|h))+|Never)$"
    )
    expire_after: str = Field(
        default="168h", alias="expireAfter", pattern=r"^(([0-9]+(s|m|h))+|Never)$"
    )
    termination_grace_period: str = Field(
        default="12h", alias="terminationGracePeriod", pattern=r"^([0-9]+(s|m|h))+$"
    )


class NodeClassSpec(Strict):
    """The EC2NodeClass every burst NodePool launches with."""

    name: DnsLabel = "riskgrid-burst"
    ami_alias: str = Field(
        default="bottlerocket@latest",
        alias="amiAlias",
        pattern=r"^bottlerocket@(latest|v[0-9]+\.[0-9]+\.[0-9]+)$",
        description="Bottlerocket only: a minimal, read-only, SELinux-enforcing host OS.",
    )
    role: str = Field(
        pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$", description="Node IAM role name (not an ARN)."
    )
    subnet_tags: dict[str, str] = Field(alias="subnetTags", min_length=1)
    security_group_tags: dict[str, str] = Field(alias="securityGroupTags", min_length=1)
    data_volume_gib: int = Field(default=100, alias="dataVolumeGiB", ge=20, le=16_384)
    kms_key_id: str | None = Field(default=None, alias="kmsKeyID")


class Provisioning(Strict):
    min_seconds: Seconds = Field(default=60, alias="minSeconds")
    max_seconds: Seconds = Field(default=120, alias="maxSeconds")

    @model_validator(mode="after")
    def _order(self) -> Provisioning:
        if self.min_seconds > self.max_seconds:
            raise ValueError(f"minSeconds ({self.min_seconds}) is above maxSeconds")
        return self


class Karpenter(Strict):
    node_class: NodeClassSpec = Field(alias="nodeClass")
    node_pools: list[NodePoolSpec] = Field(alias="nodePools", min_length=1)
    provisioning: Provisioning = Field(default_factory=Provisioning)
    spot_interruptions_per_node_hour: Annotated[Finite, Field(ge=0, le=10)] = Field(
        default=0.05, alias="spotInterruptionsPerNodeHour"
    )
    interruption_notice_seconds: Seconds = Field(default=120, alias="interruptionNoticeSeconds")


class CapacityPlanSpec(Strict):
    cohort: DnsLabel = "riskgrid-desks"
    flavors: list[Flavor] = Field(
        min_length=1, description="In Kueue's try order: reserved → spot → on-demand."
    )
    priority_classes: list[PriorityClass] = Field(alias="priorityClasses", min_length=1)
    preemption: Preemption = Field(default_factory=Preemption)
    desks: list[Desk] = Field(min_length=1)
    burst_pool: BurstPool | None = Field(default=None, alias="burstPool")
    prices: Prices
    karpenter: Karpenter


class CapacityPlan(Resource):
    """The platform's capacity and how its desks share it."""

    kind: Literal["CapacityPlan"]
    spec: CapacityPlanSpec

    # -- derived views -------------------------------------------------------------------------

    @property
    def flavor_names(self) -> list[str]:
        return [f.name for f in self.spec.flavors]

    def flavor(self, name: str) -> Flavor:
        return next(f for f in self.spec.flavors if f.name == name)

    def desk(self, name: str) -> Desk:
        for d in self.spec.desks:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.spec.desks)
        raise KeyError(f"no desk {name!r} in the plan (desks: {known})")

    def cohort_nominal(self, flavor: str) -> int:
        """Cores the cohort owns in ``flavor``: the desks' nominal quotas plus the pool's."""
        total = sum(q.nominal for d in self.spec.desks for f, q in d.quotas.items() if f == flavor)
        if self.spec.burst_pool is not None:
            total += self.spec.burst_pool.quotas.get(flavor, 0)
        return total

    def node_pool_for(self, flavor: str) -> NodePoolSpec | None:
        """The NodePool whose labels and taints are the flavor's."""
        f = self.flavor(flavor)
        for pool in self.spec.karpenter.node_pools:
            if _serves(pool, f):
                return pool
        return None

    @property
    def priorities(self) -> dict[str, int]:
        return {p.name: p.value for p in self.spec.priority_classes}


def _taint_key(t: Taint) -> tuple[str, str, str]:
    return (t.key, t.value, t.effect)


def _serves(pool: NodePoolSpec, flavor: Flavor) -> bool:
    same_taints = sorted(map(_taint_key, pool.taints)) == sorted(
        map(_taint_key, flavor.node_taints)
    )
    labels = all(pool.labels.get(k) == v for k, v in flavor.node_labels.items())
    return same_taints and labels


def capacity_problems(plan: CapacityPlan) -> list[str]:
    """Every cross-field inconsistency, as ``field.path: reason``."""
    s = plan.spec
    out: list[str] = []
    names = [f.name for f in s.flavors]
    for i, name in enumerate(names):
        if name in names[:i]:
            out.append(f"spec.flavors[{i}].name: flavor {name!r} is defined twice")
    kinds = [FLAVOR_ORDER[f.kind] for f in s.flavors]
    if kinds != sorted(kinds):
        out.append(
            "spec.flavors: must be ordered reserved → spot → on-demand (Kueue tries flavors in "
            "list order, and cheaper, interruptible capacity must be tried first), got "
            + " → ".join(f.kind for f in s.flavors)
        )
    priorities = {p.name for p in s.priority_classes}
    desk_names: set[str] = set()
    for i, d in enumerate(s.desks):
        where = f"spec.desks[{i}]"
        if d.name in desk_names:
            out.append(f"{where}.name: desk {d.name!r} is defined twice")
        desk_names.add(d.name)
        for pc in d.priority_classes:
            if pc not in priorities:
                out.append(
                    f"{where}.priorityClasses: {pc!r} is not one of spec.priorityClasses "
                    f"({', '.join(sorted(priorities))})"
                )
        for flavor, q in d.quotas.items():
            fw = f"{where}.quotas.{flavor}"
            if flavor not in names:
                out.append(f"{fw}: no flavor {flavor!r} in spec.flavors ({', '.join(names)})")
                continue
            if q.lending_limit is not None and q.lending_limit > q.nominal:
                out.append(
                    f"{fw}.lendingLimit: {q.lending_limit} is above the nominal quota "
                    f"{q.nominal}; a desk can lend only what it owns"
                )
            others = plan.cohort_nominal(flavor) - q.nominal
            if (q.borrowing_limit is None or q.borrowing_limit > 0) and others <= 0:
                out.append(
                    f"{fw}.borrowingLimit: the cohort has no other quota in flavor {flavor!r} "
                    "to borrow from (set borrowingLimit: 0, or give the flavor quota elsewhere)"
                )
    if s.burst_pool is not None:
        if s.burst_pool.name in desk_names:
            out.append(f"spec.burstPool.name: {s.burst_pool.name!r} is also a desk name")
        for flavor in s.burst_pool.quotas:
            if flavor not in names:
                out.append(f"spec.burstPool.quotas.{flavor}: no flavor {flavor!r} in spec.flavors")
    pools = s.karpenter.node_pools
    for i, pool in enumerate(pools):
        served = [f for f in s.flavors if _serves(pool, f)]
        if not served:
            out.append(
                f"spec.karpenter.nodePools[{i}].taints: NodePool {pool.name!r} matches no "
                "flavor (its taints and labels must equal a flavor's nodeTaints/nodeLabels)"
            )
        elif served[0].kind == "reserved":
            out.append(
                f"spec.karpenter.nodePools[{i}]: NodePool {pool.name!r} serves the reserved "
                f"flavor {served[0].name!r}; Karpenter provisions only cloud capacity"
            )
    for i, f in enumerate(s.flavors):
        if f.kind == "reserved":
            continue
        if not any(_serves(p, f) for p in pools):
            out.append(f"spec.flavors[{i}]: cloud flavor {f.name!r} has no NodePool serving it")
        elif plan.cohort_nominal(f.name) <= 0:
            out.append(
                f"spec.flavors[{i}]: cloud flavor {f.name!r} has no quota in the cohort "
                "(give it to spec.burstPool.quotas or a desk's nominal)"
            )
    return out


def check_capacity_plan(plan: CapacityPlan, source: str) -> CapacityPlan:
    """``plan`` if it is coherent, else :class:`SpecError` with one problem per field."""
    problems = [_problem(source, text) for text in capacity_problems(plan)]
    if problems:
        raise SpecError(problems)
    return plan


def load_capacity_plan(path: str | Path) -> CapacityPlan:
    """Load a ``CapacityPlan``; bad input raises :class:`SpecError` naming file and field."""
    return check_capacity_plan(load_resource(path, CapacityPlan), str(path))


def _problem(source: str, text: str) -> Problem:
    field, _, reason = text.partition(": ")
    return Problem(source, tuple(_parse_loc(field)), reason)


def _parse_loc(text: str) -> list[Any]:
    out: list[Any] = []
    for part in text.split("."):
        while "[" in part:
            head, _, rest = part.partition("[")
            if head:
                out.append(head)
            idx, _, part = rest.partition("]")
            out.append(int(idx))
        if part:
            out.append(part)
    return out
