"""riskgrid's exposure engine vs ORE on the same portfolio, paths and dates.

    .venv/bin/python benchmarks/bench_xva.py [--trades 50] [--paths 1000] [--repeat 3]

Builds one netting set of ``--trades`` EUR swaps (seeded: random start, 2–20 years, payer or
receiver, near-par fixed rates) on ORE's MinimalSetup market, writes it both as ORE portfolio XML
and as an ExposureJob, and runs, in this one process, alternately and ``--repeat`` times each:

* ORE 1.8.17 (``open-source-risk-engine``; one thread, in a subprocess, constant Hull–White as in
  tests/peers, ``--paths`` samples, MersenneTwister sequence, 41 semi-annual dates);
* riskgrid with 1 worker and with 2 workers (local pool), same paths and dates, no rate bumps.

Both are warm (the first, unreported run of each warms caches and bytecode). Printed: wall
min/median, paths × dates × trades per second per core, CVA of each (they must agree within
MC error), and riskgrid's 1 → 2 worker parallel efficiency. ORE's wall includes its own market
and portfolio set-up (about a second); riskgrid's includes compiling the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "peers"))

from ore_peer import run_ore, swap_xml  # noqa: E402

from riskgrid.grid.exposure import run_exposure  # noqa: E402
from riskgrid.spec.exposure import load_exposure_job  # noqa: E402


def portfolio(n: int, seed: int = 7) -> tuple[str, list[dict]]:
    rng = np.random.default_rng(seed)
    xml, trades = ["<Portfolio>"], []
    for k in range(n):
        start = dt.date(2016, 3, 1) + dt.timedelta(days=int(rng.integers(0, 60)))
        end = start.replace(year=start.year + int(rng.integers(2, 21)))
        rate = round(0.021 + float(rng.normal(0, 0.003)), 5)
        notional = float(rng.choice([5e6, 1e7, 2.5e7]))
        pay_fixed = bool(rng.random() < 0.5)
        s, e = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
        xml.append(
            swap_xml(
                f"S{k}", "EUR", notional, rate, pay_fixed, s, e, "A360", "EUR-EURIBOR-6M", "TARGET"
            )
        )
        trades.append(
            {
                "id": f"S{k}",
                "type": "swap",
                "currency": "EUR",
                "notional": notional,
                "fixedRate": rate,
                "payer": "fixed" if pay_fixed else "float",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "fixedTenor": "1Y",
                "floatTenor": "6M",
                "fixedDayCount": "ACT/360",
                "floatDayCount": "ACT/360",
                "index": "EURIBOR-6M",
            }
        )
    xml.append("</Portfolio>")
    return "".join(xml), trades


def job_file(trades: list[dict], paths: int, folder: Path) -> Path:
    doc = yaml.safe_load((ROOT / "examples" / "exposure" / "ore-minimal.yaml").read_text())
    doc["spec"]["nettingSets"][0]["trades"] = trades
    doc["spec"]["simulation"] = {
        "grid": [{"until": "246M", "step": "6M"}],
        "paths": paths,
        "seed": 1,
    }
    doc["spec"]["measures"] = {"pfeQuantiles": [0.95], "rateBumpBp": 0, "creditBumpBp": 0}
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=50)
    ap.add_argument("--paths", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--efficiency-job",
        default=str(ROOT / "examples" / "jobs" / "cva.yaml"),
        help="ExposureJob timed with 1 and 2 workers for the parallel efficiency ('' to skip)",
    )
    ap.add_argument("--efficiency-only", action="store_true", help="skip the ORE comparison")
    args = ap.parse_args()
    if args.efficiency_only:
        efficiency(args.efficiency_job, args.repeat)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-xva-"))
    xml, trades = portfolio(args.trades)
    _, setup = load_exposure_job(job_file(trades, args.paths, folder))
    dates = 41
    work = args.paths * dates * args.trades

    def ore_once(i: int) -> tuple[float, float]:
        out = run_ore(
            folder / f"ore{i}",
            sigma=0.005,
            reversion=0.03,
            samples=args.paths,
            grid="41,6M",
            portfolio_xml=xml,
            sequence="MersenneTwister",
        )
        return out["wall"], out["cva"]

    def rg_once(workers: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        run = run_exposure(setup, engine="local", workers=workers, paths_per_task=64)
        return time.perf_counter() - t0, run.netting_sets[0].cva

    ore_once(-1)  # warm-up, not reported
    rg_once(1)
    walls: dict[str, list[float]] = {
        "ORE (1 thread)": [],
        "riskgrid 1 worker": [],
        "riskgrid 2 workers": [],
    }
    cvas: dict[str, float] = {}
    for i in range(args.repeat):
        w, c = ore_once(i)
        walls["ORE (1 thread)"].append(w)
        cvas["ORE (1 thread)"] = c
        for n in (1, 2):
            w, c = rg_once(n)
            walls[f"riskgrid {n} worker{'s' if n > 1 else ''}"].append(w)
            cvas[f"riskgrid {n} worker{'s' if n > 1 else ''}"] = c
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"{args.trades} EUR swaps × {args.paths} paths × {dates} dates; "
        f"{args.repeat} runs each; load {' '.join(load)}"
    )
    print(f"{'engine':22} {'min s':>8} {'median s':>9} {'p·d·t / s / core':>18} {'CVA':>12}")
    for name, ws in walls.items():
        cores = 2 if "2 workers" in name else 1
        print(
            f"{name:22} {min(ws):8.2f} {statistics.median(ws):9.2f} "
            f"{work / min(ws) / cores:18,.0f} {cvas[name]:12,.0f}"
        )
    one, two = min(walls["riskgrid 1 worker"]), min(walls["riskgrid 2 workers"])
    print(
        f"riskgrid per-core throughput vs ORE: "
        f"{min(walls['ORE (1 thread)']) / one:.1f}×; 1 → 2 workers efficiency on this small "
        f"job {one / (2 * two):.0%}"
    )
    if args.efficiency_job:
        efficiency(args.efficiency_job, args.repeat)


def efficiency(job: str, repeat: int) -> None:
    """1 → 2 workers on a job large enough for the grid to matter (warm, interleaved)."""
    _, big = load_exposure_job(job)
    run_exposure(big, engine="local", workers=1)  # warm-up, not reported
    walls: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for n in (1, 2):
            t0 = time.perf_counter()
            run_exposure(big, engine="local", workers=n)
            walls[n].append(time.perf_counter() - t0)
    e1, e2 = min(walls[1]), min(walls[2])
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"{Path(job).name}: {big.paths} paths × {len(big.report_dates)} dates × "
        f"{big.n_trades} trades; load {' '.join(load)}"
    )
    for n in (1, 2):
        print(
            f"  {n} worker(s) min/median {min(walls[n]):.2f} / {statistics.median(walls[n]):.2f} s"
        )
    print(f"  parallel efficiency 1 → 2 workers {e1 / (2 * e2):.0%}")


if __name__ == "__main__":
    main()
