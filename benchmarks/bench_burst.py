"""Capacity-simulation benchmark: a day of 10,000 jobs / ~10 million tasks.

    .venv/bin/python benchmarks/bench_burst.py [--jobs 10000] [--runs 3]

Prints the time (min / median of ``--runs``) and peak traced memory of ``riskgrid burst
simulate``'s engine on a synthetic day against examples/platform/capacity-plan.yaml, for the
burst and the on-premises-only runs, and — as the peer — the design the simulation avoids: one
heap event per task (each admitted job's tasks dispatched to its cores one by one), timed on
the first ``--peer-jobs`` jobs of the same day and extrapolated linearly to all tasks.
Goal (issue 13): the day simulates in under a minute on one core. Numbers depend on the
machine and on what else runs on it (the load average is printed); say both when quoting them.
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "examples" / "platform" / "capacity-plan.yaml"

GROUPS = [  # desk, priority class, cores, first arrival hour, last arrival hour
    ("rates", "eod-regulatory", 512, 18, 20),
    ("rates", "intraday", 256, 7, 17),
    ("rates", "adhoc", 64, 8, 22),
    ("fx-options", "eod-regulatory", 512, 18, 20),
    ("fx-options", "intraday", 128, 7, 17),
    ("eq-vol", "intraday", 256, 7, 19),
    ("eq-vol", "adhoc", 64, 8, 22),
]


def day_doc(n_jobs: int) -> dict:
    per = n_jobs // len(GROUPS)
    desks: dict[str, list[dict]] = {}
    for i, (desk, pc, cores, h0, h1) in enumerate(GROUPS):
        count = per + (n_jobs - per * len(GROUPS) if i == 0 else 0)
        desks.setdefault(desk, []).append(
            {
                "name": f"g{i}",
                "priorityClass": pc,
                "count": count,
                "arrivals": {"from": f"{h0:02d}:00", "to": f"{h1:02d}:00"},
                # 1e-4 × 10,000 × 20,000 + 2e-3 × 10,000 = 20,020 core-s = 1,001 tasks of 20 s
                "positions": 10_000,
                "scenarios": 20_000,
                "cores": cores,
            }
        )
    return {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "CapacityDay",
        "metadata": {"name": "bench"},
        "spec": {
            "platform": str(PLAN),
            "seed": 7,
            "taskSeconds": 20,
            "costModel": {"perElementSeconds": 1e-4, "perPositionSeconds": 2e-3},
            "desks": [{"name": d, "deadline": "23:00", "jobs": g} for d, g in desks.items()],
        },
    }


def per_task_peer(outcome, n_jobs: int, task_seconds: float) -> tuple[int, float]:
    """One heap event per task for the first ``n_jobs`` jobs, on the cores each was given."""
    t0 = time.perf_counter()
    tasks = 0
    for st in outcome.jobs[:n_jobs]:
        n = max(1, round(st.job.core_seconds / task_seconds))
        start = st.first_admitted or 0.0
        cores = [(start, c) for c in range(st.job.cores)]
        heapq.heapify(cores)
        for _ in range(n):
            free, c = heapq.heappop(cores)
            heapq.heappush(cores, (free + task_seconds, c))
        tasks += n
    return tasks, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peer-jobs", type=int, default=200)
    args = ap.parse_args()

    from riskgrid.burst.day import simulate_day, tasks_of
    from riskgrid.spec.capacity import load_capacity_plan
    from riskgrid.spec.capacity_day import CapacityDay

    plan = load_capacity_plan(PLAN)
    day = CapacityDay.model_validate(day_doc(args.jobs))
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    print(f"day: {args.jobs} jobs, {tasks_of(day):,} tasks, {len(GROUPS)} groups, 3 desks")

    times = []
    outcomes = None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        outcomes = simulate_day(day, plan, day_source="bench", plan_source=str(PLAN))
        times.append(time.perf_counter() - t0)
    assert outcomes is not None
    print(
        f"aggregate simulation (on-premises + burst): min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s over {args.runs} runs"
    )
    for mode, o in outcomes.items():
        summary = o.to_dict()
        met = sum(d["deadlineMet"] for d in summary["desks"].values())
        print(
            f"  {mode}: {o.events:,} events, {o.preemptions} preemptions, "
            f"{o.interruptions} interruptions, peak {o.peak_cores} cores, "
            f"{met}/3 desks on time, cost {summary['costTotal']:,.0f}"
        )
    tracemalloc.start()
    simulate_day(day, plan, day_source="bench", plan_source=str(PLAN))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory: {peak / 2**20:.1f} MiB")

    burst = outcomes["burst"]
    peer_runs = [per_task_peer(burst, args.peer_jobs, 20.0) for _ in range(args.runs)]
    tasks = peer_runs[0][0]
    best = min(t for _, t in peer_runs)
    total = tasks_of(day)
    print(
        f"peer, one event per task: {tasks:,} tasks of the first {args.peer_jobs} jobs in "
        f"{best:.2f} s (min of {args.runs}) = {tasks / best:,.0f} tasks/s → "
        f"~{total / (tasks / best):.0f} s for the day's {total:,} tasks (dispatch only, "
        "no admission)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
