"""The embedded default engine: a pool of local worker processes managed by riskgrid.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies the whole pool
breaks and every pending future fails, without saying which task killed it. Here each worker
has its own socket and the driver knows exactly which tasks each worker holds, so a dead worker
costs one attempt of the task it was running; the tasks queued behind it go back to the queue
uncharged, and a fresh worker takes its place.

Workers are fresh interpreters (``python -m riskgrid.grid.worker``), not forks: nothing of the
driver's threads or state leaks into them, and — unlike multiprocessing's spawn/forkserver —
the caller's ``__main__`` is never re-imported, so ``run_job`` works from any script or
notebook without an ``if __name__ == "__main__"`` guard. Each worker receives the pickled
``(fn, context)`` once per run, then only small task descriptors.

Lifetime: ``run()`` starts the workers it needs and stops them when it returns. Calling
``start()`` first boots them early (their imports overlap with the driver's planning) and keeps
them for later runs until ``close()``. A failed or cancelled run always stops every worker.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from riskgrid.grid.engine import (
    DEFAULT_MAX_RETRIES,
    CancelCheck,
    JobCancelled,
    JobFailed,
    ResultSink,
    RetryBook,
    RunStats,
    TaskEventSink,
    TaskFn,
    last_line,
)
from riskgrid.grid.tasks import Task

_POLL_SECONDS = 0.1
_STOP_GRACE_SECONDS = 2.0
#: Imported by each worker at start-up, before any work arrives.
DEFAULT_PRELOAD = ("numpy",)
_RUN_IDS = itertools.count(1)


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    run_id: int = 0  # which run's context it holds
    held: deque[int] = field(default_factory=deque)  # task indices, in the order sent


class LocalPoolEngine:
    """Run tasks on ``workers`` local processes (default: all cores)."""

    name = "local"

    def __init__(
        self,
        workers: int | None = None,
        *,
        prefetch: int = 2,
        preload: Sequence[str] = DEFAULT_PRELOAD,
    ):
        if workers is not None and workers < 1:
            raise ValueError("workers must be ≥ 1")
        self._workers = workers or os.cpu_count() or 1
        self.prefetch = max(1, prefetch)
        self.preload = tuple(preload)
        self._pool: list[_Worker] = []
        self._persistent = False
        #: Process ids of every worker started (tests check that none survives a run).
        self.started_pids: list[int] = []
        #: How many times a run's context was sent to a worker (once per worker per run).
        self.context_sends = 0

    @property
    def workers(self) -> int:
        return self._workers

    # -- pool management --------------------------------------------------------------------
    def start(self) -> None:
        """Boot all workers now and keep them across runs until :meth:`close`."""
        self._persistent = True
        while len(self._pool) < self._workers:
            self._pool.append(self._spawn())

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # The worker must import what the driver can (task functions are pickled by name).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "riskgrid.grid.worker", str(theirs.fileno()), *self.preload],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                process_group=0,  # Ctrl-C reaches the driver only; it stops the workers
            )
        finally:
            theirs.close()
        self.started_pids.append(proc.pid)
        return _Worker(proc, Connection(ours.detach()))

    def _send_context(self, w: _Worker, run_id: int, payload: bytes) -> None:
        if w.run_id != run_id:
            with contextlib.suppress(OSError):  # if it died, the main loop sees EOF
                w.conn.send_bytes(pickle.dumps(("ctx", payload), protocol=5))
            w.run_id = run_id
            self.context_sends += 1

    def _stop_all(self, *, graceful: bool) -> None:
        pool, self._pool = self._pool, []
        for w in pool:
            if graceful:
                with contextlib.suppress(OSError):
                    w.conn.send_bytes(pickle.dumps(("stop",)))
            else:
                w.proc.terminate()
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for w in pool:
            try:
                w.proc.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            w.conn.close()

    def close(self) -> None:
        self._persistent = False
        self._stop_all(graceful=True)

    # -- running ----------------------------------------------------------------------------
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
    ) -> RunStats:
        stats = RunStats(submitted=len(tasks))
        book = RetryBook(max_retries, stats, events)
        if not tasks:
            return stats
        run_id = next(_RUN_IDS)
        payload = pickle.dumps((fn, context), protocol=5)  # pickled once per run
        queue: deque[int] = deque(range(len(tasks)))
        remaining = len(tasks)
        ok = False
        try:
            while len(self._pool) < min(self._workers, len(tasks)):
                self._pool.append(self._spawn())
            for w in self._pool:
                self._send_context(w, run_id, payload)
            while remaining:
                if cancel is not None and cancel():
                    raise JobCancelled(
                        f"cancelled with {remaining} of {len(tasks)} tasks unfinished", stats
                    )
                for w in self._pool:
                    while queue and len(w.held) < self.prefetch:
                        i = queue.popleft()
                        try:
                            w.conn.send_bytes(pickle.dumps(("run", i, tasks[i]), protocol=5))
                        except OSError:
                            queue.appendleft(i)  # dead worker: its socket reports EOF below
                            break
                        w.held.append(i)
                        book.started(tasks[i])
                ready = wait([w.conn for w in self._pool], timeout=_POLL_SECONDS)
                for w in [w for w in self._pool if w.conn in ready]:
                    done, alive = self._drain(w, tasks, on_result, book, queue)
                    remaining -= done
                    if not alive:
                        self._replace(w, tasks, book, queue, run_id, payload, stats)
            ok = True
            return stats
        finally:
            if not ok:
                self._stop_all(graceful=False)
            elif not self._persistent:
                self._stop_all(graceful=True)

    def _drain(
        self,
        w: _Worker,
        tasks: Sequence[Task],
        on_result: ResultSink,
        book: RetryBook,
        queue: deque[int],
    ) -> tuple[int, bool]:
        """Handle every message waiting from ``w``: (tasks completed, worker still alive)."""
        done = 0
        while True:
            try:
                if not w.conn.poll():
                    return done, True
                status, seq, value = pickle.loads(w.conn.recv_bytes())
            except (EOFError, OSError):
                return done, False
            if status == "fatal":
                raise JobFailed(f"worker could not load the job: {last_line(value)}", book.stats)
            # Replies come in send order, so ``seq`` is the oldest task the worker holds.
            if seq in w.held:
                w.held.remove(seq)
            task = tasks[seq]
            if status == "ok":
                on_result(task, value)
                book.stats.completed += 1
                done += 1
            else:
                book.failed(task, last_line(value))
                queue.appendleft(seq)

    def _replace(
        self,
        w: _Worker,
        tasks: Sequence[Task],
        book: RetryBook,
        queue: deque[int],
        run_id: int,
        payload: bytes,
        stats: RunStats,
    ) -> None:
        try:
            code = w.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            code = w.proc.wait()
        stats.worker_deaths += 1
        held = list(w.held)
        w.held.clear()
        w.conn.close()
        self._pool.remove(w)
        if held:
            # The worker runs its tasks in order: the first one it held is the one it died on.
            queue.extendleft(reversed(held))
            book.failed(tasks[held[0]], f"worker process died (exit code {code})")
        if stats.worker_deaths > 3 + 2 * len(tasks):
            raise JobFailed("worker processes keep dying; giving up", stats)
        fresh = self._spawn()
        self._pool.append(fresh)
        self._send_context(fresh, run_id, payload)
