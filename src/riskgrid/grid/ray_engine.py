"""The Ray engine: the same tasks on a local Ray or a Ray cluster.

``RayEngine()`` starts a local Ray (``num_cpus=workers``, no dashboard) and shuts it down when
closed; ``RayEngine(address="ray://…" or "HOST:PORT")`` connects to a running cluster and leaves
it running. If Ray is already initialised in this process (a notebook, the test suite), the
engine uses that runtime and leaves it alone.

The ``(fn, context)`` pair is ``ray.put`` once; tasks receive its reference wrapped in a list
(so Ray does not resolve it per call) and each Ray worker process fetches and unpickles it once,
caching it by object id. Ray's own retries are off (``max_retries=0``): a task that raises or
whose worker dies comes back to the driver, which retries it under the same rules and counts as
the local engine does. At most ``inflight`` tasks are submitted at a time, so that cancellation
has little to cancel.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
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
_CACHE: dict[str, Any] = {}  # per Ray worker process: object id → (fn, context)


def _execute(holder: list[Any], task: Task) -> Any:
    """Runs in a Ray worker: fetch the shared payload once per process, then run the task."""
    import ray

    ref = holder[0]
    key = ref.hex()
    payload = _CACHE.get(key)
    if payload is None:
        _CACHE.clear()  # one job's context at a time per worker
        payload = _CACHE[key] = ray.get(ref)
    fn, context = payload
    return fn(context, task)


class RayEngine:
    """Run tasks as Ray tasks (see module docstring)."""

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        inflight: int | None = None,
    ):
        if workers is not None and workers < 1:
            raise ValueError("workers must be ≥ 1")
        self.address = address
        self._requested = workers
        self._started_here = False
        self._inflight = inflight
        self._remote: Any = None

    def start(self) -> None:
        """Start or connect to Ray now (the planner then sees the cluster's real CPU count)."""
        self._ensure()

    def _ensure(self) -> Any:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self._requested or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            self._started_here = True
        if self._remote is None:
            self._remote = ray.remote(_execute).options(
                num_cpus=1, max_retries=0, retry_exceptions=False
            )
        return ray

    @property
    def workers(self) -> int:
        """CPUs Ray offers (the requested count when Ray is not started yet)."""
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self._requested or os.cpu_count() or 1

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
        ray = self._ensure()
        from ray.exceptions import RayError, RayTaskError

        stats = RunStats(submitted=len(tasks))
        book = RetryBook(max_retries, stats, events)
        if not tasks:
            return stats
        holder = [ray.put((fn, context))]  # once, into the object store
        limit = self._inflight or max(32, 4 * self.workers)
        queue: deque[int] = deque(range(len(tasks)))
        running: dict[Any, int] = {}
        remaining = len(tasks)
        try:
            while remaining:
                if cancel is not None and cancel():
                    raise JobCancelled(
                        f"cancelled with {remaining} of {len(tasks)} tasks unfinished", stats
                    )
                while queue and len(running) < limit:
                    i = queue.popleft()
                    running[self._remote.remote(holder, tasks[i])] = i
                    book.started(tasks[i])
                ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_SECONDS)
                if ready:
                    more, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
                    ready = list(dict.fromkeys([*ready, *more]))
                for ref in ready:
                    i = running.pop(ref)
                    try:
                        value = ray.get(ref)
                    except RayTaskError as exc:
                        book.failed(tasks[i], last_line(str(exc)))
                        queue.appendleft(i)
                        continue
                    except RayError as exc:  # worker died, node lost, object lost …
                        stats.worker_deaths += 1
                        book.failed(tasks[i], f"{type(exc).__name__}: {last_line(str(exc))}")
                        queue.appendleft(i)
                        continue
                    on_result(tasks[i], value)
                    stats.completed += 1
                    remaining -= 1
            return stats
        except (JobFailed, JobCancelled, KeyboardInterrupt):
            for ref in running:
                ray.cancel(ref, force=True)
            raise
        finally:
            del holder

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False
