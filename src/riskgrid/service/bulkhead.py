"""Bulkheads: one caller (or one tenant) cannot take the whole server.

Heavy requests (job submission, policy dry-runs) pass through :meth:`Bulkheads.run`:

* per **principal**, at most ``principal_concurrency`` in flight (running or waiting); more is
  refused at once with 429;
* per **tenant** (policy dry-runs share a pool of their own), at most ``tenant_concurrency``
  run at once and at most ``tenant_queue`` wait; a full queue is refused with 429 and a
  ``Retry-After`` computed from the observed service time and the queue ahead;
* the work itself is either a coroutine (the heavy routes: their CPU-heavy steps go to the
  work *processes*, ``workpool.py``, and their database steps to the work threads) or a plain
  function run in a dedicated pool of ``work_threads`` threads, so neither the event loop
  (health checks, reads) nor FastAPI's default thread pool (authentication, reads) waits
  behind a parse, a validation, a policy evaluation or a hash.

Waiting happens on the event loop (an ``asyncio`` condition), not in a thread: a queued request
holds no thread. Limits are per process (each replica protects itself); the *rate* limit is the
one shared across replicas (ratelimit.py).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio


class Rejected(Exception):
    """Over a limit: the request is refused with 429 after ``retry_after`` seconds."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _Gate:
    running: int = 0
    waiting: int = 0
    mean_seconds: float = 0.2  # EWMA of service time, for Retry-After
    cond: asyncio.Condition | None = None


class Bulkheads:
    def __init__(
        self,
        *,
        principal_concurrency: int,
        tenant_concurrency: int,
        tenant_queue: int,
        work_threads: int,
        max_wait: float = 30.0,
    ) -> None:
        self.max_wait = max_wait
        self.principal_limit = principal_concurrency
        self.tenant_limit = tenant_concurrency
        self.queue_limit = tenant_queue
        self.threads = work_threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._principals: dict[str, int] = {}
        self._gates: dict[str, _Gate] = {}

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the running loop
            self._limiter = anyio.CapacityLimiter(self.threads)
        return self._limiter

    def in_flight(self, principal: str) -> int:
        return self._principals.get(principal, 0)

    async def run(
        self,
        principal: str,
        pool: str,
        fn: Callable[..., Any],
        *args: Any,
        before: Callable[[], Awaitable[Any]] | None = None,
    ) -> Any:
        """Run ``fn(*args)`` (awaited if a coroutine function, else in the work threads),
        within ``principal``'s and ``pool``'s limits.

        ``before`` (reading the request body, say) is awaited once the principal's slot is
        taken and before queueing for the pool; its result becomes ``fn``'s first argument. A
        principal at its limit is thus refused before its upload is read, not after.
        """
        mine = self._principals.get(principal, 0)
        gate = self._gates.setdefault(pool, _Gate())
        if mine >= self.principal_limit:
            raise Rejected(
                f"too many concurrent requests from you (limit {self.principal_limit})",
                gate.mean_seconds,
            )
        if gate.running >= self.tenant_limit and gate.waiting >= self.queue_limit:
            ahead = gate.waiting + gate.running
            raise Rejected(
                f"too many requests queued for {pool} (limit {self.queue_limit})",
                math.ceil(ahead / self.tenant_limit) * gate.mean_seconds,
            )
        if gate.cond is None:
            gate.cond = asyncio.Condition()
        self._principals[principal] = mine + 1
        try:
            if before is not None:
                args = (await before(), *args)
            async with gate.cond:
                gate.waiting += 1
                try:
                    # a queued request waits at most max_wait seconds (nothing hangs)
                    await asyncio.wait_for(
                        gate.cond.wait_for(lambda: gate.running < self.tenant_limit),
                        self.max_wait,
                    )
                except TimeoutError:
                    raise Rejected(
                        f"queued {self.max_wait:.0f}s for {pool} without a free slot",
                        gate.mean_seconds,
                    ) from None
                finally:
                    gate.waiting -= 1
                gate.running += 1
            started = time.perf_counter()
            try:
                if inspect.iscoroutinefunction(fn):  # orchestrates threads and work processes
                    return await fn(*args)
                return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
            finally:
                took = time.perf_counter() - started
                gate.mean_seconds = 0.8 * gate.mean_seconds + 0.2 * took
                async with gate.cond:
                    gate.running -= 1
                    # every waiter re-checks; a single notify can be lost to a waiter whose
                    # client has just gone away (cancelled)
                    gate.cond.notify_all()
        finally:
            left = self._principals[principal] - 1
            if left:
                self._principals[principal] = left
            else:
                del self._principals[principal]
