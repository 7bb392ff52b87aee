"""The Ray engine: the same tasks on a local Ray or a Ray cluster.

``RayEngine()`` starts a local Ray (``num_cpus=workers``, no dashboard) and shuts it down when
closed; ``RayEngine(address="ray://…" or "HOST:PORT")`` connects to a running cluster and leaves
it running. If Ray is already initialised in this process (a notebook, the test suite), the
engine uses that runtime and leaves it alone.

Runtime environment (see docs/grid.md, D-#10.4): workers run on the interpreter and installed
riskgrid of their node — for a local Ray the driver's own ``sys.executable`` — and nothing is
uploaded. Ray's ``uv run`` hook, which would otherwise notice a ``uv run`` ancestor, upload the
working directory and start workers through ``uv run`` in an empty copy of it, is switched off
(``RAY_ENABLE_UV_RUN_RUNTIME_ENV=0``), and so is any ``RAY_RUNTIME_ENV_HOOK``
(``_skip_env_hook``); ``ray.init`` gets no ``runtime_env``. A probe task then proves within the
start-up deadline that a worker starts and runs the same riskgrid version as the driver.

The ``(fn, context)`` pair is ``ray.put`` once; tasks receive its reference wrapped in a list
(so Ray does not resolve it per call) and each Ray worker process fetches and unpickles it once,
caching it by object id. Ray's own retries are off (``max_retries=0``): a task that raises or
whose worker or node dies comes back to the driver, which retries it under the same rules and
counts as the local engine does. At most ``inflight`` tasks are submitted at a time, so that
cancellation has little to cancel. A task's timeout clock starts when it is among the oldest
``CPUs`` tasks in flight (Ray runs them roughly in submission order), not when it was queued.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from riskgrid.grid.engine import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_STARTUP_SECONDS,
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
_CACHE: dict[str, Any] = {}  # per Ray worker process: object id → (fn, context)
#: Set in this process before Ray is imported (and patched if it already was): see docstring.
_CANCEL_DRAIN_SECONDS = 5.0
RUNTIME_ENV_VARS = {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


def _node() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _execute(holder: list[Any], task: Task) -> tuple[str, Any]:
    """Runs in a Ray worker: fetch the shared payload once per process, then run the task."""
    import ray

    ref = holder[0]
    key = ref.hex()
    payload = _CACHE.get(key)
    if payload is None:
        _CACHE.clear()  # one job's context at a time per worker
        payload = _CACHE[key] = ray.get(ref)
    fn, context = payload
    return _node(), fn(context, task)


def _probe() -> tuple[str, str, str]:
    """Runs in a Ray worker: where it runs, and which riskgrid and Python it has."""
    import riskgrid

    return _node(), riskgrid.__version__, sys.version.split()[0]


def _import_ray() -> Any:
    """Import Ray with its ``uv run`` runtime-env hook off, whatever launched this process."""
    os.environ.update(RUNTIME_ENV_VARS)
    import ray
    from ray._private import ray_constants

    # The constant is read at import; if Ray was imported before us, set it here as well.
    ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` of a ``ray://HOST:PORT`` or ``HOST:PORT`` address (None for ``auto``)."""
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_reachable(address: str, timeout: float) -> None:
    """Fail fast, with a clear message, when nothing listens at a Ray address."""
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=max(0.1, timeout)).close()
    except OSError as exc:
        raise EngineUnavailable(
            f"Ray cluster at {address}: nobody answers ({exc.strerror or exc}); check the "
            "address (`ray status` on the head node prints it) and that the head is running"
        ) from None


