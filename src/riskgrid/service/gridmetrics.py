"""Grid metrics on ``/metrics``: tasks in flight, task outcomes and latency, queue depth.

Per-task figures come from the grid's task events (``run_job(task_events=…)``) of the jobs
this replica runs; queue depth is read from the database at scrape time, so every replica
reports the whole queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from riskgrid.grid.tasks import Task

#: Task latency buckets (seconds): grid tasks are planned to take ~0.05–30 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _QueueDepth(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "riskgrid_queue_depth",
            "Jobs waiting to run, per tenant (all replicas).",
            labels=["tenant"],
        )
        for tenant, n in sorted(self._counts().items()):
            family.add_metric([tenant], n)
        yield family


class GridMetrics:
    """The grid's metric families on ``registry`` (the app's registry)."""

    def __init__(
        self, registry: CollectorRegistry, queue_depth: Callable[[], dict[str, int]]
    ) -> None:
        self.running = Gauge(
            "riskgrid_grid_tasks_running",
            "Grid tasks dispatched to a worker and not yet finished (this replica).",
            ["tenant", "engine"],
            registry=registry,
        )
        self.outcomes = Counter(
            "riskgrid_grid_tasks",
            "Grid task outcomes: succeeded; retried (an attempt failed, it runs again); "
            "failed (out of retries); timed_out (over its task deadline).",
            ["tenant", "engine", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "riskgrid_grid_task_seconds",
            "Grid task latency, from dispatch to a worker to its result reaching the driver.",
            ["engine"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        registry.register(_QueueDepth(queue_depth))

    def sink(self, tenant: str, engine: str) -> TaskSink:
        return TaskSink(self, tenant, engine)


class TaskSink:
    """One job's task-event observer (``kind, task``); :meth:`close` when the job ends."""

    def __init__(self, metrics: GridMetrics, tenant: str, engine: str) -> None:
        self._m = metrics
        self._tenant = tenant
        self._engine = engine
        self._lock = threading.Lock()
        self._inflight: dict[str, float] = {}

    def __call__(self, kind: str, task: Task) -> None:
        now = time.monotonic()
        with self._lock:
            if kind == "started":
                if task.key not in self._inflight:
                    self._m.running.labels(self._tenant, self._engine).inc()
                self._inflight[task.key] = now
                return
            start = self._inflight.pop(task.key, None)
        if start is not None:
            self._m.running.labels(self._tenant, self._engine).dec()
            if kind == "succeeded":
                self._m.latency.labels(self._engine).observe(now - start)
        if kind in ("succeeded", "retried", "failed"):
            self._m.outcomes.labels(self._tenant, self._engine, kind).inc()

    def timed_out(self, n: int) -> None:
        """Tasks the grid reported over their deadline (``tasks.timedOut`` in the result)."""
        if n > 0:
            self._m.outcomes.labels(self._tenant, self._engine, "timed_out").inc(n)

    def close(self) -> None:
        """The job ended: whatever is still in flight was stopped with it."""
        with self._lock:
            n, self._inflight = len(self._inflight), {}
        if n:
            self._m.running.labels(self._tenant, self._engine).dec(n)
