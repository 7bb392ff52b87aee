"""A real OCI distribution registry (Debian's ``docker-registry``) on a loopback port.

Installed with apt-get when missing (the test setup is root on the project's machines); each
instance has its own config and storage directory, and is stopped by the PID it was started
with.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

BINARY = "/usr/bin/docker-registry"


def ensure_installed() -> str:
    if os.path.exists(BINARY):
        return BINARY
    found = shutil.which("docker-registry") or shutil.which("registry")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            "docker-registry is not installed and the tests are not root: "
            "run `apt-get install -y docker-registry`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "docker-registry"],):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=300)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"apt-get install docker-registry failed: {proc.stderr[-500:]}")
    return BINARY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class Registry:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = ensure_installed()
        self.workdir = workdir
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "storage").mkdir(exist_ok=True)
        self.config = workdir / "config.yml"
        self.config.write_text(CONFIG.format(root=workdir / "storage", port=self.port))

    def start(self, deadline_s: float = 30.0) -> None:
        log = open(self.workdir / "registry.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [self.binary, "serve", str(self.config)], stdout=log, stderr=log
        )
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited ({self.proc.returncode}): "
                    f"{(self.workdir / 'registry.log').read_text()[-800:]}"
                )
            try:
                if httpx.get(f"http://{self.host}/v2/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer on {self.host} within {deadline_s}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
