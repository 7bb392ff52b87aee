"""Helpers for the service-on-the-grid tests: a real Ray head on loopback, process listings.

Process listings read ``/proc`` directly (Linux): the tests check that no task process
outlives a cancelled job, counting only processes descended from what the test started
(other Ray clusters and servers run on this machine too).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service_helpers import free_port


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: fields start after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]) if fields[0] != "Z" else None  # a zombie has stopped running


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root``: pid → command line (as the process shows it)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _ppid(int(entry))
            if ppid is not None:
                parents[int(entry)] = ppid
    found: dict[int, str] = {}
    frontier = {root}
    while frontier:
        children = {p for p, pp in parents.items() if pp in frontier and p not in found}
        for p in children:
            found[p] = cmdline(p)
        frontier = children
    return {p: c for p, c in found.items() if c}


@dataclass
class RayHead:
    address: str
    token: str
    temp_dir: Path

    def pids(self) -> list[int]:
        """The cluster's own processes (their command lines name its temp dir)."""
        return [
            int(e)
            for e in os.listdir("/proc")
            if e.isdigit() and str(self.temp_dir) in cmdline(int(e))
        ]

    def raylet(self) -> int:
        return next(p for p in self.pids() if "raylet" in cmdline(p).split()[0])

    def task_processes(self, name: str = "_execute") -> dict[int, str]:
        """Ray workers of this cluster executing a task called ``name`` right now (Ray sets
        a worker's process title to ``ray::<task>`` while it runs one, ``ray::IDLE`` else)."""
        return {p: c for p, c in descendants(self.raylet()).items() if c.startswith(f"ray::{name}")}


@contextlib.contextmanager
def ray_head(num_cpus: int = 2, attempts: int = 2) -> Iterator[RayHead]:
    """``ray start --head`` on loopback: dynamic ports, own temp dir, token authentication.

    Ray gives its raylet a fixed 30 s to register; on this shared, often overloaded machine
    that can pass, so a failed start is cleaned up and tried once more.
    """
    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    ray = str(Path(sys.executable).with_name("ray"))
    errors: list[str] = []
    for _ in range(attempts):
        temp_dir = Path(tempfile.mkdtemp(prefix="rg-svc-ray-", dir="/tmp"))
        port = free_port()
        cmd = [
            ray, "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}",
            f"--num-cpus={num_cpus}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
            "--disable-usage-stats", "--dashboard-agent-listen-port=0",
            "--dashboard-agent-grpc-port=0", "--metrics-export-port=0",
            "--runtime-env-agent-port=0",
        ]  # fmt: skip
        head = RayHead(f"127.0.0.1:{port}", token, temp_dir)
        try:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired as exc:
            out = subprocess.CompletedProcess(cmd, -1, str(exc.stdout), str(exc.stderr))
        if out.returncode == 0:
            try:
                yield head
            finally:
                stop_ray_head(head)
            return
        errors.append(f"{out.stdout}\n{out.stderr}"[-2000:])
        stop_ray_head(head)
    raise AssertionError("ray start failed:\n" + "\n---\n".join(errors))


def stop_ray_head(head: RayHead) -> None:
    """Stop exactly this cluster's processes (never `ray stop`: other clusters run here)."""
    pids = head.pids()
    with contextlib.suppress(StopIteration, IndexError):
        pids += list(descendants(head.raylet()))
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_ppid(p) is not None for p in pids):
            time.sleep(0.1)
    shutil.rmtree(head.temp_dir, ignore_errors=True)
