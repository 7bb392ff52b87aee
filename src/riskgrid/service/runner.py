"""The job runner: picks admitted jobs from the database and runs them with the grid.

Scheduling is fair between tenants: each time a slot frees up, tenants with queued jobs are
served round-robin (oldest job first within a tenant), skipping tenants already at their limit
of running jobs. State lives in the database, so a restart loses nothing: jobs that were
running go back to the queue and resume from their grid checkpoint directory, where each
finished task's result was saved.

One runner per database (documented): a second replica would need leader election or leases.
"""

from __future__ import annotations

import logging
import shutil
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from riskgrid.service import gridbridge
from riskgrid.service.db import Database
from riskgrid.service.jobfiles import load_blobs, write_job_dir
from riskgrid.service.metrics import Metrics
from riskgrid.service.models import JobRow, TenantRow, utcnow
from riskgrid.service.settings import Settings
from riskgrid.service.store import ResultStore

log = logging.getLogger("riskgrid.service.runner")

TERMINAL = ("succeeded", "failed", "cancelled")
MAX_RUNNING_ANNOTATION = "riskgrid.dev/max-running-jobs"


@dataclass(frozen=True)
class TenantLimits:
    max_running_jobs: int
    max_workers: int


def tenant_limits(settings: Settings, tenant_doc: dict[str, Any] | None) -> TenantLimits:
    """Limits from the tenant spec (its Ray worker quota, an annotation) capped by the server."""
    jobs = settings.tenant_max_running_jobs
    workers = settings.max_workers
    if tenant_doc:
        spec = tenant_doc.get("spec", {})
        quota = spec.get("quotas", {}).get("maxRayWorkers")
        if isinstance(quota, int) and quota > 0:
            workers = min(workers, quota)
        raw = tenant_doc.get("metadata", {}).get("annotations", {}).get(MAX_RUNNING_ANNOTATION)
        if raw is not None and str(raw).isdigit() and int(raw) > 0:
            jobs = int(raw)
    return TenantLimits(max_running_jobs=jobs, max_workers=max(1, workers))


def pick_next(
    queued: list[tuple[str, str]],
    running_by_tenant: dict[str, int],
    limits: Callable[[str], TenantLimits],
    last_tenant: str | None,
) -> str | None:
    """Round-robin over tenants with queued jobs, after ``last_tenant``; ``queued`` is
    (job id, tenant) oldest first. Returns a job id or None. Pure, for testing fairness."""
    first_by_tenant: dict[str, str] = {}
    for job_id, tenant in queued:
        first_by_tenant.setdefault(tenant, job_id)
    tenants = sorted(first_by_tenant)
    if not tenants:
        return None
    start = 0
    if last_tenant is not None:
        start = next((i for i, t in enumerate(tenants) if t > last_tenant), 0)
    for i in range(len(tenants)):
        t = tenants[(start + i) % len(tenants)]
        if running_by_tenant.get(t, 0) < limits(t).max_running_jobs:
            return first_by_tenant[t]
    return None


