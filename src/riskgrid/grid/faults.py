"""Test-only fault injection: make chosen tasks raise or kill their worker, once.

``riskgrid run`` (and :func:`riskgrid.grid.runner.run_job`) wrap the task function in
:class:`FaultInjector` when the environment variable ``RISKGRID_TEST_FAULTS`` is set, e.g.::

    RISKGRID_TEST_FAULTS="exit:pnl-r0-64-c0-500,raise:#3,raise-always:pos-r0-64"
    RISKGRID_TEST_FAULTS_DIR=/tmp/markers   # where "once" is remembered (default: a temp dir)

Each rule is ``MODE:SELECTOR``; the selector is a task key, ``#N`` (the N-th task of the plan,
from 0) or ``*`` (every task). Modes: ``exit`` ends the worker process with ``os._exit(17)`` the
first time the task runs; ``raise`` raises :class:`InjectedFault` the first time;
``raise-always`` raises every time (a permanently failing job); ``slow`` sleeps 60 s in the task
every time (for cancellation tests); ``slow-once`` sleeps 60 s the first time only (a straggler
or a hung attempt: the retry or the speculative copy is fast); ``delay`` sleeps
``RISKGRID_TEST_FAULTS_DELAY`` seconds (default 0.5) every time (a job long enough to disturb
mid-run). "First time" is remembered with a marker file created with
``O_EXCL`` in the markers directory, so it holds across worker processes and Ray workers on one
machine. The hook can only make a job fail, retry or slow, never change a number it reports.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskgrid.grid.engine import TaskFn
from riskgrid.grid.tasks import Task

ENV_RULES = "RISKGRID_TEST_FAULTS"
ENV_DIR = "RISKGRID_TEST_FAULTS_DIR"
ENV_DELAY = "RISKGRID_TEST_FAULTS_DELAY"
MODES = ("exit", "raise", "raise-always", "slow", "slow-once", "delay")
SLOW_SECONDS = 60.0
ENV_SLOW = "RISKGRID_TEST_FAULTS_SLOW"


class InjectedFault(RuntimeError):
    """Raised by a task that a fault rule selected."""


@dataclass(frozen=True)
class FaultInjector:
    """Picklable wrapper around a task function that misbehaves on chosen task keys."""

    inner: TaskFn
    rules: tuple[tuple[str, str], ...]  # (mode, task key)
    marker_dir: str
    delay_seconds: float = 0.5
    slow_seconds: float = SLOW_SECONDS

    def _first_time(self, mode: str, key: str) -> bool:
        marker = Path(self.marker_dir) / f"{mode}-{key}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def __call__(self, context: Any, task: Task) -> Any:
        for mode, key in self.rules:
            if key not in (task.key, "*"):
                continue
            if mode == "raise-always":
                raise InjectedFault(f"injected permanent failure in task {key}")
            if mode == "raise" and self._first_time(mode, key):
                raise InjectedFault(f"injected failure in task {key}")
            if mode == "slow" or (mode == "slow-once" and self._first_time(mode, task.key)):
                time.sleep(self.slow_seconds)
            if mode == "delay":
                time.sleep(self.delay_seconds)
            if mode == "exit" and self._first_time(mode, key):
                os._exit(17)
        return self.inner(context, task)


def parse_rules(text: str, tasks: Sequence[Task]) -> tuple[tuple[str, str], ...]:
    rules: list[tuple[str, str]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        mode, sep, selector = item.partition(":")
        if not sep or mode not in MODES:
            raise ValueError(f"{ENV_RULES}: {item!r}: expected MODE:SELECTOR, MODE one of {MODES}")
        if selector.startswith("#"):
            index = int(selector[1:])
            if not 0 <= index < len(tasks):
                raise ValueError(f"{ENV_RULES}: {item!r}: the plan has {len(tasks)} tasks")
            selector = tasks[index].key
        rules.append((mode, selector))
    return tuple(rules)


def configured() -> bool:
    """Whether ``RISKGRID_TEST_FAULTS`` asks for faults (they need worker processes to kill)."""
    return bool(os.environ.get(ENV_RULES, "").strip())


def from_environment(fn: TaskFn, tasks: Sequence[Task]) -> TaskFn:
    """``fn`` wrapped per ``RISKGRID_TEST_FAULTS``, or ``fn`` itself when it is unset."""
    text = os.environ.get(ENV_RULES, "")
    if not text.strip():
        return fn
    marker_dir = os.environ.get(ENV_DIR) or tempfile.mkdtemp(prefix="riskgrid-faults-")
    os.makedirs(marker_dir, exist_ok=True)
    delay = float(os.environ.get(ENV_DELAY) or 0.5)
    # A sleep longer than the task timeout makes a `slow` task time out and be retried rather
    # than finish: cancellation tests use it so the job cannot end before it is cancelled.
    slow = float(os.environ.get(ENV_SLOW) or SLOW_SECONDS)
    return FaultInjector(fn, parse_rules(text, tasks), marker_dir, delay, slow)
