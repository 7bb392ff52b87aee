"""Grid benchmarks: parallel efficiency and per-task orchestration overhead.

    .venv/bin/python benchmarks/bench_grid.py [--workers N] [--skip-ray] [--quick]

Prints, side by side for riskgrid's local pool, Ray (local runtime) and — as the plain-Python
peer for overhead — ``concurrent.futures.ProcessPoolExecutor``:

1. per-task overhead: no-op tasks per second on warm workers; cold start-up reported apart;
2. parallel efficiency T(1 worker) / (N × T(N workers)) on warm workers, for tasks of 50 ms
   and 200 ms, two kinds: ``spin`` busy-waits a fixed wall time (isolates orchestration: on a
   shared machine it still shows what the engine loses) and ``burn`` does a fixed amount of CPU
   work (real speed-up: it suffers when other processes share the cores);
3. the example job (examples/jobs/multi-desk-var.yaml): end to end with cold workers (1 vs N),
   on warm local pools (1 vs N), and on warm Ray;
4. every example RiskJob through ``riskgrid run`` (fresh processes), ``--workers 1`` vs N, as
   the CLI decides (small jobs in process) and forced onto the pool (``--pool``); alone with
   ``--jobs-only`` (``--exotics`` adds the minutes-long exotics job).

Goal (issue 2): ≥ 90% efficiency for tasks ≥ 50 ms. Numbers depend on the machine and on what
else runs on it (the load average is printed); say both when quoting them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from riskgrid.grid.local import LocalPoolEngine
from riskgrid.grid.synthetic import SyntheticContext, burn, noop, spin
from riskgrid.grid.tasks import Task

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "examples" / "jobs" / "multi-desk-var.yaml"


def _tasks(n: int) -> list[Task]:
    return [Task("pnl", i, i + 1, 0, 1) for i in range(n)]


def _timed(engine, fn, ctx, tasks) -> float:
    t0 = time.perf_counter()
    engine.run(fn, ctx, tasks, on_result=lambda t, v: None)
    return time.perf_counter() - t0


def _ppe_noop(i: int) -> int:
    return i


def _warm_local(workers: int) -> LocalPoolEngine:
    eng = LocalPoolEngine(workers)
    eng.start()
    _timed(eng, noop, SyntheticContext(0, np.ones(1)), _tasks(workers * 2))
    return eng


def overhead(workers: int, n_local: int, n_ray: int, ray_engine) -> list[tuple[str, str]]:
    ctx = SyntheticContext(seed=0, weights=np.ones(1))
    rows = []
    cold = []
    for _ in range(3):
        t0 = time.perf_counter()
        LocalPoolEngine(workers).run(noop, ctx, _tasks(workers), on_result=lambda t, v: None)
        cold.append(time.perf_counter() - t0)
    rows.append(("local pool cold start (spawn, run, stop)", f"{min(cold) * 1e3:8.0f} ms"))
    eng = _warm_local(workers)
    t = _timed(eng, noop, ctx, _tasks(n_local))
    eng.close()
    rows.append(
        (
            "local pool no-op tasks/s (warm)",
            f"{n_local / t:8.0f}  ({t / n_local * 1e6:.0f} µs/task)",
        )
    )
    with ProcessPoolExecutor(workers) as ex:
        list(ex.map(_ppe_noop, range(workers * 2)))  # start the pool
        t0 = time.perf_counter()
        for f in [ex.submit(_ppe_noop, i) for i in range(n_local)]:
            f.result()
        t = time.perf_counter() - t0
    rows.append(
        (
            "peer: ProcessPoolExecutor no-op tasks/s",
            f"{n_local / t:8.0f}  ({t / n_local * 1e6:.0f} µs/task)",
        )
    )
    if ray_engine is not None:
        _timed(ray_engine, noop, ctx, _tasks(workers * 4))  # warm the Ray workers
        t = _timed(ray_engine, noop, ctx, _tasks(n_ray))
        rows.append(
            (
                "peer: Ray no-op tasks/s (riskgrid Ray engine)",
                f"{n_ray / t:8.0f}  ({t / n_ray * 1e6:.0f} µs/task)",
            )
        )
    return rows


def _iterations_for(seconds: float) -> int:
    ctx = SyntheticContext(0, np.ones(1), burn_iterations=200_000)
    best = min(_t(lambda: burn(ctx, Task("pnl", 0, 1))) for _ in range(3))
    return max(1, int(200_000 * seconds / best))


def _t(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def efficiency(workers: int, seconds: float, n_tasks: int, ray_engine) -> list[tuple[str, str]]:
    rows = []
    for kind, fn, ctx in (
        ("spin", spin, SyntheticContext(0, np.ones(n_tasks), spin_seconds=seconds)),
        ("burn", burn, SyntheticContext(0, np.ones(1), burn_iterations=_iterations_for(seconds))),
    ):
        tasks = _tasks(n_tasks)
        one, many = _warm_local(1), _warm_local(workers)
        t1 = _timed(one, fn, ctx, tasks)
        tn = _timed(many, fn, ctx, tasks)
        one.close()
        many.close()
        label = f"{kind} {seconds * 1e3:.0f} ms × {n_tasks}"
        rows.append(
            (
                f"local {label}: 1 vs {workers} workers",
                f"{t1:6.2f} s vs {tn:6.2f} s → efficiency {t1 / (workers * tn):6.1%}",
            )
        )
        if ray_engine is not None:
            _timed(ray_engine, noop, ctx, _tasks(workers * 4))
            tr = _timed(ray_engine, fn, ctx, tasks)
            rows.append(
                (
                    f"Ray   {label}: local 1 worker vs Ray {workers} CPUs",
                    f"{t1:6.2f} s vs {tr:6.2f} s → efficiency {t1 / (workers * tr):6.1%}",
                )
            )
    return rows


def example_job(workers: int, ray_engine) -> list[tuple[str, str]]:
    from riskgrid.grid.runner import execute
    from riskgrid.spec.job import load_job

    inputs = load_job(JOB)

    def run(engine, w):
        # on the pool even though this job is small enough to run in process: this section
        # measures the pool (example_jobs_cli measures what a user gets)
        ex = execute(inputs, engine=engine, workers=w, in_process=False)
        assert ex.result.status == "completed"
        return ex.result

    r1, rn = run("local", 1), run("local", workers)
    t1, tn = r1.timings.total_seconds, rn.timings.total_seconds
    e1, en = r1.timings.run_seconds, rn.timings.run_seconds
    rows = [
        (
            f"example job {rn.positions}×{rn.scenarios}, {rn.tasks.total} tasks: "
            f"local 1 vs {workers}",
            f"total {t1:5.2f} s vs {tn:5.2f} s → {t1 / (workers * tn):6.1%}; "
            f"engine run {e1:5.2f} s vs {en:5.2f} s → {e1 / (workers * en):6.1%}",
        )
    ]
    warm = {}
    for n in (1, workers):
        eng = LocalPoolEngine(n, preload=("numpy", "riskgrid.grid.jobtask"))
        eng.start()
        run(eng, None)  # first run pays the start-up
        warm[n] = run(eng, None).timings.run_seconds
        eng.close()
    w1, wn = warm[1], warm[workers]
    rows.append(
        (
            f"example job, warm pools (started, one run done): local 1 vs {workers}",
            f"engine run {w1:5.2f} s vs {wn:5.2f} s → {w1 / (workers * wn):6.1%}",
        )
    )
    if ray_engine is not None:
        run(ray_engine, None)  # warm Ray workers
        rr = run(ray_engine, None)
        er = rr.timings.run_seconds
        rows.append(
            (
                f"example job on Ray ({workers} CPUs, warm) vs warm local 1 worker",
                f"engine run {w1:5.2f} s vs {er:5.2f} s → {w1 / (workers * er):6.1%}",
            )
        )
        same = rr.portfolio == rn.portfolio and rr.groups == rn.groups
        rows.append(("example job: Ray answer == local answer (bit for bit)", str(same)))
    return rows


def example_jobs_cli(workers: int, runs: int, exotics: bool) -> list[tuple[str, str]]:
    """Every example RiskJob end to end (``riskgrid run``, a fresh process each time): 1 worker
    vs ``workers``, as the CLI decides (small jobs in process), and on the pool (``--pool``,
    what every job did before small jobs ran in process). Min / median of ``runs``."""
    import statistics
    import subprocess
    import tempfile

    jobs = sorted((REPO / "examples" / "jobs").glob("*.yaml"))
    jobs = [j for j in jobs if "kind: RiskJob" in j.read_text()]
    if not exotics:
        jobs = [j for j in jobs if "exotics" not in j.name]
    exe = [sys.executable, "-m", "riskgrid.cli.main", "run"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:

        def wall(job: Path, w: int, extra: list[str]) -> float:
            t0 = time.perf_counter()
            out = Path(tmp) / f"{job.stem}-{w}"
            cmd = [*exe, str(job), "--workers", str(w), "-q", "-o", str(out), *extra]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            return time.perf_counter() - t0

        for job in jobs:
            for label, extra in (("auto", []), ("pool", ["--pool"])):
                times: dict[int, list[float]] = {1: [], workers: []}
                for _ in range(runs):  # alternate, so that load drifts hit both alike
                    for w in (1, workers):
                        times[w].append(wall(job, w, extra))
                m1, mn = statistics.median(times[1]), statistics.median(times[workers])
                rows.append(
                    (
                        f"{job.name} {label}: riskgrid run --workers 1 vs {workers}",
                        f"min {min(times[1]):5.2f} / {min(times[workers]):5.2f} s, median "
                        f"{m1:5.2f} / {mn:5.2f} s → {workers} workers {mn / m1:5.2f}× the time",
                    )
                )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer tasks (smoke run)")
    ap.add_argument(
        "--jobs-only",
        action="store_true",
        help="only the example jobs end to end through the CLI, 1 vs N workers",
    )
    ap.add_argument("--runs", type=int, default=3, help="runs per example job and setting")
    ap.add_argument("--exotics", action="store_true", help="include exotics-var (minutes)")
    args = ap.parse_args()
    w = args.workers
    rows: list[tuple[str, str]] = [
        ("machine", f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f} at start"),
        ("python", sys.version.split()[0]),
    ]
    if args.jobs_only:
        rows += example_jobs_cli(w, args.runs, args.exotics)
        rows.append(("load avg at end", f"{os.getloadavg()[0]:.2f}"))
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}", flush=True)
        return 0
    ray_engine = None
    if not args.skip_ray:
        import ray

        from riskgrid.grid.ray_engine import RayEngine

        t0 = time.perf_counter()
        ray.init(num_cpus=w, include_dashboard=False, log_to_driver=False)
        rows.append(("Ray start-up (ray.init, local)", f"{time.perf_counter() - t0:6.2f} s"))
        ray_engine = RayEngine()
    scale = 0.25 if args.quick else 1.0
    rows += overhead(w, int(4000 * scale), int(2000 * scale), ray_engine)
    rows += efficiency(w, 0.05, max(8, int(40 * scale)), ray_engine)
    rows += efficiency(w, 0.2, max(4, int(16 * scale)), ray_engine)
    rows += example_job(w, ray_engine)
    rows += example_jobs_cli(w, args.runs, args.exotics)
    rows.append(("load avg at end", f"{os.getloadavg()[0]:.2f}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", flush=True)
    if ray_engine is not None:
        import ray

        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
