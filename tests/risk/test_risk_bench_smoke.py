"""A tiny run of the pricer benchmark: it runs, agrees with QuantLib and prints every row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_bench_pricer_smoke(repo_root: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(repo_root / "benchmarks" / "bench_pricer.py"),
            "--options",
            "40",
            "--scenarios",
            "8",
            "--ql-scenarios",
            "2",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for row in (
        "QuantLib prebuilt",
        "QuantLib build + NPV",
        "black_scholes.price",
        "revaluation.pnl_block",
    ):
        assert row in out
    diff = float(out.split("max relative difference vs QuantLib")[1].split(":")[1].split()[0])
    assert diff < 1e-10


def test_bench_gpu_exits_cleanly_without_a_gpu(repo_root: Path) -> None:
    """Without CuPy/GPU (CI) the prepared script says why and exits 0 without measuring; with
    one it measures (tiny sizes here)."""
    from riskgrid.grid.device import gpu_problem

    proc = subprocess.run(
        [
            sys.executable,
            str(repo_root / "benchmarks" / "bench_gpu.py"),
            "--paths",
            "4096",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    why = gpu_problem()
    if why is None:
        assert proc.stdout.count("speed-up") == 2
    else:
        assert f"no GPU run possible here: {why}. Nothing measured." in proc.stdout
        assert "speed-up" not in proc.stdout
