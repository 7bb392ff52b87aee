"""Discrete-event simulation of a day of desk submissions against a capacity plan.

Granularity: **one workload per job**, simulated in aggregate. A job is a Kueue workload of
``cores`` cores (gang-admitted, as a RayJob is) carrying ``core_seconds`` of work cut into
``tasks`` tasks of ``task_seconds``; while running it progresses at ``cores`` core-seconds per
second, so it costs O(1) events however many tasks it has (10 million tasks → 10,000 jobs'
worth of events). Task granularity enters where it matters — the work lost when a node or a
workload goes away:

* **Spot interruption** (Poisson, ``spotInterruptionsPerNodeHour`` per node, 2-minute notice):
  tasks that finish within the notice complete; the others are lost and retried. With task
  progress uniform over ``[0, T)``, the expected lost work per core is
  ``max(0, T − notice)² / (2T)``. The replacement node takes a provisioning latency, during
  which the node's cores are lost too (added to the job's remaining work).
* **Preemption** by Kueue: completed tasks are kept (riskgrid checkpoints per task), in-flight
  ones are lost: ``T/2`` per core on average; the job is requeued (Kueue's default
  ``requeuingStrategy.timestamp: Eviction``: at the back of its priority).

Admission follows :mod:`riskgrid.burst.quota` (Kueue's documented rules) in scheduling
cycles: after every batch of simultaneous events, the heads of every ClusterQueue's queue
(BestEffortFIFO, priority then submission time) are considered, those that fit without
borrowing first, then the lowest fair-sharing share, then priority and time. A head that fits
nowhere may preempt. Jobs of one group are identical, so each queue keeps a FIFO per group and
a head that does not fit makes the rest of its group wait too (exactly what BestEffortFIFO
would conclude, at O(groups) per cycle instead of O(pending)).

Karpenter: a job admitted to a cloud flavor uses idle nodes of that flavor first and launches
the rest (``ceil(cores / coresPerNode)`` nodes per job, no packing across jobs); it starts
when all are ready (uniform ``[minSeconds, maxSeconds]``). A node that empties is removed after
``consolidateAfter`` (``WhenEmpty``) unless a job takes it first. Nodes cost from launch to
removal; on-premises cores cost while busy (the plan's amortised price).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskgrid.burst.quota import Admitted, Cohort, Preemption, QueueQuota
from riskgrid.spec.capacity import CapacityPlan

ARRIVE, READY, FINISH, INTERRUPT, CONSOLIDATE = range(5)


@dataclass(frozen=True)
class Job:
    """One workload to simulate (times in seconds after midnight)."""

    key: int
    desk: str
    group: str
    priority: int
    arrival: float
    cores: int
    core_seconds: float
    deadline: float | None


@dataclass
class _State:
    job: Job
    remaining: float
    queued_at: float
    flavor: str | None = None
    nodes: int = 0
    rate: float = 0.0
    last: float = 0.0
    started: float | None = None
    first_admitted: float | None = None
    finished: float | None = None
    version: int = 0
    preemptions: int = 0
    interruptions: int = 0


@dataclass
class _Pool:
    """Karpenter nodes of one cloud flavor."""

    cores_per_node: int
    price_per_node_second: float
    idle: deque[float] = field(default_factory=deque)  # idle-since times, oldest first
    total: int = 0  # launched and not yet removed (busy, idle or provisioning)
    cost: float = 0.0
    last: float = 0.0
    peak: int = 0

    def account(self, t: float) -> None:
        self.cost += self.total * (t - self.last) * self.price_per_node_second
        self.last = t


@dataclass(frozen=True)
class Settings:
    provisioning: tuple[float, float]
    spot_rate_per_node_second: float
    notice_seconds: float
    consolidate_after: dict[str, float]
    task_seconds: float
    seed: int


@dataclass
class Outcome:
    """Everything a run produced; :meth:`to_dict` is the ``--json`` shape of one mode."""

    jobs: list[_State]
    desk_deadlines: dict[str, float]
    cost_by_flavor: dict[str, float]
    peak_cores: int
    peak_cloud_nodes: dict[str, int]
    preemptions: int
    interruptions: int
    series: dict[str, np.ndarray]
    currency: str
    events: int
    #: Price per core-second: ``"onprem"`` (the reserved flavors') and each cloud flavor's.
    prices: dict[str, float] = field(default_factory=dict)

    def desk_summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for desk, deadline in self.desk_deadlines.items():
            mine = [s for s in self.jobs if s.job.desk == desk]
            counted = [s for s in mine if s.job.deadline is not None]
            done = [s.finished for s in mine if s.finished is not None]
            unfinished = len(mine) - len(done)
            waits = np.array(
                [s.first_admitted - s.job.arrival for s in mine if s.first_admitted is not None]
            )
            last = max(done) if done and not unfinished else None
            last_counted = [s.finished for s in counted]
            met = all(f is not None and f <= deadline for f in last_counted)
            out[desk] = {
                "deadline": clock(deadline),
                "deadlineMet": bool(met),
                "finishedAt": clock(last) if last is not None else None,
                "jobs": len(mine),
                "unfinished": unfinished,
                "queueWaitP50Seconds": _pct(waits, 50),
                "queueWaitP99Seconds": _pct(waits, 99),
                "preemptions": sum(s.preemptions for s in mine),
                "interruptions": sum(s.interruptions for s in mine),
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "desks": self.desk_summary(),
            "costTotal": round(sum(self.cost_by_flavor.values()), 2),
            "costByFlavor": {f: round(c, 2) for f, c in self.cost_by_flavor.items()},
            "currency": self.currency,
            "peakCores": self.peak_cores,
            "peakCloudNodes": self.peak_cloud_nodes,
            "preemptions": self.preemptions,
            "interruptions": self.interruptions,
            "utilisation": self.utilisation(),
            "events": self.events,
            "timeline": self.timeline(),
        }

    def timeline(self, step: float = 900.0) -> list[dict[str, Any]]:
        """Fleet, queue and cumulative cost sampled every ``step`` seconds (state at that time)."""
        s = self.series
        t = s["t"]
        if len(t) == 0:
            return []
        clouds = [k for k in s if k.startswith("cloud:")]
        # Cost rate between events: busy on-prem cores and provisioned cloud cores × price.
        rate = s["onprem"] * self.prices.get("onprem", 0.0)
        for k in clouds:
            rate = rate + s[k] * self.prices.get(k.split(":", 1)[1], 0.0)
        cumulative = np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(t))])
        out = []
        for x in np.arange(math.floor(t[0] / step) * step, t[-1] + step, step):
            i = int(np.searchsorted(t, x, side="right")) - 1
            if i < 0:
                continue
            spent = cumulative[i] + rate[i] * (min(x, t[-1]) - t[i])
            row: dict[str, Any] = {
                "at": clock(x),
                "onPremisesBusyCores": int(s["onprem"][i]),
                "queuedCores": int(s["pending"][i]),
                "admittedCores": int(s["busy"][i]),
                "costSoFar": round(float(spent), 2),
            }
            for k in clouds:
                row[f"cloudCores:{k.split(':', 1)[1]}"] = int(s[k][i])
            out.append(row)
        return out

    def utilisation(self) -> float:
        """Busy cores over provisioned cores, time-weighted over the simulated span."""
        t = self.series["t"]
        if len(t) < 2:
            return 0.0
        dt = np.diff(t)
        busy = float(np.sum(self.series["busy"][:-1] * dt))
        cap = float(np.sum(self.series["capacity"][:-1] * dt))
        return round(busy / cap, 4) if cap > 0 else 0.0


def _pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values.size else None


def clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def cohort_for(plan: CapacityPlan, *, burst: bool) -> tuple[Cohort, list[str]]:
    """Kueue's cohort for the plan; without ``burst``, the cloud flavors are gone."""
    flavors = [f.name for f in plan.spec.flavors if burst or f.kind == "reserved"]
    queues = [
        QueueQuota(
            name=d.name,
            nominal={f: q.nominal for f, q in d.quotas.items() if f in flavors},
            borrowing_limit={f: q.borrowing_limit for f, q in d.quotas.items() if f in flavors},
            lending_limit={f: q.lending_limit for f, q in d.quotas.items() if f in flavors},
            weight=d.weight,
        )
        for d in plan.spec.desks
    ]
    pool = plan.spec.burst_pool
    if pool is not None and burst:
        queues.append(
            QueueQuota(
                name=pool.name,
                nominal={f: n for f, n in pool.quotas.items() if f in flavors},
                borrowing_limit={f: 0 for f in flavors},
            )
        )
    p = plan.spec.preemption
    pre = Preemption(
        reclaim_within_cohort=p.reclaim_within_cohort,
        borrow_within_cohort=p.borrow_within_cohort.policy,
        max_priority_threshold=p.borrow_within_cohort.max_priority_threshold,
        within_cluster_queue="LowerPriority" if p.within_cluster_queue != "Never" else "Never",
    )
    return Cohort(queues, flavors, pre), flavors


