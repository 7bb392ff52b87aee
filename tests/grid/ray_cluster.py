"""A real multi-node Ray cluster on loopback, for tests: ``ray start --head`` + ``ray start
--address`` nodes, each with its own ports, all under one private ``--temp-dir``.

Token authentication is on (``RAY_AUTH_MODE=token``) with a token made for this cluster and
handed to every node and driver in ``RAY_AUTH_TOKEN`` (Ray ≥ 2.5x reads it from there, from
``RAY_AUTH_TOKEN_PATH`` or from ``~/.ray/auth_token``; the environment keeps the user's file
untouched). Teardown kills, by PID, exactly the processes whose command line names this
cluster's temp dir or node-manager ports, and their children — never ``ray stop``, which would
stop other people's clusters on the machine.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    node_manager_port: int
    cpus: int

    def raylet(self) -> psutil.Process | None:
        """This node's raylet (found by its node-manager port)."""
        flag = f"--node_manager_port={self.node_manager_port}"
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if cmd and cmd[0].endswith("raylet") and flag in cmd:
                return p
        return None


@dataclass
class LoopbackCluster:
    temp_dir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for nodes and drivers of this cluster."""
        env = dict(os.environ)
        env.update(
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN=self.token,
            RAY_USAGE_STATS_ENABLED="0",
        )
        env.pop("RAY_ADDRESS", None)
        return env

    def _start(self, args: Callable[[], list[str]], cpus: int, resources: str | None) -> Node:
        """``ray start``; on a loaded machine a raylet can miss Ray's fixed 30 s start-up wait,
        so a failed start is cleaned up (by PID) and tried again, three times at most."""
        errors = []
        for _ in range(4):
            node = Node(free_port(), cpus)
            cmd = [RAY, "start", *args(), "--num-cpus", str(cpus),
                   "--temp-dir", str(self.temp_dir), "--node-ip-address", "127.0.0.1",
                   "--node-manager-port", str(node.node_manager_port),
                   "--object-manager-port", str(free_port()), "--disable-usage-stats"]  # fmt: skip
            if resources:
                cmd += ["--resources", resources]
            proc = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=300)
            if proc.returncode == 0 or self._late_start(node, proc.stderr):
                self.nodes.append(node)
                return node
            errors.append(proc.stderr.strip().splitlines()[-1:])
            self._kill(self.processes(extra=[node]))
        raise RuntimeError(f"ray start {args()} failed 4 times: {errors}")

    def _late_start(self, node: Node, stderr: str) -> bool:
        """Ray gives a raylet a fixed 30 s to register; on a loaded machine it may register
        later. If ``ray start`` gave up but the raylet runs, wait (≤ 240 s) for it to show up."""
        if "timed out during startup" not in stderr or node.raylet() is None:
            return False
        want = len(self.nodes) + 1
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and node.raylet() is not None:
            if self.alive_nodes() >= want:
                return True
            time.sleep(2)
        return False

    def alive_nodes(self) -> int:
        """Nodes ``ray status`` lists as active (0 when the head does not answer)."""
        proc = subprocess.run(
            [RAY, "status", "--address", self.address],
            env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if proc.returncode != 0 or "Active:" not in proc.stdout:
            return 0
        active = proc.stdout.split("Active:", 1)[1].split("Pending:", 1)[0]
        return sum(1 for line in active.splitlines() if " node_" in line)

    def start_head(self, cpus: int = 1) -> Node:
        def args() -> list[str]:
            self.port = free_port()  # a fresh port on each attempt
            return ["--head", "--port", str(self.port), "--include-dashboard", "false",
                    "--dashboard-port", str(free_port())]  # fmt: skip

        return self._start(args, cpus, None)

    def add_node(self, cpus: int = 1, resources: str | None = None) -> Node:
        return self._start(lambda: ["--address", self.address], cpus, resources)

    def processes(self, extra: list[Node] = ()) -> list[psutil.Process]:
        """Every process of this cluster (by temp dir or node-manager port), with children.

        With ``extra`` nodes (a failed start) and nodes already running, only those nodes'."""
        mine = [f"--node_manager_port={n.node_manager_port}" for n in [*self.nodes, *extra]]
        marks = [f"--node_manager_port={n.node_manager_port}" for n in extra]
        if not extra or not self.nodes:
            marks = [str(self.temp_dir), *mine]
        found: dict[int, psutil.Process] = {}
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if any(m in cmd for m in marks):
                found[p.pid] = p
                with contextlib.suppress(psutil.NoSuchProcess):
                    for c in p.children(recursive=True):
                        found[c.pid] = c
        return list(found.values())

    def workers_running_tasks(self, node: Node | None = None) -> list[psutil.Process]:
        """Ray worker processes currently running a riskgrid task (optionally on one node)."""
        raylet = node.raylet() if node else None
        out = []
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                if "ray::_execute" not in " ".join(p.cmdline()):
                    continue
                if raylet is None or p.ppid() == raylet.pid:
                    out.append(p)
        return out

    def stop(self) -> None:
        self._kill(self.processes())
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    @staticmethod
    def _kill(procs: list[psutil.Process]) -> None:
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.terminate()
        _, alive = psutil.wait_procs(procs, timeout=10)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=5)


def new_cluster(prefix: str) -> LoopbackCluster:
    # Short path: Ray's Unix sockets live under it (sun_path is ~107 bytes).
    return LoopbackCluster(Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")))


def wait_for(cond, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
