"""What every engine promises, and the retry bookkeeping they share.

An engine runs ``fn(context, task)`` for every task, where ``fn`` is a picklable module-level
callable and ``context`` the job's shared, read-only inputs. The context travels to each
worker **once** (pool initialiser / Ray object store), never once per task. Results arrive in
any order through ``on_result(task, value)``; the caller places them by task key, which is why
the answer does not depend on the engine, the worker count or the completion order.

Failures: a task that raises, or whose worker dies, is retried up to ``max_retries`` times; after
that the whole run stops with :class:`JobFailed` (no partial answer is returned). ``cancel()``
returning true stops the run with :class:`JobCancelled`; engines stop their workers in both
cases, so no process outlives a run.

Deadlines (:class:`Limits`): nothing waits forever. Workers that do not start within
``startup_seconds`` fail the run with :class:`EngineUnavailable`; a task running longer than its
own timeout (``task_timeout(task)``, from the planner's estimate) is cancelled — its worker
killed — and retried like a failure, counted in ``RunStats.timed_out_keys``; a run still going
after ``job_seconds`` fails with :class:`JobTimedOut`, naming the unfinished tasks. Straggler
speculation: once nothing is left to hand out, a task that has run ``speculate_factor`` × the
median task time (and at least ``speculate_min_seconds``) gets a duplicate on a free worker;
whichever copy returns first is used and the other is stopped. Tasks are pure functions of
``(context, task)``, so the answer is the same whichever copy wins.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from riskgrid.grid.tasks import Task
from riskgrid.spec.errors import RiskgridError

TaskFn = Callable[[Any, Task], Any]
ResultSink = Callable[[Task, Any], None]
CancelCheck = Callable[[], bool]
#: Optional per-task observer: ``events(kind, task)`` with kind ``"started"`` (sent to a
#: worker), ``"retried"`` (an attempt failed, it will run again) or ``"failed"`` (out of
#: retries); the runner adds ``"succeeded"``. For metrics only: it must not raise or block.
TaskEventSink = Callable[[str, Task], None]

DEFAULT_MAX_RETRIES = 2


class JobFailed(RiskgridError):
    """A task failed more often than allowed (or the engine could not run at all)."""

    def __init__(self, message: str, stats: RunStats | None = None):
        super().__init__(message)
        self.stats = stats or RunStats()


class JobTimedOut(JobFailed):
    """The whole run passed its deadline (``Limits.job_seconds``)."""


class EngineUnavailable(JobFailed):
    """The engine could not start workers or reach its cluster within the start-up deadline."""


class JobCancelled(RiskgridError):
    """The run was cancelled before every task finished."""

    def __init__(self, message: str = "cancelled", stats: RunStats | None = None):
        super().__init__(message)
        self.stats = stats or RunStats()


@dataclass
class RunStats:
    """Counts an engine reports after (or while) running tasks."""

    submitted: int = 0
    completed: int = 0
    attempts: int = 0
    retried_keys: set[str] = field(default_factory=set)
    failed_keys: set[str] = field(default_factory=set)
    worker_deaths: int = 0
    errors: list[str] = field(default_factory=list)
    timed_out_keys: set[str] = field(default_factory=set)
    #: Duplicate attempts launched for stragglers, and how many of them finished first.
    speculative: int = 0
    speculative_wins: int = 0
    #: Completed tasks per node (Ray node id, or ``local``).
    nodes: dict[str, int] = field(default_factory=dict)
    #: Wall seconds of each completed attempt (for the straggler median).
    durations: list[float] = field(default_factory=list, repr=False)
    _median: tuple[int, float] = field(default=(0, math.nan), repr=False)

    def median_duration(self) -> float:
        """Median of the completed attempts' durations (cached until another completes)."""
        n = len(self.durations)
        if self._median[0] != n:
            self._median = (n, statistics.median(self.durations) if n else math.nan)
        return self._median[1]

    @property
    def timed_out(self) -> int:
        """Distinct tasks that hit their timeout at least once."""
        return len(self.timed_out_keys)

    @property
    def retried(self) -> int:
        """Distinct tasks that needed more than one attempt."""
        return len(self.retried_keys)

    @property
    def failed(self) -> int:
        return len(self.failed_keys)


DEFAULT_STARTUP_SECONDS = 120.0
DEFAULT_JOB_SECONDS = 6 * 3600.0
DEFAULT_TASK_TIMEOUT_FACTOR = 10.0
DEFAULT_TASK_TIMEOUT_MIN_SECONDS = 60.0
DEFAULT_SPECULATE_FACTOR = 4.0
DEFAULT_SPECULATE_MIN_SECONDS = 5.0


def _no_timeout(task: Task) -> float:
    return math.inf


