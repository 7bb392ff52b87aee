"""Run a small job's tasks in the driver process: no worker is started.

The runner picks this engine instead of the local pool when the planner's estimate of the whole
job (core-seconds) is below the break-even for the measured cost of starting one pool worker
(:func:`riskgrid.grid.runner.in_process_break_even`, :func:`riskgrid.grid.local.spawn_seconds`):
a pool cannot finish such a job sooner, since its workers first pay for their imports. Tasks
run in plan order, one after the other, through the same task function and the same result
sink as on a pool, so the answer is the same bit for bit (``docs/grid.md``, "Small jobs").

What a pool gives and this engine does not: a task cannot be killed, so per-task timeouts and
straggler copies do not apply; the job deadline and cancellation are checked between tasks. The
runner therefore never chooses it when fault injection is configured, and only for jobs whose
whole estimate is below a second or so. A task that raises is retried like on a pool.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from typing import Any

from riskgrid.grid.engine import (
    DEFAULT_MAX_RETRIES,
    CancelCheck,
    JobCancelled,
    JobTimedOut,
    Limits,
    ResultSink,
    RetryBook,
    RunStats,
    TaskEventSink,
    TaskFn,
    deadline_message,
)
from riskgrid.grid.tasks import Task


class InProcessEngine:
    """Run every task in this process, in order (reports itself as the local engine, 1 worker)."""

    name = "local"
    in_process = True

    @property
    def workers(self) -> int:
        return 1

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Nothing to stop."""

    def run(
        self,
        fn: TaskFn,
        context: Any,
        tasks: Sequence[Task],
        *,
        on_result: ResultSink,
        cancel: CancelCheck | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        limits: Limits | None = None,
        events: TaskEventSink | None = None,
    ) -> RunStats:
        stats = RunStats(submitted=len(tasks))
        book = RetryBook(max_retries, stats, events)
        lim = limits or Limits()
        deadline = lim.job_deadline()
        for i, task in enumerate(tasks):
            self._check(cancel, deadline, lim, tasks, i, stats)
            while True:
                book.started(task)
                t0 = time.perf_counter()
                try:
                    value = fn(context, task)
                except Exception:
                    book.failed(task, traceback.format_exc())  # raises JobFailed when out
                    self._check(cancel, deadline, lim, tasks, i, stats)
                    continue
                book.completed(time.perf_counter() - t0)
                on_result(task, value)
                break
        return stats

    @staticmethod
    def _check(
        cancel: CancelCheck | None,
        deadline: float,
        lim: Limits,
        tasks: Sequence[Task],
        i: int,
        stats: RunStats,
    ) -> None:
        if cancel is not None and cancel():
            raise JobCancelled(
                f"cancelled with {len(tasks) - i} of {len(tasks)} tasks unfinished", stats
            )
        if time.monotonic() > deadline:
            raise JobTimedOut(
                deadline_message(
                    "job deadline",
                    lim.job_seconds,
                    list(tasks[i:]),
                    len(tasks),
                    "raise --job-timeout if it is simply big",
                ),
                stats,
            )
