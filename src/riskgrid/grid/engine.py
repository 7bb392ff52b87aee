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
"""

from __future__ import annotations

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

    @property
    def retried(self) -> int:
        """Distinct tasks that needed more than one attempt."""
        return len(self.retried_keys)

    @property
    def failed(self) -> int:
        return len(self.failed_keys)


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
        events: TaskEventSink | None = None,
    ) -> RunStats: ...

    def close(self) -> None: ...


def last_line(text: str) -> str:
    """The last non-empty line of a traceback: the exception and its message."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text
