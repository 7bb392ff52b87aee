"""The demo job end to end (``riskgrid run examples/jobs/multi-desk-var.yaml``), this tree
beside a baseline source tree, in one run, alternating, each a fresh process.

    .venv/bin/python benchmarks/bench_demo.py [--runs N] [--baseline-src PATH/src] [--pin CPU]

``--baseline-src`` puts another checkout's ``src`` first on ``PYTHONPATH`` (same interpreter and
dependencies), e.g. ``git worktree add --detach /tmp/main main`` then ``/tmp/main/src``; compile
its bytecode first (``python -m compileall -q /tmp/main/src``) as ``tasks.py setup`` does here.
Prints min/median wall and CPU seconds (user + sys, children included) and the load average, and
checks that both trees wrote the same numbers (``result.json`` less timings, every Parquet
table). Goal (issue 14): the demo ≤ 1.5 s wall after setup.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "examples" / "jobs" / "multi-desk-var.yaml"
CODE = "import sys; from riskgrid.cli.main import main; sys.exit(main(sys.argv[1:]))"
VOLATILE = {"timings", "plan", "workers", "tasks"}  # how it ran, not what it found


def _once(src: Path | None, out: Path, pin: int | None) -> tuple[float, float]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, "-c", CODE, "run", str(JOB), "-o", str(out), "-q"]
    if pin is not None:
        cmd = ["taskset", "-c", str(pin), *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, timeout=300)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _answer(out: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    body = json.loads((out / "result.json").read_text())
    tables = {p.name: pq.read_table(p).to_pydict() for p in sorted(out.glob("*.parquet"))}
    return {"result": {k: v for k, v in body.items() if k not in VOLATILE}, "tables": tables}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--pin", type=int, default=None, help="taskset -c CPU for every run")
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this tree": None}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        outs = {name: Path(tmp) / f"r{i}" for i, name in enumerate(trees)}
        for name, src in trees.items():  # warm-up: page cache, bytecode, spawn-cost record
            _once(src, outs[name], args.pin)
        for _ in range(args.runs):
            for name, src in trees.items():
                times[name].append(_once(src, outs[name], args.pin))
        answers = {name: _answer(out) for name, out in outs.items()}
    print(f"load after:  {Path('/proc/loadavg').read_text().strip()}")
    print(f"{'tree':<10} {'runs':>4} {'wall min':>9} {'wall med':>9} {'cpu min':>8} {'cpu med':>8}")
    for name, ts in times.items():
        walls, cpus = [w for w, _ in ts], [c for _, c in ts]
        print(
            f"{name:<10} {len(ts):>4} {min(walls):>8.2f}s {statistics.median(walls):>8.2f}s "
            f"{min(cpus):>7.2f}s {statistics.median(cpus):>7.2f}s"
        )
    if len(answers) == 2:
        same = answers["this tree"] == answers["baseline"]
        print(f"same numbers as the baseline (result.json less timings, all Parquet): {same}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
