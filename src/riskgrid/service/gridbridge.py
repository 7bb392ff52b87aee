"""The one place the service calls RISK's loader and GRID's ``run_job``.

Keeps the runner free of the grid's calling conventions: progress arrives here as
``(done, total)`` and leaves as :class:`TaskStats`; the grid's cancelled/failed outcomes
become :class:`Cancelled` or a failed :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"


class Cancelled(Exception):
    """The run stopped because cancellation was requested."""


@dataclass(frozen=True)
class TaskStats:
    total: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    resumed: int = 0


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
) -> Outcome:
    """Run one job with checkpointing into ``checkpoint_dir``; results land in ``out_dir``."""
    from riskgrid.grid.engine import JobCancelled, JobFailed
    from riskgrid.grid.runner import run_job

    inputs = load(job_path)

    def on_progress(done: int, total: int) -> None:
        progress(TaskStats(total=total, done=done))

    try:
        result = run_job(
            inputs,
            engine=engine,
            workers=workers,
            ray_address=ray_address,
            progress=on_progress,
            out_dir=out_dir,
            checkpoint=checkpoint_dir,
            cancel=cancel,
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
