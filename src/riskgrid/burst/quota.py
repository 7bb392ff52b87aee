"""Kueue's quota arithmetic and preemption choice for one cohort, one resource (CPU cores).

What Kueue documents, modelled exactly for a flat cohort:

* **Fit.** A workload needing ``r`` cores fits ClusterQueue ``q`` in flavor ``f`` when
  ``usage[q,f] + r ≤ nominal[q,f] + borrowingLimit[q,f]`` (no limit: unbounded) and the cohort
  can lend what ``q`` would use beyond its *guaranteed* part. Each queue keeps
  ``nominal − lendingLimit`` to itself (all of its nominal is lendable when no lendingLimit is
  set); the rest of every queue's nominal quota is pooled. So the cohort check is
  ``Σ_p max(0, usage[p,f] − guaranteed[p,f]) ≤ Σ_p lendable[p,f]`` after admission.
* **Borrowing** means usage above nominal.
* **Flavor choice** (``flavorFungibility: whenCanBorrow: MayStopSearch, whenCanPreempt:
  TryNextFlavor``): the first flavor, in the ClusterQueue's order, where the workload fits —
  borrowing or not; only when it fits nowhere, the first flavor where preemption can make room.
* **Preemption candidates** (``preemption`` of the ClusterQueue): lower-priority workloads of
  the same queue (``withinClusterQueue: LowerPriority``); workloads of *other* queues that are
  borrowing in the flavor, when the incoming workload stays within its queue's nominal quota
  (``reclaimWithinCohort``: ``Any`` — any priority, ``LowerPriority`` — lower only); and, when
  the incoming workload must itself borrow, lower-priority workloads of other queues at or below
  ``borrowWithinCohort.maxPriorityThreshold`` (policy ``LowerPriority``). A workload of
  another queue is a candidate only while that queue is borrowing.
* **Preemption order**: other queues' workloads before the queue's own, lower priority first,
  most recently admitted first. Candidates are removed in that order until the workload fits
  (a reclaim candidate is skipped once its queue no longer borrows), then any removed candidate
  whose return would still leave room is given back (fewest preemptions).

Fair sharing orders admission (:meth:`Cohort.share`: a queue's borrowed cores over the
cohort's lendable cores, divided by its weight — Kueue's dominant resource share for one
resource). Preemption follows the classic rules above, not Kueue's fair-sharing preemption
strategies (see docs/bursting.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

UNLIMITED = 1 << 62


@dataclass(frozen=True)
class QueueQuota:
    """One ClusterQueue's quota per flavor (cores); ``None`` limits are unlimited."""

    name: str
    nominal: dict[str, int]
    borrowing_limit: dict[str, int | None] = field(default_factory=dict)
    lending_limit: dict[str, int | None] = field(default_factory=dict)
    weight: float = 1.0


@dataclass(frozen=True)
class Preemption:
    reclaim_within_cohort: str = "Any"  # Never | LowerPriority | Any
    borrow_within_cohort: str = "LowerPriority"  # Never | LowerPriority
    max_priority_threshold: int | None = None
    within_cluster_queue: str = "LowerPriority"  # Never | LowerPriority


@dataclass
class Admitted:
    """What the cohort needs to know about an admitted workload."""

    key: int
    queue: str
    flavor: str
    cores: int
    priority: int
    admitted_at: float


