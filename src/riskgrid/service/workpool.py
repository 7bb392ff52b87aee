"""A bounded pool of warm worker processes for the API's CPU-heavy work.

Threads are not a bulkhead in CPython: a thread parsing 16 MB of JSON, loading a job or
evaluating the policy library holds the interpreter lock, and the event loop that answers
``/healthz`` waits for it (measured: health probes of tens of seconds under a flood, issue
#12 §2). So that work runs in separate interpreters (``heavy.py``): ``processes`` of them,
started with ``spawn`` (no fork of a threaded server), kept for the server's lifetime (their
imports, policy compilation and parse caches stay warm), at a lower CPU priority than the API
process so that on a saturated machine the scheduler serves the event loop first.

Each call has a deadline; a call still queued when its request goes away is dropped. A worker
that dies (OOM-killed, say) breaks ``ProcessPoolExecutor``: the pool is rebuilt and the
requests in flight answer 503. A watchdog thread in each worker exits when the API process
is gone, so nothing outlives a killed server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

#: Nice increment of the work processes (relative to the API process).
WORKER_NICE = 5


class WorkUnavailable(Exception):
    """The work pool could not answer in time (or a worker died): 503 with a reason."""


def _init_worker(parent: int) -> None:
    with contextlib.suppress(OSError):  # not permitted: run at the API's priority
        os.nice(WORKER_NICE)

    def watchdog() -> None:
        import time

        while True:
            time.sleep(1.0)
            if os.getppid() != parent:  # the API process is gone (killed): so are we
                os._exit(0)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


class _Executor:
    """A ``ProcessPoolExecutor`` started on first use and rebuilt if a worker dies."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                import multiprocessing

                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def broken(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


_SHARED: dict[tuple[str, int], _Executor] = {}
_SHARED_LOCK = threading.Lock()


def _shared(name: str, processes: int) -> _Executor:
    """One executor per process, lane and size: apps built in one process (tests) share it."""
    with _SHARED_LOCK:
        return _SHARED.setdefault((name, processes), _Executor(processes))


class WorkPool:
    """One lane of worker processes, shared fairly between keys (tenants, principals).

    At most ``processes`` calls are in the executor at once, so nothing queues inside it (its
    queue is first-come, first-served); the rest wait here, one queue per key, and each freed
    process goes to the next key in turn. A tenant with a hundred queued calls therefore
    delays another tenant's call by at most the calls already running, not by its queue.
    """

    def __init__(self, name: str, processes: int, *, deadline: float = 120.0) -> None:
        if processes < 1:
            raise ValueError("processes must be >= 1")
        self.name = name
        self.processes = processes
        self.deadline = deadline
        self._executor = _shared(name, processes)
        self._running = 0
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    async def _acquire(self, key: str) -> None:
        if self._running < self.processes and not self._waiting:
            self._running += 1
            return
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(gate)
        try:
            await gate
        except asyncio.CancelledError:
            if gate.done() and not gate.cancelled():
                self._release()  # the slot was handed over as we were cancelled: pass it on
            else:
                queue = self._waiting.get(key)
                if queue is not None and gate in queue:
                    queue.remove(gate)
                    if not queue:
                        del self._waiting[key]
            raise

    def _release(self, finished: str | None = None) -> None:
        if finished is not None and finished in self._waiting:
            self._waiting.move_to_end(finished)  # the key that just ran goes to the back
        while self._waiting:
            key, queue = next(iter(self._waiting.items()))
            gate = queue.popleft()
            if queue:
                self._waiting.move_to_end(key)  # round robin: this key goes to the back
            else:
                del self._waiting[key]
            if not gate.done():
                gate.set_result(None)  # the slot passes to this caller
                return
        self._running -= 1

    async def warm(self) -> None:
        """Start every worker process now and load the heavy modules in it."""
        from riskgrid.service.heavy import warm

        pool = self._executor.get()
        await asyncio.gather(
            *(asyncio.wrap_future(pool.submit(warm)) for _ in range(self.processes))
        )

    async def call(self, key: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker process, in ``key``'s turn; awaited without a thread."""
        await self._acquire(key)
        try:
            pool = self._executor.get()
            try:
                future = pool.submit(fn, *args)
                return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline)
            except BrokenProcessPool:
                self._executor.broken(pool)
                raise WorkUnavailable("a work process died; retry the request") from None
            except TimeoutError:
                raise WorkUnavailable(
                    f"the work pool did not answer within {self.deadline:g} s"
                ) from None
        finally:
            self._release(key)
