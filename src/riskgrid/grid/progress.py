"""Progress of a run: a rich bar on a terminal, plain log lines otherwise.

Both reporters are callables ``(done, total)``, the same shape as the progress callback
:func:`riskgrid.grid.runner.run_job` accepts, and write to stderr so that ``--json`` output on
stdout stays clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Protocol

ProgressCallback = Callable[[int, int], None]


class Reporter(Protocol):
    def __call__(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class LogProgress:
    """``progress: 40/160 tasks (25%), 31.2 tasks/s, ETA 3.8 s`` at most every ``interval`` s."""

    def __init__(self, stream: IO[str] | None = None, *, interval: float = 2.0, label: str = ""):
        self.stream = stream or sys.stderr
        self.interval = interval
        self.label = f"{label}: " if label else ""
        self._start: float | None = None
        self._first_done = 0
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        first = self._start is None
        if self._start is None:
            self._start, self._first_done, self._last = now, done, now
        if not first and done < total and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        rate = (done - self._first_done) / elapsed
        eta = f", ETA {(total - done) / rate:.1f} s" if rate > 0 and done < total else ""
        pct = 100.0 * done / total if total else 100.0
        print(
            f"{self.label}progress: {done}/{total} tasks ({pct:.0f}%), {rate:.1f} tasks/s{eta}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass


class RichProgress:
    """A live bar with tasks done/total, rate and ETA (stderr, only on a terminal)."""

    def __init__(self, description: str = "tasks"):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=None, rate="")
        self._start = time.monotonic()
        self._first: int | None = None
        self._progress.start()

    def __call__(self, done: int, total: int) -> None:
        if self._first is None:
            self._first = done
        rate = (done - self._first) / max(time.monotonic() - self._start, 1e-9)
        self._progress.update(self._task, completed=done, total=total, rate=f"{rate:7.1f} tasks/s")

    def close(self) -> None:
        self._progress.stop()


def reporter_for(stream: IO[str] | None = None, *, label: str = "") -> Reporter:
    """Rich on a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return RichProgress(label or "tasks")
    return LogProgress(stream, label=label)
