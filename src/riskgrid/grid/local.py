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
import json
import os
import pickle
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from riskgrid.grid.engine import (
    DEFAULT_MAX_RETRIES,
    CancelCheck,
    EngineUnavailable,
    JobCancelled,
    JobFailed,
    JobTimedOut,
    Limits,
    ResultSink,
    RetryBook,
    RunStats,
    TaskEventSink,
    TaskFn,
    deadline_message,
    last_line,
)
from riskgrid.grid.tasks import Task

_POLL_SECONDS = 0.1
_STOP_GRACE_SECONDS = 2.0
#: Imported by each worker at start-up, before any work arrives.
DEFAULT_PRELOAD = ("numpy",)
_RUN_IDS = itertools.count(1)
#: Seconds from a worker's spawn to its "ready" (interpreter + NumPy + the pricers imported),
#: used until this machine has measured its own: deliberately below what the shared 2-core
#: development machine measured (0.6–1.4 s per worker at load averages of 4–9), since an
#: underestimate only keeps more jobs on the pool.
DEFAULT_SPAWN_SECONDS = 0.4
SPAWN_CACHE_FILE = "local-pool.json"


def _cache_dir() -> Path:
    """``$RISKGRID_CACHE_DIR``, else ``$XDG_CACHE_HOME/riskgrid``, else ``~/.cache/riskgrid``."""
    if explicit := os.environ.get("RISKGRID_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "riskgrid"


def spawn_seconds() -> float:
    """The measured cost of starting one pool worker on this machine (last pool started here),
    or :data:`DEFAULT_SPAWN_SECONDS` when none was measured (or the record is unreadable)."""
    try:
        value = float(json.loads((_cache_dir() / SPAWN_CACHE_FILE).read_text())["spawnSeconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_SPAWN_SECONDS
    return value if 0.0 < value < 60.0 else DEFAULT_SPAWN_SECONDS


def record_spawn_seconds(samples: Sequence[float]) -> None:
    """Remember the median of ``samples`` for :func:`spawn_seconds` (best effort, atomic)."""
    if not samples:
        return
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"spawnSeconds": round(statistics.median(samples), 4)})
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{SPAWN_CACHE_FILE}.")
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
        os.replace(tmp, folder / SPAWN_CACHE_FILE)
    except OSError:
        return  # a read-only home only loses the measurement, never the run


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    run_id: int = 0  # which run's context it holds
    held: deque[int] = field(default_factory=deque)  # task indices, in the order sent
    spawned_at: float = field(default_factory=time.monotonic)
    spawned_wall: float = field(default_factory=time.time)  # compared with the worker's clock
    ready: bool = False  # said hello (imports done)
    started_at: float = 0.0  # when it began the task at the head of ``held``


BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
        #: Seconds from spawn to "ready" of each worker started (see :func:`spawn_seconds`).
        self.spawn_times: list[float] = []

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
        # One compute thread per worker (as Ray does for its workers): the pool is the
        # parallelism. Threaded BLAS inside workers would oversubscribe the cores and make the
        # bits of a matrix product depend on the thread count. A value set by the user wins.
        for var in BLAS_THREAD_VARS:
            env.setdefault(var, "1")
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
        if pool and graceful:
            record_spawn_seconds(self.spawn_times[-len(pool) :])
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
        limits: Limits | None = None,
        events: TaskEventSink | None = None,
    ) -> RunStats:
        stats = RunStats(submitted=len(tasks))
        book = RetryBook(max_retries, stats, events)
        if not tasks:
            return stats
        lim = limits or Limits()
        job_deadline = lim.job_deadline()
        run_id = next(_RUN_IDS)
        payload = pickle.dumps((fn, context), protocol=5)  # pickled once per run
        st = _RunState(tasks, book, deque(range(len(tasks))), lim, run_id, payload, on_result)
        ok = False
        try:
            while len(self._pool) < min(self._workers, len(tasks)):
                self._pool.append(self._spawn())
            for w in self._pool:
                self._send_context(w, run_id, payload)
            while len(st.done) < len(tasks):
                if cancel is not None and cancel():
                    raise JobCancelled(
                        f"cancelled with {len(tasks) - len(st.done)} of {len(tasks)} tasks "
                        "unfinished",
                        stats,
                    )
                now = time.monotonic()
                if now > job_deadline:
                    raise JobTimedOut(
                        deadline_message(
                            "job deadline",
                            lim.job_seconds,
                            [t for i, t in enumerate(tasks) if i not in st.done],
                            len(tasks),
                            "the tasks' own logs on stderr; raise --job-timeout if it is "
                            "simply big",
                        ),
                        stats,
                    )
                self._check_health(st, now)
                self._fill(st)
                self._speculate(st, time.monotonic())
                ready = wait([w.conn for w in self._pool], timeout=_POLL_SECONDS)
                for w in [w for w in self._pool if w.conn in ready]:
                    if not self._drain(w, st):
                        self._replace(w, st, death=True)
            ok = True
            return stats
        finally:
            if not ok:
                self._stop_all(graceful=False)
            elif not self._persistent:
                self._stop_all(graceful=True)

    def _fill(self, st: _RunState) -> None:
        """Hand queued tasks to workers, up to ``prefetch`` each."""
        for w in self._pool:
            while st.queue and len(w.held) < self.prefetch:
                i = st.queue.popleft()
                if i in st.done:
                    continue
                if not self._send_task(w, st, i):
                    st.queue.appendleft(i)  # dead worker: its socket reports EOF later
                    break

    def _send_task(self, w: _Worker, st: _RunState, i: int) -> bool:
        try:
            w.conn.send_bytes(pickle.dumps(("run", i, st.tasks[i]), protocol=5))
        except OSError:
            return False
        if not w.held:
            w.started_at = time.monotonic()
        w.held.append(i)
        st.book.started(st.tasks[i])
        return True

    def _check_health(self, st: _RunState, now: float) -> None:
        """Start-up deadline of each worker; timeout of the task each worker is running."""
        for w in list(self._pool):
            if not w.ready:
                if now - w.spawned_at > st.limits.startup_seconds:
                    raise EngineUnavailable(
                        f"local worker process {w.proc.pid} (python -m riskgrid.grid.worker) "
                        f"did not start within {st.limits.startup_seconds:g} s; its errors, "
                        "if any, are on this process's stderr; raise --startup-timeout on a "
                        "slow machine",
                        st.book.stats,
                    )
                continue
            if not w.held:
                continue
            head = w.held[0]
            timeout = st.limits.task_timeout(st.tasks[head])
            if now - w.started_at > timeout:
                self._replace(w, st, death=False, charge=(head, timeout))

    def _speculate(self, st: _RunState, now: float) -> None:
        """Give a straggling task a second copy on an idle worker (only once nothing is queued)."""
        if any(i not in st.done for i in st.queue):
            return
        idle = [w for w in self._pool if w.ready and not w.held]
        for w in self._pool:
            if not idle:
                return
            if not w.held or w.held[0] in st.copies:
                continue
            head = w.held[0]
            if st.limits.straggling(now - w.started_at, st.book.stats):
                twin = idle.pop()
                if self._send_task(twin, st, head):
                    st.copies[head] = twin
                    st.book.stats.speculative += 1

    def _drain(self, w: _Worker, st: _RunState) -> bool:
        """Handle every message waiting from ``w``; false when the worker is gone."""
        while True:
            try:
                if not w.conn.poll():
                    return True
                status, seq, value = pickle.loads(w.conn.recv_bytes())
            except (EOFError, OSError):
                return False
            if status == "ready":
                w.ready = True
                # The worker stamps its own "ready": a driver busy planning would otherwise
                # see it late and overstate the spawn cost.
                ready_wall = value[1] if isinstance(value, tuple) else time.time()
                self.spawn_times.append(max(0.0, ready_wall - w.spawned_wall))
                if w.held:
                    w.started_at = time.monotonic()
                continue
            if status == "fatal":
                raise JobFailed(f"worker could not load the job: {last_line(value)}", st.book.stats)
            # Replies come in send order, so ``seq`` is the oldest task the worker holds.
            if seq in w.held:
                w.held.remove(seq)
            now = time.monotonic()
            elapsed, w.started_at = now - w.started_at, now
            if seq in st.done:
                continue  # the slower copy of a speculated task: its twin already counted
            task = st.tasks[seq]
            if status == "ok":
                st.done.add(seq)
                st.on_result(task, value)
                st.book.completed(elapsed)
                if seq in st.copies:
                    self._drop_twins(w, st, seq)
            elif seq in st.copies and self._twin_running(w, seq):
                st.book.stats.errors.append(f"{task.key} (speculative copy): {last_line(value)}")
            else:
                st.book.failed(task, last_line(value))
                st.queue.appendleft(seq)

    def _twin_running(self, w: _Worker, seq: int) -> bool:
        return any(seq in other.held for other in self._pool if other is not w)

    def _drop_twins(self, winner: _Worker, st: _RunState, seq: int) -> None:
        """Stop the other copies of a task that just finished."""
        if st.copies.get(seq) is winner:
            st.book.stats.speculative_wins += 1
        for w in [w for w in self._pool if w is not winner and seq in w.held]:
            if w.held[0] == seq:
                self._replace(w, st, death=False)
            else:
                w.held.remove(seq)  # not started: the worker skips nothing, it just returns late

    def _replace(
        self,
        w: _Worker,
        st: _RunState,
        *,
        death: bool,
        charge: tuple[int, float] | None = None,
    ) -> None:
        """Stop (or bury) worker ``w``, requeue what it held and start a fresh one.

        ``death``: it died on its own, and the task it was running is charged one attempt.
        ``charge=(task, timeout)``: it was stopped for running past ``timeout``.
        Otherwise (a speculative loser) nothing is charged.
        """
        stats = st.book.stats
        if not death:
            w.proc.kill()
        try:
            code = w.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            code = w.proc.wait()
        held = [i for i in w.held if i not in st.done]
        head = w.held[0] if w.held else None
        w.held.clear()
        w.conn.close()
        self._pool.remove(w)
        # Another live copy of a task covers it: don't requeue or charge it.
        held = [i for i in held if not any(i in o.held for o in self._pool)]
        st.queue.extendleft(reversed(held))
        if death:
            stats.worker_deaths += 1
            if head is not None and head in held:
                # The worker runs its tasks in order: the first one it held is the one it died on.
                st.book.failed(st.tasks[head], f"worker process died (exit code {code})")
            if stats.worker_deaths > 3 + 2 * len(st.tasks):
                raise JobFailed("worker processes keep dying; giving up", stats)
        elif charge is not None:
            index, timeout = charge
            st.book.timed_out(st.tasks[index], timeout)
        if len(st.done) < len(st.tasks):
            fresh = self._spawn()
            self._pool.append(fresh)
            self._send_context(fresh, st.run_id, st.payload)


@dataclass
class _RunState:
    """What one run tracks besides the pool."""

    tasks: Sequence[Task]
    book: RetryBook
    queue: deque[int]
    limits: Limits
    run_id: int
    payload: bytes
    on_result: ResultSink
    done: set[int] = field(default_factory=set)
    #: Tasks that got a speculative duplicate → the worker running the duplicate.
    copies: dict[int, _Worker] = field(default_factory=dict)
