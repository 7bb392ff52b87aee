"""The job runner: picks admitted jobs from the database and runs them with the grid.

Scheduling is fair between tenants: each time a slot frees up, tenants with queued jobs are
served round-robin (oldest job first within a tenant), skipping tenants already at their limit
of running jobs. State lives in the database, so a restart loses nothing: a job whose runner
died is claimed again and resumes from its grid checkpoint directory, where each finished
task's result was saved.

Several replicas may run runners against one PostgreSQL: each job is claimed by exactly one
runner under a lease it renews while the job runs (``claims.py``); a dead runner's lease
expires and another runner takes the job over. SQLite: one runner.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import func, select

from riskgrid.service import gridbridge
from riskgrid.service.claims import Claim, ClaimStore
from riskgrid.service.db import Database
from riskgrid.service.gridmetrics import GridMetrics
from riskgrid.service.jobfiles import load_blobs, write_job_dir
from riskgrid.service.metrics import Metrics
from riskgrid.service.models import JobRow, TenantRow
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


@dataclass
class _Active:
    """A job this runner holds: its claim, the stop signal, and why it was stopped."""

    claim: Claim
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    lease_lost: bool = False
    deadline_passed: bool = False
    renewed_at: float = field(default_factory=time.monotonic)


class JobRunner:
    def __init__(
        self, db: Database, settings: Settings, metrics: Metrics, store: ResultStore
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.work_root = settings.state_dir / "work"
        self.claims = ClaimStore(db, settings.runner_name, settings.lease_seconds)
        self.grid_metrics = GridMetrics(metrics.registry, self._queue_depth)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._last_tenant: str | None = None
        self._threads: list[threading.Thread] = []
        self.engines = WarmEngines(settings.warm_workers and settings.engine == "local")

    # -- lifecycle ---------------------------------------------------------------------------

    def recover(self) -> int:
        """Free the claims of this runner id's previous process (it is gone): its jobs are
        claimed again at once and resume from their checkpoints. Other runners' claims are
        left to their leases."""
        return self.claims.expire_own()

    def start(self) -> None:
        n = self.recover()
        if n:
            log.info(
                "reclaiming %d job(s) interrupted by a restart; they resume from checkpoints", n
            )
        for target, name in ((self._loop, "riskgrid-runner"), (self._heartbeat, "riskgrid-lease")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            active = list(self._active.values())
        for a in active:
            a.cancel.set()  # each job hands its claim back to the queue (see _run)
        for a in active:
            if a.thread is not None:
                a.thread.join(timeout)
        for t in self._threads:
            t.join(timeout)
        self.engines.close()
        if self.settings.engine == "ray":
            gridbridge.disconnect_ray()

    def wake(self) -> None:
        self._wake.set()

    def request_cancel(self, job_id: str) -> None:
        with self._lock:
            a = self._active.get(job_id)
        if a is not None:
            a.cancel.set()

    def _queue_depth(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(
                select(JobRow.tenant, func.count())
                .where(JobRow.state == "queued")
                .group_by(JobRow.tenant)
            ).all()
        return {t: int(n) for t, n in rows}

    # -- leases ------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Renew the leases of the jobs this runner holds, every third of a lease.

        A lease found taken over stops that job at once. If renewals keep failing (database
        unreachable) for a whole lease, the runner stops the job too: by then another runner
        may have taken it, and two copies must not keep running.
        """
        period = self.settings.lease_seconds / 3
        while not self._stop.wait(period):
            with self._lock:
                active = list(self._active.values())
            if not active:
                continue
            try:
                lost = self.claims.renew([a.claim for a in active])
            except Exception:
                log.exception("runner: lease renewal failed")
                now = time.monotonic()
                for a in active:
                    if now - a.renewed_at >= self.settings.lease_seconds:
                        log.error(
                            "job %s: lease not renewed for a whole lease; stopping it",
                            a.claim.job_id,
                        )
                        a.lease_lost = True
                        a.cancel.set()
                continue
            now = time.monotonic()
            for a in active:
                if a.claim.token in lost:
                    log.warning(
                        "job %s: lease taken over by another runner; stopping it", a.claim.job_id
                    )
                    a.lease_lost = True
                    a.cancel.set()
                else:
                    a.renewed_at = now

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
            self._active = {
                k: a for k, a in self._active.items() if a.thread is None or a.thread.is_alive()
            }
            if self._stop.is_set() or len(self._active) >= self.settings.max_running_jobs:
                return False
        with self.db.session() as s:
            with self._lock:
                mine = set(self._active)
            # a job this process still runs is not claimed again here, even if its lease
            # lapsed (a slow heartbeat): the heartbeat stops it, another replica resumes it
            queued = [(j, t) for j, t in self.claims.candidates(s) if j not in mine]
            if not queued:
                return False
            running = self.claims.running_by_tenant(s)
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
            tenant = next(t for j, t in queued if j == job_id)
            limits = tenant_limits(self.settings, tenant_docs.get(tenant))
            claim = self.claims.claim(s, job_id, tenant, limits.max_running_jobs)
        self._last_tenant = tenant
        if claim is None:
            return False  # another replica got there first; look again on the next wake-up
        active = _Active(claim)
        active.thread = threading.Thread(
            target=self._execute,
            args=(active, limits.max_workers),
            name=f"riskgrid-job-{job_id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._active[job_id] = active
        active.thread.start()
        return True

    # -- execution ---------------------------------------------------------------------------

    def _cancel_requested(self, job_id: str) -> bool:
        with self.db.session() as s:
            return bool(s.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def _execute(self, active: _Active, workers: int) -> None:
        claim = active.claim
        try:
            self._run(active, workers)
        except Exception as exc:  # never let a job kill the runner thread silently
            log.error("job %s failed: %s", claim.job_id, exc)
            log.debug("%s", traceback.format_exc())
            if not active.lease_lost:
                self.claims.finish(claim, "failed", error=str(exc)[:2000])
        finally:
            with self._lock:
                if self._active.get(claim.job_id) is active:
                    del self._active[claim.job_id]
            self._wake.set()

    def _run(self, active: _Active, workers: int) -> None:
        """One claimed job, in its steps: prepare its files, run it on the grid, record the
        outcome (a cancelled run has recorded itself by then)."""
        paths = self._prepare(active.claim)
        progress = _ProgressWriter(self, active.claim)
        outcome = self._run_grid(active, workers, paths, progress)
        if outcome is not None:
            self._record(active.claim, paths, outcome)

    def _prepare(self, claim: Claim) -> _JobPaths:
        """The job's inputs written to this claim's own directory, and where it writes."""
        job_id = claim.job_id
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            assert row is not None
            tenant, inputs = row.tenant, row.inputs
            files = load_blobs(s, inputs.get("blobs", {}))
        work = self.work_root / job_id
        # inputs and outputs per claim, so a runner that lost its lease (and may still be
        # writing) never shares them with the one that took over; the checkpoint is shared:
        # it holds finished tasks, whose values do not depend on who computed them
        attempt_dir = work / f"claim-{claim.token}"
        job_path = write_job_dir(attempt_dir / "inputs", inputs["job"], files)
        checkpoint_dir = work / "checkpoint"
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return _JobPaths(tenant, work, attempt_dir, job_path, attempt_dir / "out", checkpoint_dir)

    def _cancel_check(self, active: _Active, progress: _ProgressWriter) -> Callable[[], bool]:
        """The grid's cancel poll: flushes progress, and stops the job when it is cancelled,
        its deadline passed or its lease was lost."""
        deadline = time.monotonic() + self.settings.job_deadline_seconds

        def cancelled() -> bool:
            if active.cancel.is_set():
                return True
            progress.flush()
            if time.monotonic() > deadline:
                active.deadline_passed = True
                active.cancel.set()
            elif progress.poll_cancel():
                active.cancel.set()
            return active.cancel.is_set()

        return cancelled

    def _run_grid(
        self, active: _Active, workers: int, paths: _JobPaths, progress: _ProgressWriter
    ) -> gridbridge.Outcome | None:
        """The grid run's outcome, or None when it was cancelled (recorded here)."""
        sink = self.grid_metrics.sink(paths.tenant, self.settings.engine)
        engine = self.engines.take(workers)
        healthy = False  # only a pool that ran a job to its end goes back warm
        try:
            outcome = gridbridge.run(
                paths.job,
                engine=self.settings.engine,
                workers=workers,
                ray_address=self.settings.ray_address,
                out_dir=paths.out,
                checkpoint_dir=paths.checkpoint,
                progress=progress,
                cancel=self._cancel_check(active, progress),
                task_events=sink,
                ray_connect_seconds=self.settings.ray_connect_seconds,
                local_engine=engine,
            )
            healthy = outcome.status == "succeeded"
        except gridbridge.Cancelled:
            self._record_cancelled(active, progress)
            shutil.rmtree(paths.attempt, ignore_errors=True)
            return None
        finally:
            sink.close()
            self.engines.give_back(engine, keep=healthy)
        sink.timed_out(outcome.tasks.timed_out)
        return outcome

    def _record_cancelled(self, active: _Active, progress: _ProgressWriter) -> None:
        claim = active.claim
        if active.lease_lost:
            # taken over: refused, the claim just records the loss; renewals failing
            # (database unreachable) but nobody took over: back to the queue
            self.claims.release(claim)
        elif active.deadline_passed:
            limit = self.settings.job_deadline_seconds
            self.claims.finish(
                claim,
                "failed",
                error=f"job ran past its deadline of {limit:g} s "
                "(RISKGRID_JOB_DEADLINE_SECONDS) and was stopped",
                **progress.values(),
            )
        elif self._stop.is_set() and not self._cancel_requested(claim.job_id):
            self.claims.release(claim)  # shutting down: any runner resumes it
        else:
            self.claims.finish(claim, "cancelled", **progress.values())

    def _record(self, claim: Claim, paths: _JobPaths, outcome: gridbridge.Outcome) -> None:
        """The finished run's counters, results and status; its files go once recorded."""
        stats = outcome.tasks
        self.metrics.tasks.labels("done").inc(max(0, stats.done - stats.resumed))
        self.metrics.tasks.labels("failed").inc(stats.failed)
        self.metrics.tasks.labels("retried").inc(stats.retried)
        self.metrics.tasks.labels("resumed").inc(stats.resumed)
        out_dir = paths.out
        ended = self.claims.finish(
            claim,
            outcome.status,
            store_results=lambda: (
                self.store.put_dir(paths.tenant, claim.job_id, out_dir) if out_dir.exists() else []
            ),
            error=outcome.error,
            tasks_total=stats.total,
            tasks_done=stats.done,
            tasks_failed=stats.failed,
            tasks_retried=stats.retried,
            tasks_resumed=stats.resumed,
        )
        if ended:
            shutil.rmtree(paths.work, ignore_errors=True)
        else:
            log.warning(
                "job %s: finished after another runner took it over; result discarded",
                claim.job_id,
            )
            shutil.rmtree(paths.attempt, ignore_errors=True)


@dataclass(frozen=True)
class _JobPaths:
    """Where one claimed run of a job reads and writes."""

    tenant: str
    work: Path  # the job's directory (shared by its claims)
    attempt: Path  # this claim's own inputs and outputs
    job: Path  # the job file written from the stored inputs
    out: Path
    checkpoint: Path


class WarmEngines:
    """Local worker pools kept warm between jobs (issue #14 §3).

    Starting a job's worker processes (a fresh interpreter each, importing numpy and the
    pricers) costs more than a small job's pricing; so each pool a job used is kept, started,
    for the next job with the same worker count, instead of being started and stopped per job.
    At most one idle pool per worker count and ``max_idle`` in all; a run that failed or was
    cancelled stops its workers itself (the grid's rule), and the next run starts fresh ones.
    Disabled (``RISKGRID_WARM_WORKERS=0``), every job starts and stops its own workers.
    """

    def __init__(self, enabled: bool, max_idle: int = 4) -> None:
        self.enabled = enabled
        self.max_idle = max_idle
        self._idle: dict[int, Any] = {}
        self._lock = threading.Lock()

    def take(self, workers: int) -> Any:
        """A started engine of ``workers`` processes (warm if one is idle), or None."""
        if not self.enabled:
            return None
        with self._lock:
            engine = self._idle.pop(workers, None)
        if engine is None:
            from riskgrid.grid.local import LocalPoolEngine

            engine = LocalPoolEngine(workers, preload=("numpy", "riskgrid.grid.jobtask"))
            engine.start()
        return engine

    def give_back(self, engine: Any, keep: bool = True) -> None:
        """Keep ``engine`` warm for the next job, or stop its workers: after a failed,
        cancelled or taken-over run (its workers may still be busy with that job's tasks) and
        when enough pools are idle already."""
        if engine is None:
            return
        with self._lock:
            if keep and engine.workers not in self._idle and len(self._idle) < self.max_idle:
                self._idle[engine.workers] = engine
                return
        engine.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for engine in idle:
            engine.close()


class TaskCounts(TypedDict):
    """A job's task counters, as the job row stores them."""

    tasks_total: int
    tasks_done: int
    tasks_failed: int
    tasks_retried: int
    tasks_resumed: int


class _ProgressWriter:
    """Receives grid progress and writes it to the job row, at most a few times a second."""

    INTERVAL = 0.25

    def __init__(self, runner: JobRunner, claim: Claim) -> None:
        self.runner = runner
        self.claim = claim
        self.stats = gridbridge.TaskStats()
        self._last_write = 0.0
        self._last_poll = 0.0
        self._pending = False

    def __call__(self, stats: gridbridge.TaskStats) -> None:
        self.stats = stats
        self._pending = True
        if stats.done >= stats.total > 0:
            self._write(time.monotonic())
        else:
            self.flush()

    def flush(self) -> None:
        """Write the latest progress if it is unwritten and the interval has passed. Called on
        every progress report and from the grid's cancel polling, so a burst of reports that
        fell within one interval is written soon after, not only at the next report (which,
        behind a long task, may be a minute away)."""
        now = time.monotonic()
        if self._pending and now - self._last_write >= self.INTERVAL:
            self._write(now)

    def _write(self, now: float) -> None:
        self._last_write = now
        self._pending = False
        self.runner.claims.update(self.claim, **self.values())

    def values(self) -> TaskCounts:
        s = self.stats
        return {
            "tasks_total": s.total,
            "tasks_done": s.done,
            "tasks_failed": s.failed,
            "tasks_retried": s.retried,
            "tasks_resumed": s.resumed,
        }

    def poll_cancel(self) -> bool:
        """Cancellation requested through the API (possibly on another replica)."""
        now = time.monotonic()
        if now - self._last_poll < 0.5:
            return False
        self._last_poll = now
        return self.runner._cancel_requested(self.claim.job_id)
