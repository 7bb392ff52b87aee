"""The one place the service calls RISK's loader and GRID's ``run_job``.

Keeps the runner free of the grid's calling conventions: progress arrives here as
``(done, total)`` and leaves as :class:`TaskStats`; the grid's cancelled/failed outcomes
become :class:`Cancelled` or a failed :class:`Outcome`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"

_ray_lock = threading.Lock()
_ray_anchor: Any = None  # the RayEngine that owns this process's Ray connection
_ray_pending: threading.Thread | None = None  # a connection attempt past its deadline


class EngineUnavailable(Exception):
    """The engine could not be reached or started within its deadline."""


def connect_ray(address: str | None, deadline_seconds: float) -> None:
    """Start (or connect to) Ray once per process, within ``deadline_seconds``.

    The first Ray job of the server process starts the Ray runtime through the grid's own
    :class:`RayEngine` (so the grid's runtime-environment rules apply) and keeps it for the
    server's lifetime; later jobs find Ray initialised and share it. ``ray.init`` can wait
    minutes for an address nobody answers at, so it runs in a helper thread and the job fails
    with a message when the deadline passes; while that attempt is still pending, further jobs
    fail at once instead of starting a second one.
    """
    global _ray_anchor, _ray_pending
    from riskgrid.grid.ray_engine import RayEngine

    where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
    hint = (
        "check RISKGRID_RAY_ADDRESS, that the cluster is up, and RAY_AUTH_TOKEN when it uses "
        "token authentication"
    )
    with _ray_lock:
        if _ray_anchor is not None:
            return
        if _ray_pending is not None and _ray_pending.is_alive():
            raise EngineUnavailable(f"still trying to connect to {where}; {hint}")
        anchor = RayEngine(address=address)
        failure: list[BaseException] = []

        def start() -> None:
            try:
                anchor.start()
            except BaseException as exc:  # reported to the job below
                failure.append(exc)

        t = threading.Thread(target=start, name="riskgrid-ray-connect", daemon=True)
        t.start()
        t.join(deadline_seconds)
        if t.is_alive():
            _ray_pending = t
            raise EngineUnavailable(
                f"could not connect to {where} within {deadline_seconds:g} s "
                f"(RISKGRID_RAY_CONNECT_SECONDS); {hint}"
            )
        if failure:
            raise EngineUnavailable(f"could not connect to {where}: {failure[0]}")
        _ray_anchor = anchor


def disconnect_ray() -> None:
    """Close the process's Ray connection (server shutdown)."""
    global _ray_anchor
    with _ray_lock:
        anchor, _ray_anchor = _ray_anchor, None
    if anchor is not None:
        anchor.close()


class Cancelled(Exception):
    """The run stopped because cancellation was requested."""


@dataclass(frozen=True)
class TaskStats:
    total: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    resumed: int = 0
    timed_out: int = 0


@dataclass(frozen=True)
class Outcome:
    status: str  # "succeeded" | "failed"
    error: str | None
    tasks: TaskStats


def load(job_path: Path) -> Any:
    """RISK's loader: the job file and the files it references → JobInputs (or SpecError)."""
    from riskgrid.spec.job import load_job

    return load_job(job_path)


def _stats(result: Any) -> TaskStats:
    t = result.tasks
    return TaskStats(
        total=t.total,
        done=t.completed,
        failed=t.failed,
        retried=t.retried,
        resumed=getattr(t, "from_checkpoint", 0),
        timed_out=getattr(t, "timed_out", 0) or 0,  # reported once the grid has task deadlines
    )


def run(
    job_path: Path,
    *,
    engine: str,
    workers: int,
    ray_address: str | None,
    out_dir: Path,
    checkpoint_dir: Path,
    progress: Callable[[TaskStats], None],
    cancel: Callable[[], bool],
    task_events: Callable[[str, Any], None] | None = None,
    ray_connect_seconds: float = 60.0,
    local_engine: Any = None,
) -> Outcome:
    """Run one job with checkpointing into ``checkpoint_dir``; results land in ``out_dir``.

    On Ray, at most ``workers`` of the job's tasks are in flight at a time (the tenant's
    worker quota), on a Ray connection shared by all jobs of this process. Locally,
    ``local_engine`` (a started ``LocalPoolEngine``, kept warm by the caller) runs the tasks;
    without it the job starts and stops its own workers.
    """
    from riskgrid.grid.engine import JobCancelled, JobFailed
    from riskgrid.grid.runner import run_job

    inputs = load(job_path)
    eng: Any = local_engine if engine == "local" and local_engine is not None else engine
    if engine == "ray":
        from riskgrid.grid.ray_engine import RayEngine

        try:
            connect_ray(ray_address, ray_connect_seconds)
        except EngineUnavailable as exc:
            return Outcome(status="failed", error=str(exc), tasks=TaskStats())
        eng = RayEngine(workers, address=ray_address, inflight=workers)

    def on_progress(done: int, total: int) -> None:
        progress(TaskStats(total=total, done=done))

    try:
        result = run_job(
            inputs,
            engine=eng,
            workers=workers,
            ray_address=ray_address,
            progress=on_progress,
            out_dir=out_dir,
            checkpoint=checkpoint_dir,
            cancel=cancel,
            task_events=task_events,
            # never in the API server's own process, however small the job: it would compete
            # with request handling for the interpreter and could not be stopped mid-task
            in_process=False,
        )
    except JobCancelled:
        raise Cancelled from None
    except JobFailed as exc:
        return Outcome(status="failed", error=str(exc), tasks=TaskStats(failed=1))
    if result.status == "cancelled":
        raise Cancelled
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / RESULT_FILE).exists():
        (out_dir / RESULT_FILE).write_text(result.model_dump_json(by_alias=True, indent=2))
    if result.status != "completed":
        return Outcome(status="failed", error=result.message, tasks=_stats(result))
    return Outcome(status="succeeded", error=None, tasks=_stats(result))
