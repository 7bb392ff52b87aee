#!/usr/bin/env python3
"""riskgrid's two commands, for a fresh machine with only Python 3.11+ and pip.

    python3 tasks.py demo   # set up, then run the main job on the shipped example
    python3 tasks.py test   # set up, then run lint, format check and the whole test suite

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


def setup() -> str:
    uv = str(_uv())
    if _run(uv, "sync", "--locked") != 0:
        sys.exit("tasks: 'uv sync --locked' failed; is uv.lock up to date with pyproject.toml?")
    return uv


def demo(extra: list[str]) -> int:
    uv = setup()
    return _run(uv, "run", "--locked", "riskgrid", "run", DEMO_JOB, *extra)


def test(extra: list[str]) -> int:
    uv = setup()
    for step in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
    ):
        if (rc := _run(uv, "run", "--locked", *step)) != 0:
            return rc
    return _run(uv, "run", "--locked", "pytest", *extra)


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