class Cohort:
    """Quota state of one cohort; flavors in the order every ClusterQueue lists them."""

    def __init__(
        self, queues: Iterable[QueueQuota], flavors: Sequence[str], preemption: Preemption
    ) -> None:
        self.flavors = list(flavors)
        self.queues = {q.name: q for q in queues}
        self.preemption = preemption
        self.usage: dict[str, dict[str, int]] = {
            q: {f: 0 for f in self.flavors} for q in self.queues
        }
        self.admitted: dict[int, Admitted] = {}
        self._guaranteed: dict[str, dict[str, int]] = {}
        self._cap: dict[str, dict[str, int]] = {}
        self.lendable: dict[str, int] = {f: 0 for f in self.flavors}
        for name, q in self.queues.items():
            self._guaranteed[name] = {}
            self._cap[name] = {}
            for f in self.flavors:
                nominal = q.nominal.get(f, 0)
                lend = q.lending_limit.get(f)
                lendable = nominal if lend is None else min(lend, nominal)
                self._guaranteed[name][f] = nominal - lendable
                self.lendable[f] += lendable
                borrow = q.borrowing_limit.get(f)
                self._cap[name][f] = UNLIMITED if borrow is None else nominal + borrow
        # Σ_p max(0, usage − guaranteed): what the queues draw from the lendable pool.
        self.pooled: dict[str, int] = {f: 0 for f in self.flavors}

    # -- arithmetic -------------------------------------------------------------------------------

    def guaranteed(self, queue: str, flavor: str) -> int:
        """Cores of ``queue``'s nominal quota it never lends (``nominal − lendingLimit``)."""
        return self._guaranteed[queue][flavor]

    def most(self, queue: str, flavor: str) -> int:
        """The most ``queue`` can ever use in ``flavor``: its borrowing limit or the cohort's."""
        nominal = self.queues[queue].nominal.get(flavor, 0)
        own_lendable = nominal - self._guaranteed[queue][flavor]
        return min(self._cap[queue][flavor], nominal + self.lendable[flavor] - own_lendable)

    def _pooled_delta(self, queue: str, flavor: str, delta: int) -> int:
        g = self._guaranteed[queue][flavor]
        u = self.usage[queue][flavor]
        return max(0, u + delta - g) - max(0, u - g)

    def fits(self, queue: str, flavor: str, cores: int) -> bool:
        if self.usage[queue][flavor] + cores > self._cap[queue][flavor]:
            return False
        return (
            self.pooled[flavor] + self._pooled_delta(queue, flavor, cores) <= self.lendable[flavor]
        )

    def borrows(self, queue: str, flavor: str, extra: int = 0) -> bool:
        """Whether ``queue`` uses (or, with ``extra`` more cores, would use) above nominal."""
        return self.usage[queue][flavor] + extra > self.queues[queue].nominal.get(flavor, 0)

    def share(self, queue: str, extra: int = 0, flavor: str | None = None) -> float:
        """Weighted share of the cohort's lendable cores the queue borrows (DRS, one resource)."""
        borrowed = 0
        total = 0
        for f in self.flavors:
            use = self.usage[queue][f] + (extra if f == flavor else 0)
            borrowed += max(0, use - self.queues[queue].nominal.get(f, 0))
            total += self.lendable[f]
        if total == 0:
            return 0.0
        w = self.queues[queue].weight
        return borrowed * 1000.0 / total / w if w > 0 else float("inf")

    def admit(self, wl: Admitted) -> None:
        self.pooled[wl.flavor] += self._pooled_delta(wl.queue, wl.flavor, wl.cores)
        self.usage[wl.queue][wl.flavor] += wl.cores
        self.admitted[wl.key] = wl

    def release(self, key: int) -> Admitted:
        wl = self.admitted.pop(key)
        self.pooled[wl.flavor] += self._pooled_delta(wl.queue, wl.flavor, -wl.cores)
        self.usage[wl.queue][wl.flavor] -= wl.cores
        return wl

    # -- flavor assignment and preemption -----------------------------------------------------

    def assign(self, queue: str, cores: int, flavors: Sequence[str] | None = None) -> str | None:
        """The first flavor where ``cores`` fit without preemption, or None."""
        for f in flavors or self.flavors:
            if self.fits(queue, f, cores):
                return f
        return None

    def _candidates(self, queue: str, flavor: str, cores: int, priority: int) -> list[Admitted]:
        p = self.preemption
        nominal = self.queues[queue].nominal.get(flavor, 0)
        # Would the incoming workload stay within its nominal quota (reclaim), or borrow?
        within_nominal = self.usage[queue][flavor] + cores <= nominal
        out: list[Admitted] = []
        for wl in self.admitted.values():
            if wl.flavor != flavor:
                continue
            if wl.queue == queue:
                if p.within_cluster_queue == "LowerPriority" and wl.priority < priority:
                    out.append(wl)
                continue
            # Kueue only ever takes quota back from a queue that is borrowing.
            if not self.borrows(wl.queue, flavor):
                continue
            if within_nominal:
                if p.reclaim_within_cohort == "Any" or (
                    p.reclaim_within_cohort == "LowerPriority" and wl.priority < priority
                ):
                    out.append(wl)
            elif (
                p.borrow_within_cohort == "LowerPriority"
                and wl.priority < priority
                and (p.max_priority_threshold is None or wl.priority <= p.max_priority_threshold)
            ):
                out.append(wl)
        # Other queues first, lower priority first, most recently admitted first.
        out.sort(key=lambda w: (w.queue == queue, w.priority, -w.admitted_at, -w.key))
        return out

    def preemption_targets(
        self, queue: str, cores: int, priority: int, flavors: Sequence[str] | None = None
    ) -> tuple[str, list[Admitted]] | None:
        """The first flavor where preempting some workloads makes room, and those workloads."""
        for f in flavors or self.flavors:
            victims = self._select(queue, f, cores, priority)
            if victims is not None:
                return f, victims
        return None

    def _select(self, queue: str, flavor: str, cores: int, priority: int) -> list[Admitted] | None:
        candidates = self._candidates(queue, flavor, cores, priority)
        if not candidates:
            return None
        removed: list[Admitted] = []
        for wl in candidates:
            if self.fits(queue, flavor, cores):
                break
            if wl.queue != queue and not self.borrows(wl.queue, flavor):
                continue  # that queue is back within its nominal quota
            self.release(wl.key)
            removed.append(wl)
        ok = self.fits(queue, flavor, cores)
        if ok:
            # Give back what is not needed, most recently removed first.
            for wl in reversed(list(removed)):
                self.admit(wl)
                if self.fits(queue, flavor, cores):
                    removed.remove(wl)
                else:
                    self.release(wl.key)
        for wl in removed:
            self.admit(wl)
        return removed if ok else None
