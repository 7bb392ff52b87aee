"""The burst planner: how much of a job fits the desk's quota, and what must burst.

Given a job's core-seconds ``W`` (:mod:`riskgrid.burst.sizing`), a start time and a deadline,
capacity is added flavor by flavor in the plan's order — the desk's nominal quota in the
reserved flavor, then what it may borrow there, then spot, then on-demand — until the job
finishes by the deadline. Cloud capacity starts after the NodePool's worst-case provisioning
latency ``L``; with ``c_f`` cores in flavor ``f`` starting ``d_f`` after the start, the job
finishes at the ``t`` solving ``Σ_f c_f · max(0, t − d_f) = W`` (work is perfectly divisible
into tasks: the grid planner's tasks are ~0.5–20 s, far below the window). Cloud cores come in
whole nodes. The plan is optimistic about the cohort: it assumes the other desks lend what
their lending limits allow (the simulation, not the planner, measures contention).

Cost: each flavor's cores × hours in use × the plan's price per core-hour (cloud nodes are
billed from launch). A flavor without a price is an error only if the plan uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.capacity import CapacityPlan
from riskgrid.spec.errors import Problem, SpecError


@dataclass(frozen=True)
class Share:
    """Cores of one flavor the plan uses."""

    flavor: str
    kind: str
    role: str  # "nominal" | "borrowed" | "burst"
    cores: int
    nodes: int
    cores_per_node: int
    delay: float
    price: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flavor": self.flavor,
            "kind": self.kind,
            "role": self.role,
            "cores": self.cores,
            "nodes": self.nodes,
            "startsAfterSeconds": self.delay,
        }


@dataclass(frozen=True)
class BurstPlan:
    desk: str
    core_seconds: float
    start: float
    deadline: float
    shares: tuple[Share, ...]
    finish: float
    cost: float
    currency: str
    deadline_met: bool

    @property
    def cores(self) -> int:
        return sum(s.cores for s in self.shares)

    def by_flavor(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.shares:
            out[s.flavor] = out.get(s.flavor, 0) + s.cores
        return out

    def to_dict(self) -> dict[str, Any]:
        from riskgrid.burst.simulate import clock

        return {
            "desk": self.desk,
            "coreSeconds": self.core_seconds,
            "start": clock(self.start),
            "deadline": clock(self.deadline),
            "finish": clock(self.finish) if math.isfinite(self.finish) else None,
            "deadlineMet": self.deadline_met,
            "cores": self.cores,
            "shares": [s.to_dict() for s in self.shares],
            "cost": round(self.cost, 2),
            "currency": self.currency,
        }


def finish_time(work: float, shares: list[tuple[int, float]]) -> float:
    """Smallest ``t`` with ``Σ c · max(0, t − d) = work`` (``shares`` = (cores, delay))."""
    if work <= 0:
        return 0.0
    active = sorted((d, c) for c, d in shares if c > 0)
    done, rate, t = 0.0, 0.0, 0.0
    for i, (d, c) in enumerate(active):
        if rate > 0 and done + rate * (d - t) >= work:
            return t + (work - done) / rate
        done += rate * (d - t)
        t = d
        rate += c
        nxt = active[i + 1][0] if i + 1 < len(active) else math.inf
        if done + rate * (nxt - t) >= work:
            return t + (work - done) / rate
    return math.inf


def _available(plan: CapacityPlan, desk: str) -> list[tuple[str, str, int, int]]:
    """(flavor, role, cores, cores_per_node) the desk could use, in the plan's order."""
    from riskgrid.burst.simulate import cohort_for

    cohort, flavors = cohort_for(plan, burst=True)
    out = []
    for f in flavors:
        nominal = cohort.queues[desk].nominal.get(f, 0)
        borrow = max(0, cohort.most(desk, f) - nominal)
        pool = plan.node_pool_for(f) if plan.flavor(f).kind != "reserved" else None
        cpn = pool.cores_per_node if pool else 1
        role = "burst" if pool else "borrowed"
        if nominal:
            out.append((f, "nominal", nominal, cpn))
        if borrow:
            out.append((f, role, borrow, cpn))
    return out


def plan_burst(
    plan: CapacityPlan,
    desk: str,
    core_seconds: float,
    *,
    start: float,
    deadline: float,
    plan_source: str,
) -> BurstPlan:
    """Fill the desk's capacity in flavor order until the job meets ``deadline``."""
    k = plan.spec.karpenter
    latency = float(k.provisioning.max_seconds)
    window = deadline - start
    prices = plan.spec.prices.per_core_hour
    chosen: list[Share] = []
    for flavor, role, cap, cpn in _available(plan, desk):
        kind = plan.flavor(flavor).kind
        delay = 0.0 if kind == "reserved" else latency
        current = [(s.cores, s.delay) for s in chosen]
        if chosen and finish_time(core_seconds, current) <= window:
            break
        done_by_deadline = sum(c * max(0.0, window - d) for c, d in current)
        span = window - delay
        need = math.ceil(max(0.0, core_seconds - done_by_deadline) / span) if span > 0 else cap
        cores = min(cap, max(need, 1))
        nodes = 0
        if kind != "reserved":
            nodes = math.ceil(cores / cpn)
            cores = min(nodes * cpn, (cap // cpn) * cpn or cores)
            nodes = math.ceil(cores / cpn)
        chosen.append(Share(flavor, kind, role, cores, nodes, cpn, delay, prices.get(flavor)))
    finish = finish_time(core_seconds, [(s.cores, s.delay) for s in chosen])
    missing = sorted({s.flavor for s in chosen if s.price is None})
    if missing:
        raise SpecError(
            Problem(
                plan_source,
                ("spec", "prices", "perCoreHour", f),
                f"no price for flavor {f!r}, which this plan uses",
            )
            for f in missing
        )
    cost = 0.0
    if math.isfinite(finish):
        for s in chosen:
            hours = max(0.0, finish - s.delay) / 3600.0
            if s.kind != "reserved":
                hours = finish / 3600.0  # billed from launch
            cost += s.cores * hours * (s.price or 0.0)
    return BurstPlan(
        desk=desk,
        core_seconds=core_seconds,
        start=start,
        deadline=deadline,
        shares=tuple(chosen),
        finish=start + finish,
        cost=cost,
        currency=plan.spec.prices.currency,
        deadline_met=finish <= window,
    )