class JobRunner:
    def __init__(
        self, db: Database, settings: Settings, metrics: Metrics, store: ResultStore
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.work_root = settings.state_dir / "work"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._last_tenant: str | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def recover(self) -> int:
        """Put jobs left 'running' by a previous process back in the queue (they resume)."""
        with self.db.session() as s:
            res = s.execute(update(JobRow).where(JobRow.state == "running").values(state="queued"))
            return res.rowcount or 0

    def start(self) -> None:
        n = self.recover()
        if n:
            log.info("requeued %d job(s) interrupted by a restart; they resume from checkpoints", n)
        self._thread = threading.Thread(target=self._loop, name="riskgrid-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            for ev in self._cancel.values():
                ev.set()  # the jobs stay 'running' in the DB and resume on the next start
            threads = list(self._running.values())
        for t in threads:
            t.join(timeout)
        if self._thread:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, job_id: str) -> None:
        with self._lock:
            ev = self._cancel.get(job_id)
        if ev is not None:
            ev.set()

    # -- scheduling --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self._schedule_one():
                    pass
            except Exception:  # the loop must survive a database hiccup
                log.exception("runner: scheduling failed")
            self._wake.wait(self.settings.runner_poll_seconds)
            self._wake.clear()

    def _schedule_one(self) -> bool:
        with self._lock:
            self._running = {k: t for k, t in self._running.items() if t.is_alive()}
            if self._stop.is_set() or len(self._running) >= self.settings.max_running_jobs:
                return False
        with self.db.session() as s:
            queued = [
                (r.id, r.tenant)
                for r in s.execute(
                    select(JobRow.id, JobRow.tenant)
                    .where(JobRow.state == "queued")
                    .order_by(JobRow.submitted_at, JobRow.id)
                    .limit(1000)
                )
            ]
            if not queued:
                return False
            running = dict(
                s.execute(
                    select(JobRow.tenant, func.count())
                    .where(JobRow.state == "running")
                    .group_by(JobRow.tenant)
                ).all()
            )
            tenant_docs = {
                r.name: r.spec
                for r in s.scalars(
                    select(TenantRow).where(TenantRow.name.in_({t for _, t in queued}))
                )
            }
            job_id = pick_next(
                queued,
                running,
                lambda t: tenant_limits(self.settings, tenant_docs.get(t)),
                self._last_tenant,
            )
            if job_id is None:
                return False
            claimed = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "queued")
                .values(state="running", started_at=utcnow(), attempts=JobRow.attempts + 1)
            ).rowcount
            tenant = next(t for j, t in queued if j == job_id)
        if not claimed:
            return True
        self._last_tenant = tenant
        limits = tenant_limits(self.settings, tenant_docs.get(tenant))
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._execute,
            args=(job_id, limits.max_workers, cancel),
            name=f"riskgrid-job-{job_id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._cancel[job_id] = cancel
            self._running[job_id] = thread
        thread.start()
        return True

    # -- execution ---------------------------------------------------------------------------

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def _cancel_requested(self, job_id: str) -> bool:
        with self.db.session() as s:
            return bool(s.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def _execute(self, job_id: str, workers: int, cancel: threading.Event) -> None:
        try:
            self._run(job_id, workers, cancel)
        except Exception as exc:  # never let a job kill the runner thread silently
            log.error("job %s failed: %s", job_id, exc)
            log.debug("%s", traceback.format_exc())
            self._set(job_id, state="failed", finished_at=utcnow(), error=str(exc)[:2000])
        finally:
            with self._lock:
                self._cancel.pop(job_id, None)
            self._wake.set()

    def _run(self, job_id: str, workers: int, cancel: threading.Event) -> None:
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            assert row is not None
            tenant, inputs = row.tenant, row.inputs
            files = load_blobs(s, inputs.get("blobs", {}))
        work = self.work_root / job_id
        inputs_dir = work / "inputs"
        if inputs_dir.exists():
            shutil.rmtree(inputs_dir)
        job_path = write_job_dir(inputs_dir, inputs["job"], files)
        out_dir = work / "out"
        if out_dir.exists():
            shutil.rmtree(out_dir)
        checkpoint_dir = work / "checkpoint"
        checkpoint_dir.mkdir(parents=True, exist_ok=True)

        progress = _ProgressWriter(self, job_id)

        def cancelled() -> bool:
            if cancel.is_set():
                return True
            if progress.poll_cancel():
                cancel.set()
            return cancel.is_set()

        try:
            outcome = gridbridge.run(
                job_path,
                engine=self.settings.engine,
                workers=workers,
                ray_address=self.settings.ray_address,
                out_dir=out_dir,
                checkpoint_dir=checkpoint_dir,
                progress=progress,
                cancel=cancelled,
            )
        except gridbridge.Cancelled:
            if self._stop.is_set() and not self._cancel_requested(job_id):
                return  # server shutting down: leave it 'running', it resumes on restart
            self._set(job_id, state="cancelled", finished_at=utcnow(), **progress.values())
            return
        names = self.store.put_dir(tenant, job_id, out_dir)
        stats = outcome.tasks
        self.metrics.tasks.labels("done").inc(max(0, stats.done - stats.resumed))
        self.metrics.tasks.labels("failed").inc(stats.failed)
        self.metrics.tasks.labels("retried").inc(stats.retried)
        self.metrics.tasks.labels("resumed").inc(stats.resumed)
        self._set(
            job_id,
            state=outcome.status,
            finished_at=utcnow(),
            result_files=names,
            error=outcome.error,
            tasks_total=stats.total,
            tasks_done=stats.done,
            tasks_failed=stats.failed,
            tasks_retried=stats.retried,
            tasks_resumed=stats.resumed,
        )
        shutil.rmtree(work, ignore_errors=True)


class _ProgressWriter:
    """Receives grid progress and writes it to the job row, at most a few times a second."""

    INTERVAL = 0.25

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self.runner = runner
        self.job_id = job_id
        self.stats = gridbridge.TaskStats()
        self._last_write = 0.0
        self._last_poll = 0.0

    def __call__(self, stats: gridbridge.TaskStats) -> None:
        import time

        self.stats = stats
        now = time.monotonic()
        if now - self._last_write >= self.INTERVAL or stats.done >= stats.total > 0:
            self._last_write = now
            self.runner._set(self.job_id, **self.values())

    def values(self) -> dict[str, int]:
        s = self.stats
        return {
            "tasks_total": s.total,
            "tasks_done": s.done,
            "tasks_failed": s.failed,
            "tasks_retried": s.retried,
            "tasks_resumed": s.resumed,
        }

    def poll_cancel(self) -> bool:
        """Cancellation requested through the API (possibly by another replica)."""
        import time

        now = time.monotonic()
        if now - self._last_poll < 0.5:
            return False
        self._last_poll = now
        return self.runner._cancel_requested(self.job_id)
