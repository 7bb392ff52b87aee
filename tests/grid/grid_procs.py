"""Process listings for the "nothing orphaned" checks (psutil, which Ray already depends on)."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil


def descendants(pid: int) -> list[psutil.Process]:
    """Every live process below ``pid`` (workers, Ray's raylet, GCS and worker processes …)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (zombies count as gone: they run nothing)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def alive_pids(pids: list[int]) -> list[int]:
    """Those of ``pids`` whose process still runs."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return [p.pid for p in alive(procs)]


def cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def wait_until(cond: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> None:
    """Poll ``cond`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
