"""Prometheus metrics, on a registry per app (so tests can run several apps in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


class _JobStateCollector(Collector):
    """Jobs by state, read from the database at scrape time (so it is right after a restart)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("riskgrid_jobs", "Jobs by state.", labels=["state"])
        counts = self._counts()
        for state in JOB_STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


class Metrics:
    def __init__(self, job_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_JobStateCollector(job_counts))
        self.requests = Histogram(
            "riskgrid_http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.tasks = Counter(
            "riskgrid_tasks",
            "Grid tasks by outcome (done, failed, retried, resumed from checkpoint).",
            ["outcome"],
            registry=self.registry,
        )
        self.policy_decisions = Counter(
            "riskgrid_policy_decisions",
            "Policy decisions on job admission and dry-run checks.",
            ["source", "decision"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "riskgrid_auth_failures",
            "Rejected requests by reason.",
            ["reason"],
            registry=self.registry,
        )
