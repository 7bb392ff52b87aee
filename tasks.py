#!/usr/bin/env python3
"""riskgrid's two commands, for a fresh machine with only Python 3.11+ and pip.

    python3 tasks.py demo   # set up, then run the main job on the shipped example
    python3 tasks.py test   # set up, then lint, format check, the whole test suite and the
                            # threat model's gate (its controls verified by that test run)

Setup installs a pinned uv into ``.tools/`` (from PyPI) and the project, with the exact
versions of ``uv.lock``, into ``.venv/``. Nothing is installed outside the project folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"
DEMO_JOB = "examples/jobs/multi-desk-var.yaml"


def _uv() -> Path:
    """Return a project-local uv, installing it from PyPI on first use."""
    bindir = TOOLS / ("Scripts" if os.name == "nt" else "bin")
    uv = bindir / "uv"
    if not uv.exists():
        print(f"tasks: installing uv {UV_VERSION} into {TOOLS}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        subprocess.run(
            [str(bindir / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
            check=True,
        )
    return uv


def _run(*args: str) -> int:
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, cwd=ROOT).returncode


def _in_env(uv: str, *args: str) -> int:
    """Run a command in the environment that setup() has just synced (no second sync: with
    ``compile-bytecode`` every sync re-checks ~12,000 compiled files, about a second)."""
    return _run(uv, "run", "--locked", "--no-sync", *args)


def setup() -> str:
    uv = str(_uv())
    if _run(uv, "sync", "--locked") != 0:
        sys.exit("tasks: 'uv sync --locked' failed; is uv.lock up to date with pyproject.toml?")
    # uv compiles the dependencies' bytecode (``compile-bytecode`` in pyproject.toml) but not
    # the editable project's own sources; compile them too, so that no process recompiles the
    # package (the environment may disable writing bytecode at import time). Only changed
    # files are recompiled on the next setup.
    if _in_env(uv, "python", "-m", "compileall", "-q", "-j", "0", "src") != 0:
        sys.exit("tasks: compiling src/ to bytecode failed")
    return uv


def demo(extra: list[str]) -> int:
    uv = setup()
    return _in_env(uv, "riskgrid", "run", DEMO_JOB, *extra)


def test(extra: list[str]) -> int:
    uv = setup()
    for step in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
    ):
        if (rc := _in_env(uv, *step)) != 0:
            return rc
    # The threat model's gate reads this run's JUnit XML: the controls' evidence comes from the
    # same test run, on the same commit, never from a number typed into the model.
    junit = "results/junit.xml"
    rc = _in_env(uv, "pytest", f"--junitxml={junit}", *extra)
    if extra:  # a partial run (e.g. one folder) is no evidence for the whole model
        return rc
    for step in (
        ["riskgrid", "threats", "verify", "--junit", junit],
        ["riskgrid", "threats", "report", "--format", "html", "-o", "results/threats/report.html"],
        ["riskgrid", "threats", "gate"],
    ):
        if (step_rc := _in_env(uv, *step)) != 0:
            return step_rc
    return rc


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    cmd, extra = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        setup()
        return 0
    return {"demo": demo, "test": test}[cmd](extra)


if __name__ == "__main__":
    sys.exit(main())