@dataclass(frozen=True)
class Limits:
    """Deadlines and straggler handling for one run (see the module docstring).

    ``task_timeout`` maps a task to its timeout in seconds (``math.inf``: none); the runner
    builds it from the planner's cost estimate. ``speculate_factor = 0`` turns speculation off.
    """

    startup_seconds: float = DEFAULT_STARTUP_SECONDS
    job_seconds: float = DEFAULT_JOB_SECONDS
    task_timeout: Callable[[Task], float] = _no_timeout
    speculate_factor: float = DEFAULT_SPECULATE_FACTOR
    speculate_min_seconds: float = DEFAULT_SPECULATE_MIN_SECONDS

    def __post_init__(self) -> None:
        for name in ("startup_seconds", "job_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.speculate_factor < 0 or self.speculate_min_seconds < 0:
            raise ValueError("speculation settings must be ≥ 0")

    def job_deadline(self) -> float:
        """Absolute ``time.monotonic()`` deadline for a run starting now."""
        return time.monotonic() + self.job_seconds

    def straggling(self, elapsed: float, stats: RunStats) -> bool:
        """Whether a task running for ``elapsed`` s deserves a speculative duplicate."""
        if self.speculate_factor <= 0 or len(stats.durations) < 2:
            return False
        median = stats.median_duration()
        return elapsed > max(self.speculate_factor * median, self.speculate_min_seconds)


def task_timeout_from_estimate(
    estimate: Callable[[Task], float],
    *,
    factor: float = DEFAULT_TASK_TIMEOUT_FACTOR,
    min_seconds: float = DEFAULT_TASK_TIMEOUT_MIN_SECONDS,
) -> Callable[[Task], float]:
    """``max(factor × estimate(task), min_seconds)``; ``factor = 0`` means no task timeout."""
    if factor < 0 or min_seconds <= 0:
        raise ValueError("task timeout factor must be ≥ 0 and its minimum > 0")
    if factor == 0:
        return _no_timeout

    def timeout(task: Task) -> float:
        return max(factor * estimate(task), min_seconds)

    return timeout


def deadline_message(
    what: str, seconds: float, unfinished: Sequence[Task], total: int, where: str
) -> str:
    """``job deadline of 30 s passed with 3 of 11 tasks unfinished (pnl-…, …); see …``."""
    keys = ", ".join(t.key for t in list(unfinished)[:5])
    more = "…" if len(unfinished) > 5 else ""
    return (
        f"{what} of {seconds:g} s passed with {len(unfinished)} of {total} tasks unfinished "
        f"({keys}{more}); see {where}"
    )


class RetryBook:
    """Attempts per task; decides between retrying and failing the job."""

    def __init__(self, max_retries: int, stats: RunStats, events: TaskEventSink | None = None):
        if max_retries < 0:
            raise ValueError("max retries must be ≥ 0")
        self.max_retries = max_retries
        self.stats = stats
        self.events = events
        self._failures: dict[str, int] = {}

    def started(self, task: Task | None = None) -> None:
        self.stats.attempts += 1
        if self.events is not None and task is not None:
            self.events("started", task)

    def timed_out(self, task: Task, seconds: float) -> None:
        """A task ran past its timeout and was stopped: a failed attempt, counted apart."""
        self.stats.timed_out_keys.add(task.key)
        self.failed(task, f"timed out after {seconds:.1f} s (task timeout); its worker was stopped")

    def completed(self, seconds: float, node: str = "local") -> None:
        self.stats.completed += 1
        self.stats.durations.append(seconds)
        self.stats.nodes[node] = self.stats.nodes.get(node, 0) + 1

    def failed(self, task: Task, reason: str) -> None:
        """Record one failed attempt; raise :class:`JobFailed` when the task is out of retries."""
        n = self._failures.get(task.key, 0) + 1
        self._failures[task.key] = n
        self.stats.errors.append(f"{task.key} (attempt {n}): {reason}")
        if n > self.max_retries:
            self.stats.failed_keys.add(task.key)
            if self.events is not None:
                self.events("failed", task)
            raise JobFailed(
                f"task {task.key} failed {n} time(s), more than the {self.max_retries} "
                f"retr{'y' if self.max_retries == 1 else 'ies'} allowed; last error: {reason}",
                self.stats,
            )
        self.stats.retried_keys.add(task.key)
        if self.events is not None:
            self.events("retried", task)


class Engine(Protocol):
    """A way to run tasks; see the module docstring for the contract."""

    name: str

    @property
    def workers(self) -> int: ...

    def start(self) -> None:
        """Acquire workers (processes, a Ray connection) ahead of the first run."""

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
    ) -> RunStats: ...

    def close(self) -> None: ...


def last_line(text: str) -> str:
    """The last non-empty line of a traceback: the exception and its message."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text