class RayEngine:
    """Run tasks as Ray tasks (see module docstring)."""

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        inflight: int | None = None,
        startup_seconds: float = DEFAULT_STARTUP_SECONDS,
    ):
        if workers is not None and workers < 1:
            raise ValueError("workers must be ≥ 1")
        if not startup_seconds > 0:
            raise ValueError("startup seconds must be > 0")
        self.address = address
        self.startup_seconds = startup_seconds
        self._requested = workers
        self._started_here = False
        self._inflight = inflight
        self._remote: Any = None
        self._probed = False
        #: Node ids the probe and the tasks ran on.
        self.nodes: set[str] = set()

    def start(self) -> None:
        """Start or connect to Ray now, and prove that workers start (within the deadline)."""
        self._ensure()
        self._probe()

    def _where(self) -> str:
        """Where a user finds Ray's worker start-up errors."""
        import ray

        node = getattr(ray._private.worker, "_global_node", None)
        if self._started_here and node is not None:
            return f"{node.get_session_dir_path()}/logs (raylet.out, worker-*.err)"
        return (
            "the cluster's Ray logs on each node (/tmp/ray/session_latest/logs: raylet.out, "
            "worker-*.err), or `ray status` on the head"
        )

    def _ensure(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address:
                check_reachable(self.address, min(5.0, self.startup_seconds))
                ray.init(
                    address=self.address,
                    log_to_driver=False,
                    runtime_env=None,
                    _skip_env_hook=True,
                )
            else:
                ray.init(
                    num_cpus=self._requested or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    runtime_env=None,
                    _skip_env_hook=True,
                )
            self._started_here = True
        if self._remote is None:
            self._remote = ray.remote(_execute).options(
                num_cpus=1, max_retries=0, retry_exceptions=False
            )
        return ray

    def _probe(self) -> None:
        """One tiny task must come back within ``startup_seconds`` (or the run fails now)."""
        if self._probed:
            return
        ray = self._ensure()
        import riskgrid

        ref = ray.remote(_probe).options(num_cpus=1, max_retries=0).remote()
        ready, _ = ray.wait([ref], timeout=self.startup_seconds)
        if not ready:
            ray.cancel(ref, force=True)
            cpus = ray.cluster_resources().get("CPU", 0)
            alive = sum(1 for n in ray.nodes() if n.get("Alive"))
            need = "" if cpus >= 1 else "; every riskgrid task needs 1 CPU"
            raise EngineUnavailable(
                f"no Ray worker started a task within {self.startup_seconds:g} s "
                f"(Ray at {self.address or 'local'}: {alive} node(s), {cpus:g} CPU(s){need}); "
                f"see {self._where()}"
            )
        try:
            node, version, python = ray.get(ref)
        except ray.exceptions.RayError as exc:
            raise EngineUnavailable(
                f"a Ray worker could not run riskgrid: {last_line(str(exc))}; riskgrid "
                f"{riskgrid.__version__} must be installed on every node; see {self._where()}"
            ) from None
        if version != riskgrid.__version__:
            raise EngineUnavailable(
                f"Ray workers run riskgrid {version} (Python {python}) but this driver runs "
                f"riskgrid {riskgrid.__version__}: install the same version on the cluster"
            )
        self.nodes.add(node)
        self._probed = True

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
        limits: Limits | None = None,
        events: TaskEventSink | None = None,
    ) -> RunStats:
        lim = limits or Limits(startup_seconds=self.startup_seconds)
        if lim.startup_seconds != self.startup_seconds:
            self.startup_seconds = lim.startup_seconds
        ray = self._ensure()
        self._probe()

        stats = RunStats(submitted=len(tasks))
        book = RetryBook(max_retries, stats, events)
        if not tasks:
            return stats
        job_deadline = lim.job_deadline()
        slots = self.workers
        st = _RayRun(
            ray, self._remote, [ray.put((fn, context))], tasks, book, lim, slots, on_result
        )  # the holder: (fn, context) once, into the object store
        limit = self._inflight or max(32, 4 * slots)
        try:
            while len(st.done) < len(tasks):
                st.check(cancel, job_deadline, self._where)
                st.submit(limit)
                st.watch(time.monotonic())
                ready, _ = ray.wait(list(st.running), num_returns=1, timeout=_POLL_SECONDS)
                if ready:
                    more, _ = ray.wait(list(st.running), num_returns=len(st.running), timeout=0)
                    ready = list(dict.fromkeys([*ready, *more]))
                for node in st.collect(ready, time.monotonic()):
                    self.nodes.add(node)
            return stats
        except (JobFailed, JobCancelled, KeyboardInterrupt):
            refs = list(st.running)
            for ref in refs:
                ray.cancel(ref, force=True)
            # Let the cancelled tasks' replies land before the caller shuts Ray down: a reply
            # arriving mid-shutdown can crash Ray's core worker (seen on Ctrl-C under `uv run`).
            # Bounded: at most a few seconds, whatever the cluster does.
            with contextlib.suppress(Exception):
                ray.wait(refs, num_returns=len(refs), timeout=_CANCEL_DRAIN_SECONDS)
            raise
        finally:
            st.holder.clear()

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