class Simulation:
    """One run: ``Simulation(plan, jobs, settings, burst=...).run()``."""

    def __init__(
        self,
        plan: CapacityPlan,
        jobs: list[Job],
        settings: Settings,
        *,
        burst: bool,
        desk_deadlines: dict[str, float],
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.cohort, self.flavors = cohort_for(plan, burst=burst)
        self.kind = {f.name: f.kind for f in plan.spec.flavors}
        prices = plan.spec.prices.per_core_hour
        self.core_price = {f: prices.get(f, 0.0) / 3600.0 for f in self.flavors}
        self.pools: dict[str, _Pool] = {}
        for f in self.flavors:
            if self.kind[f] == "reserved":
                continue
            pool = plan.node_pool_for(f)
            assert pool is not None  # the plan's own validation guarantees a NodePool
            self.pools[f] = _Pool(pool.cores_per_node, pool.cores_per_node * self.core_price[f])
        self.onprem_capacity = sum(
            plan.cohort_nominal(f) for f in self.flavors if self.kind[f] == "reserved"
        )
        self.jobs = jobs
        self.desk_deadlines = desk_deadlines
        self.rng = np.random.default_rng(settings.seed)
        self.events: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        self.states: dict[int, _State] = {}
        # Per queue: group name → FIFO of waiting job keys; groups in first-seen order.
        self.waiting: dict[str, dict[str, deque[int]]] = {d.name: {} for d in plan.spec.desks}
        self.reserved_cost = {f: 0.0 for f in self.flavors if self.kind[f] == "reserved"}
        self.onprem_busy = 0
        self.preemptions = 0
        self.interruptions = 0
        self.pending_cores = 0
        self._series: list[tuple[float, ...]] = []
        self.n_events = 0

    # -- event plumbing -------------------------------------------------------------------------

    def _push(self, t: float, kind: int, key: int, version: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, key, version))

    def run(self) -> Outcome:
        for job in self.jobs:
            self._push(job.arrival, ARRIVE, job.key)
        while self.events:
            t = self.events[0][0]
            changed = False
            while self.events and self.events[0][0] == t:
                _, kind, _, key, version = heapq.heappop(self.events)
                if self._handle(t, kind, key, version):
                    self.n_events += 1
                    changed = True
            if changed:  # stale events (superseded finish/interruption times) change nothing
                self._schedule(t)
                self._record(t)
        end = self._series[-1][0] if self._series else 0.0
        for pool in self.pools.values():
            pool.account(end)
        return self._outcome()

    def _handle(self, t: float, kind: int, key: int, version: int) -> bool:
        """Apply one event; False when it was stale (superseded by a later version)."""
        if kind == ARRIVE:
            job = self.jobs_by_key[key]
            st = _State(job, job.core_seconds, queued_at=t, last=t)
            self.states[key] = st
            self._enqueue(st)
            return True
        if kind == CONSOLIDATE:
            return self._consolidate(self.flavors[key], t)
        st = self.states[key]
        if st.version != version or st.finished is not None:
            return False
        if kind == READY and st.flavor is not None and st.started is None:
            self._start(st, t)
            return True
        if kind == FINISH:
            self._finish(st, t)
            return True
        if kind == INTERRUPT and st.started is not None:
            self._interrupt(st, t)
            return True
        return False

    @property
    def jobs_by_key(self) -> dict[int, Job]:
        if not hasattr(self, "_by_key"):
            self._by_key = {j.key: j for j in self.jobs}
        return self._by_key

    # -- queues -----------------------------------------------------------------------------------

    def _enqueue(self, st: _State) -> None:
        groups = self.waiting[st.job.desk]
        groups.setdefault(st.job.group, deque()).append(st.job.key)
        self.pending_cores += st.job.cores

    def _heads(self) -> list[_State]:
        heads = []
        for groups in self.waiting.values():
            for fifo in groups.values():
                if fifo:
                    heads.append(self.states[fifo[0]])
        return heads

    def _schedule(self, t: float) -> None:
        """Kueue scheduling cycles until nothing more is admitted or preempted."""
        blocked: set[tuple[str, str]] = set()
        budget = 4 * len(self.jobs) + 16  # admissions + preemptions possible at one instant
        while True:
            budget -= 1
            if budget < 0:
                raise RuntimeError(f"scheduling at t={t} does not converge (preemption cycle)")
            heads = [h for h in self._heads() if (h.job.desk, h.job.group) not in blocked]
            if not heads:
                return
            ranked = []
            for h in heads:
                flavor = self.cohort.assign(h.job.desk, h.job.cores)
                borrows = flavor is not None and self.cohort.borrows(
                    h.job.desk, flavor, h.job.cores
                )
                share = self.cohort.share(h.job.desk, h.job.cores, flavor)
                ranked.append(
                    ((flavor is None, borrows, share, -h.job.priority, h.queued_at, h.job.key), h)
                )
            ranked.sort(key=lambda x: x[0])
            progressed = False
            for _, h in ranked:
                flavor = self.cohort.assign(h.job.desk, h.job.cores)
                if flavor is not None:
                    self._admit(h, flavor, t)
                    progressed = True
                    break
                found = self.cohort.preemption_targets(h.job.desk, h.job.cores, h.job.priority)
                if found is not None:
                    flavor, victims = found
                    for v in victims:
                        self._preempt(self.states[v.key], t)
                    self._admit(h, flavor, t)
                    progressed = True
                    break
                blocked.add((h.job.desk, h.job.group))
            if not progressed:
                return

    def _admit(self, st: _State, flavor: str, t: float) -> None:
        fifo = self.waiting[st.job.desk][st.job.group]
        assert fifo[0] == st.job.key
        fifo.popleft()
        self.pending_cores -= st.job.cores
        self.cohort.admit(
            Admitted(st.job.key, st.job.desk, flavor, st.job.cores, st.job.priority, t)
        )
        st.flavor = flavor
        if st.first_admitted is None:
            st.first_admitted = t
        st.version += 1
        if self.kind[flavor] == "reserved":
            self.onprem_busy += st.job.cores
            self._start(st, t)
            return
        pool = self.pools[flavor]
        need = math.ceil(st.job.cores / pool.cores_per_node)
        reuse = min(need, len(pool.idle))
        for _ in range(reuse):
            pool.idle.pop()  # most recently idle first: older idle nodes get consolidated
        launch = need - reuse
        st.nodes = need
        if launch:
            pool.account(t)
            pool.total += launch
            pool.peak = max(pool.peak, pool.total)
            lo, hi = self.settings.provisioning
            self._push(t + float(self.rng.uniform(lo, hi)), READY, st.job.key, st.version)
        else:
            self._start(st, t)

    def _start(self, st: _State, t: float) -> None:
        st.started = t
        st.last = t
        st.rate = float(st.job.cores)
        self._push(t + st.remaining / st.rate, FINISH, st.job.key, st.version)
        if self.kind[st.flavor or ""] == "spot":
            self._next_interruption(st, t)

    def _next_interruption(self, st: _State, t: float) -> None:
        rate = self.settings.spot_rate_per_node_second * st.nodes
        if rate > 0:
            self._push(t + float(self.rng.exponential(1.0 / rate)), INTERRUPT, st.job.key,
                       st.version)  # fmt: skip

    def _progress(self, st: _State, t: float) -> None:
        if st.started is not None:
            st.remaining = max(0.0, st.remaining - st.rate * (t - st.last))
        st.last = t

    def _release(self, st: _State, t: float) -> None:
        assert st.flavor is not None
        self.cohort.release(st.job.key)
        if self.kind[st.flavor] == "reserved":
            self.onprem_busy -= st.job.cores
            assert st.started is not None
            self.reserved_cost[st.flavor] += (
                st.job.cores * (t - st.started) * self.core_price[st.flavor]
            )
        else:
            pool = self.pools[st.flavor]
            f_index = self.flavors.index(st.flavor)
            # Nodes still provisioning are kept too: Karpenter finishes launching them.
            for _ in range(st.nodes):
                pool.idle.append(t)
            after = self.settings.consolidate_after[st.flavor]
            if math.isfinite(after):  # consolidateAfter: Never keeps empty nodes (billed)
                self._push(t + after, CONSOLIDATE, f_index)
        st.flavor = None
        st.nodes = 0
        st.rate = 0.0
        st.started = None

    def _finish(self, st: _State, t: float) -> None:
        self._progress(st, t)
        st.finished = t
        st.version += 1
        self._release(st, t)

    def _preempt(self, st: _State, t: float) -> None:
        self._progress(st, t)
        if st.started is not None:
            # In-flight tasks are lost: on average half a task per core.
            st.remaining += st.job.cores * min(self.settings.task_seconds, t - st.started) / 2
        st.version += 1
        st.preemptions += 1
        self.preemptions += 1
        self._release(st, t)
        st.queued_at = t  # requeued with the eviction time
        self._enqueue(st)

    def _interrupt(self, st: _State, t: float) -> None:
        self._progress(st, t)
        pool = self.pools[st.flavor or ""]
        task, notice = self.settings.task_seconds, self.settings.notice_seconds
        lost_per_core = max(0.0, task - notice) ** 2 / (2 * task)
        lo, hi = self.settings.provisioning
        replacement = float(self.rng.uniform(lo, hi))
        # The node's cores are gone from the notice's end until the replacement is Ready.
        st.remaining += pool.cores_per_node * (lost_per_core + replacement)
        pool.account(t)  # the interrupted node is replaced one for one
        st.interruptions += 1
        self.interruptions += 1
        st.version += 1
        self._push(t + st.remaining / st.rate, FINISH, st.job.key, st.version)
        self._next_interruption(st, t)

    def _consolidate(self, flavor: str, t: float) -> bool:
        pool = self.pools[flavor]
        after = self.settings.consolidate_after[flavor]
        removed = 0
        while pool.idle and pool.idle[0] + after <= t + 1e-9:
            pool.idle.popleft()
            removed += 1
        if removed:
            pool.account(t)
            pool.total -= removed
        return bool(removed)

    # -- accounting -----------------------------------------------------------------------------

    def _record(self, t: float) -> None:
        cloud = [p.total * p.cores_per_node for p in self.pools.values()]
        # Admitted cores (cloud ones include those waiting for their nodes).
        busy = sum(sum(u.values()) for q, u in self.cohort.usage.items() if q in self.waiting)
        self._series.append(
            (t, float(self.onprem_busy), float(sum(cloud)), float(self.pending_cores),
             float(busy), float(self.onprem_capacity + sum(cloud)), *map(float, cloud))
        )  # fmt: skip

    def _outcome(self) -> Outcome:
        arr = np.array(self._series) if self._series else np.zeros((0, 6 + len(self.pools)))
        series = {
            "t": arr[:, 0],
            "onprem": arr[:, 1],
            "cloud": arr[:, 2],
            "pending": arr[:, 3],
            "busy": arr[:, 4],
            "capacity": arr[:, 5],
        }
        for i, f in enumerate(self.pools):
            series[f"cloud:{f}"] = arr[:, 6 + i]
        cost = {f: 0.0 for f in self.flavors}
        cost.update(self.reserved_cost)
        for f, pool in self.pools.items():
            cost[f] = pool.cost
        peak = int(np.max(series["onprem"] + series["cloud"])) if len(arr) else 0
        return Outcome(
            jobs=[self.states[j.key] for j in self.jobs if j.key in self.states],
            desk_deadlines=self.desk_deadlines,
            cost_by_flavor=cost,
            peak_cores=peak,
            peak_cloud_nodes={f: p.peak for f, p in self.pools.items()},
            preemptions=self.preemptions,
            interruptions=self.interruptions,
            series=series,
            currency=self.plan.spec.prices.currency,
            events=self.n_events,
            prices={
                "onprem": max(
                    (self.core_price[f] for f in self.flavors if self.kind[f] == "reserved"),
                    default=0.0,
                ),
                **{f: self.core_price[f] for f in self.pools},
            },
        )
