"""Grid at scale: driver memory vs book size, and orchestration overhead against raw Ray.

    .venv/bin/python benchmarks/bench_scale.py scale [--sizes 10000,100000,1000000]
        [--scenarios 500] [--repeats 3] [--workers 2]
    .venv/bin/python benchmarks/bench_scale.py overhead [--noop-tasks 100000]
        [--spin-tasks 200] [--repeats 3] [--workers 2]

``scale`` runs the example job's book repeated to each size (``grid.synthetic.scaled_inputs``:
same groups, first ``--scenarios`` scenarios) on the local pool, each run in a fresh child
process so that its peak RSS is its own, and reports wall time, tasks, peak driver RSS
(``VmHWM``), peak total RSS (driver + workers, sampled every 0.2 s from ``/proc``), the
driver's growth during the run, the bytes of shards and results, and the log-log fit of driver
RSS against positions. The reference is the positions × scenarios matrix (8 B × P × S) that the
driver used to hold.

``overhead`` measures per-task orchestration on one local Ray runtime: riskgrid's Ray engine
against raw Ray (``ray.remote`` of the same function, all tasks submitted then ``ray.get``), and
riskgrid's local pool, on no-op tasks and on 50 ms ``spin`` tasks; all warm, same run, min and
median of ``--repeats``. Overhead per task: no-op → wall / tasks; spin → (wall − tasks × 50 ms /
workers) / tasks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "examples" / "jobs" / "multi-desk-var.yaml"


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
                out.extend(int(k) for k in kids)
        except OSError:
            continue
    return out


class RssSampler:
    """Peak of driver RSS and of driver + all descendants' RSS, sampled every ``period``."""

    def __init__(self, period: float = 0.2):
        self.period = period
        self.peak_driver = 0
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            d = _status_kib(me, "VmRSS")
            total = d + sum(_status_kib(p, "VmRSS") for p in _descendants(me))
            self.peak_driver = max(self.peak_driver, d)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.period)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def one(n_positions: int, n_scenarios: int, workers: int) -> dict:
    """One sized run in this (fresh) process; returns its measurements."""
    import pyarrow.parquet  # noqa: F401  (imports are not the run's memory)

    from riskgrid.grid.runner import execute
    from riskgrid.grid.synthetic import scaled_inputs
    from riskgrid.spec.job import load_job

    inputs = scaled_inputs(load_job(JOB), n_positions, n_scenarios)
    base_kib = _status_kib(os.getpid(), "VmRSS")

    tmp = Path(tempfile.mkdtemp(prefix="riskgrid-bench-scale-"))
    try:
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            ex = execute(inputs, workers=workers, out_dir=tmp / "out", work_dir=tmp / "work")
            wall = time.perf_counter() - t0
        assert ex.result.status == "completed", ex.result.message
        shard_bytes = _dir_bytes(tmp / "work")
        result_bytes = _dir_bytes(tmp / "out")
        ex.close()
        r = ex.result
        return {
            "positions": n_positions,
            "scenarios": n_scenarios,
            "groups": sum(len(g) for g in r.groups.values()),
            "wall_s": wall,
            "run_s": r.timings.run_seconds,
            "aggregate_s": r.timings.aggregate_seconds,
            "tasks": r.tasks.total,
            "driver_hwm_mib": _status_kib(os.getpid(), "VmHWM") / 1024,
            "driver_base_mib": base_kib / 1024,
            "driver_peak_run_mib": sampler.peak_driver / 1024,
            "total_peak_mib": sampler.peak_total / 1024,
            "shard_mib": shard_bytes / 2**20,
            "result_mib": result_bytes / 2**20,
            "matrix_mib": 8 * n_positions * n_scenarios / 2**20,
            "var99": r.portfolio.var["0.99"],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fit(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den


def scale(args: argparse.Namespace) -> None:
    sizes = [int(float(x)) for x in args.sizes.split(",")]
    print(f"# scale: {os.cpu_count()} cores, workers {args.workers}, loadavg {_loadavg()}")
    best: dict[int, dict] = {}
    for n in sizes:
        runs = []
        for _ in range(args.repeats if n < 1_000_000 else args.repeats_large):
            cmd = [sys.executable, __file__, "one", str(n), str(args.scenarios), str(args.workers)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"size {n} failed")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  loadavg after {n:,}: {_loadavg()}", flush=True)
        walls = sorted(r["wall_s"] for r in runs)
        hwm = sorted(r["driver_hwm_mib"] for r in runs)
        row = min(runs, key=lambda r: r["wall_s"])
        row["wall_min_s"], row["wall_median_s"] = walls[0], statistics.median(walls)
        row["hwm_min_mib"], row["hwm_median_mib"] = hwm[0], statistics.median(hwm)
        row["runs"] = len(runs)
        row["growth_mib"] = statistics.median(
            r["driver_peak_run_mib"] - r["driver_base_mib"] for r in runs
        )
        best[n] = row
        print(json.dumps(row), flush=True)
    print()
    print(
        "| positions × scenarios | tasks | wall min / median (s) | driver peak RSS (MiB) | "
        "driver growth in run (MiB) | peak total RSS (MiB) | shards (MiB) | results (MiB) | "
        "P×S matrix (MiB) | runs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, r in best.items():
        print(
            f"| {n:,} × {r['scenarios']} | {r['tasks']} | {r['wall_min_s']:.1f} / "
            f"{r['wall_median_s']:.1f} | {r['hwm_median_mib']:.0f} | {r['growth_mib']:.0f} | "
            f"{r['total_peak_mib']:.0f} | {r['shard_mib']:.0f} | {r['result_mib']:.1f} | "
            f"{r['matrix_mib']:.0f} | {r['runs']} |"
        )
    if len(best) >= 2:
        xs = list(best)
        print(
            f"fitted exponent, driver peak RSS ~ P^b: b = "
            f"{_fit(xs, [best[n]['hwm_median_mib'] for n in xs]):.3f}; "
            f"driver growth during the run ~ P^b: b = "
            f"{_fit(xs, [max(best[n]['growth_mib'], 1.0) for n in xs]):.3f}; "
            f"(P×S matrix: b = 1)"
        )
    print(f"loadavg at end: {_loadavg()}")


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def overhead(args: argparse.Namespace) -> None:
    import numpy as np
    import ray

    from riskgrid.grid.local import LocalPoolEngine
    from riskgrid.grid.ray_engine import RayEngine
    from riskgrid.grid.synthetic import SyntheticContext, noop, spin
    from riskgrid.grid.tasks import Task

    w = args.workers
    print(f"# overhead: {os.cpu_count()} cores, {w} workers/CPUs, loadavg {_loadavg()}")
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray.init(num_cpus=w, include_dashboard=False, log_to_driver=False, _temp_dir=tmp)
    try:
        engine = RayEngine()
        local = LocalPoolEngine(w)
        local.start()
        cases = (
            ("no-op", noop, 0.0, args.noop_tasks),
            ("spin 50 ms", spin, 0.05, args.spin_tasks),
        )
        for name, fn, secs, n in cases:
            ctx = SyntheticContext(0, np.ones(n), spin_seconds=secs)
            tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(n)]
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)
            ctx_ref = ray.put(ctx)

            def raw(tasks=tasks, remote=remote, ctx_ref=ctx_ref) -> None:
                ray.get([remote.remote(ctx_ref, t) for t in tasks])

            def rg(tasks=tasks, ctx=ctx, fn=fn) -> None:
                engine.run(fn, ctx, tasks, on_result=lambda t, v: None)

            def lp(tasks=tasks, ctx=ctx, fn=fn) -> None:
                local.run(fn, ctx, tasks, on_result=lambda t, v: None)

            warm = tasks[: 4 * w]
            ray.get([remote.remote(ctx_ref, t) for t in warm])
            engine.run(fn, ctx, warm, on_result=lambda t, v: None)
            local.run(fn, ctx, warm, on_result=lambda t, v: None)
            times: dict[str, list[float]] = {"raw Ray": [], "riskgrid Ray engine": [], "local": []}
            for _ in range(args.repeats):  # interleaved, so load drifts hit all alike
                times["raw Ray"].append(_timed(raw))
                times["riskgrid Ray engine"].append(_timed(rg))
                times["local"].append(_timed(lp))
                print(f"  {name} run: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
                      + f"; loadavg {_loadavg()}", flush=True)  # fmt: skip
            ideal = n * secs / w
            print(f"\n{name}: {n:,} tasks, ideal {ideal:.1f} s, loadavg {_loadavg()}")
            print("| engine | wall min / median (s) | overhead per task min / median (µs) |")
            print("|---|---|---|")
            for k, ts in times.items():
                per = sorted((t - ideal) / n * 1e6 for t in ts)
                print(
                    f"| {k} | {min(ts):.2f} / {statistics.median(ts):.2f} | "
                    f"{per[0]:.0f} / {statistics.median(per):.0f} |"
                )
            ratio = statistics.median(times["riskgrid Ray engine"]) / statistics.median(
                times["raw Ray"]
            )
            print(f"riskgrid Ray engine / raw Ray (median wall): {ratio:.3f}")
        local.close()
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"loadavg at end: {_loadavg()}")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "one":
        print(json.dumps(one(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--sizes", default="10000,100000,1000000")
    s.add_argument("--scenarios", type=int, default=500)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--repeats-large", type=int, default=1, help="runs of the 10⁶ size")
    s.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    o = sub.add_parser("overhead")
    o.add_argument("--noop-tasks", type=int, default=100_000)
    o.add_argument("--spin-tasks", type=int, default=200)
    o.add_argument("--repeats", type=int, default=3)
    o.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    scale(args) if args.cmd == "scale" else overhead(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