class _RayRun:
    """The state of one :meth:`RayEngine.run` and its steps: check deadlines, submit, watch
    running tasks (timeouts, stragglers), collect results."""

    def __init__(
        self,
        ray: Any,
        remote: Any,
        holder: list[Any],
        tasks: Sequence[Task],
        book: RetryBook,
        lim: Limits,
        slots: int,
        on_result: ResultSink,
    ):
        self.ray, self.remote, self.holder = ray, remote, holder
        self.tasks, self.book, self.lim, self.slots = tasks, book, lim, slots
        self.on_result = on_result
        self.stats = book.stats
        self.queue: deque[int] = deque(range(len(tasks)))
        self.running: dict[Any, int] = {}  # submission order: the oldest ``slots`` are running
        self.started: dict[Any, float] = {}
        self.copies: dict[int, Any] = {}  # task → its speculative duplicate's ref
        self.done: set[int] = set()

    def drop(self, ref: Any) -> None:
        self.running.pop(ref, None)
        self.started.pop(ref, None)
        self.ray.cancel(ref, force=True)

    def other_copy(self, i: int) -> bool:
        return i in self.running.values()

    def check(self, cancel: CancelCheck | None, job_deadline: float, where: Any) -> None:
        """Cancellation and the job deadline."""
        n, left = len(self.tasks), len(self.tasks) - len(self.done)
        if cancel is not None and cancel():
            raise JobCancelled(f"cancelled with {left} of {n} tasks unfinished", self.stats)
        if time.monotonic() > job_deadline:
            raise JobTimedOut(
                deadline_message(
                    "job deadline",
                    self.lim.job_seconds,
                    [t for i, t in enumerate(self.tasks) if i not in self.done],
                    n,
                    where(),
                ),
                self.stats,
            )

    def submit(self, limit: int) -> None:
        """Submit queued tasks, up to ``limit`` in flight."""
        while self.queue and len(self.running) < limit:
            i = self.queue.popleft()
            if i in self.done or self.other_copy(i):
                continue
            self.running[self.remote.remote(self.holder, self.tasks[i])] = i
            self.book.started(self.tasks[i])

    def watch(self, now: float) -> None:
        """Start the clocks of running tasks; stop those past their timeout; duplicate
        stragglers once nothing is queued."""
        for ref in itertools.islice(self.running, self.slots):
            self.started.setdefault(ref, now)
        for ref, t0 in list(self.started.items()):
            i = self.running[ref]
            timeout = self.lim.task_timeout(self.tasks[i])
            if now - t0 > timeout:
                self.drop(ref)
                self.book.timed_out(self.tasks[i], timeout)
                if not self.other_copy(i):
                    self.queue.appendleft(i)
            elif (
                not self.queue
                and i not in self.copies
                and self.lim.straggling(now - t0, self.stats)
            ):
                twin = self.remote.remote(self.holder, self.tasks[i])
                self.running[twin] = i
                self.copies[i] = twin
                self.book.started(self.tasks[i])
                self.stats.speculative += 1

    def collect(self, ready: list[Any], now: float) -> list[str]:
        """Take finished refs: results to ``on_result``, failures to the retry book. Returns
        the nodes that completed tasks."""
        from ray.exceptions import RayError, RayTaskError

        nodes = []
        for ref in ready:
            if ref not in self.running:
                continue
            i = self.running.pop(ref)
            t0 = self.started.pop(ref, now)
            if i in self.done:
                continue
            try:
                node, value = self.ray.get(ref)
            except (RayTaskError, RayError) as exc:
                died = not isinstance(exc, RayTaskError)
                self.stats.worker_deaths += died
                reason = last_line(str(exc))
                if died:
                    reason = f"{type(exc).__name__}: {reason}"
                if self.other_copy(i):
                    self.stats.errors.append(f"{self.tasks[i].key} (one of two copies): {reason}")
                    continue
                self.book.failed(self.tasks[i], reason)
                self.queue.appendleft(i)
                continue
            self.done.add(i)
            self.on_result(self.tasks[i], value)
            self.book.completed(now - t0, node)
            nodes.append(node)
            if self.copies.get(i) is ref:
                self.stats.speculative_wins += 1
            for other in [r for r, j in self.running.items() if j == i]:
                self.drop(other)
        return nodes
