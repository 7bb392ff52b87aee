#!/usr/bin/env python3
"""Generate the exotics desk portfolio of ``examples/jobs/exotics-var.yaml`` (seeded).

    .venv/bin/python examples/generate_exotics.py   # rewrites examples/portfolios/exotics-desk.csv

A few hundred positions on the example market (``examples/market``, made by generate.py):
arithmetic and geometric Asians (average-price and average-strike, some with fixings already
past), continuously and discretely monitored barriers of all four kinds with rebates,
American equity and FX options, and Heston-priced European, Asian and barrier options on the
four names with Heston parameters in the job. Strikes and barriers are set relative to the
snapshot's spots so no barrier is breached today.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import yaml

from riskgrid.spec.job import CSV_COLUMNS

HERE = Path(__file__).resolve().parent
AS_OF = dt.date(2026, 11, 20)
SEED = 20261129
HESTON_NAMES = ("ACME", "BOLT", "CRUX", "EURUSD")
# The loader's columns (one list: generator and loader cannot drift); no `currency` here.
COLUMNS = [c for c in CSV_COLUMNS if c != "currency"]


def _months_before(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 - k, 12)
    return dt.date(d.year + y, m + 1, min(d.day, 28))


def main() -> None:
    snap = yaml.safe_load((HERE / "market" / "snapshot-2026-11-20.yaml").read_text())
    spots = {n: float(e["spot"]) for n, e in snap["equities"].items()}
    spots.update({p: float(v) for p, v in snap["fx"].items()})
    equities = list(snap["equities"])
    pairs = list(snap["fx"])
    g = np.random.default_rng(SEED)
    rows: list[dict[str, object]] = []

    def base(kind: str, i: int, under: str, book: str) -> dict[str, object]:
        fx = under in pairs
        qty = int(g.choice([-3, -2, -1, 1, 2, 3, 4])) * (100_000 if fx else 100)
        return {
            "id": f"{kind}-{i:04d}",
            "underlying": under,
            "quantity": qty,
            "desk": "exotics",
            "book": book,
            "optionType": str(g.choice(["call", "put"])),
        }

    def expiry(lo_days: int, hi_days: int) -> dt.date:
        return AS_OF + dt.timedelta(days=int(g.integers(lo_days, hi_days)))

    for i in range(120):  # Asians
        under = str(g.choice(equities + pairs))
        r = base("AS", i, under, "asian-fx" if under in pairs else "asian-eq")
        s = spots[under]
        exp = expiry(60, 540)
        n = int(g.integers(3, 13))
        r.update(type="asian_option", expiry=exp.isoformat(), fixingCount=n, fixingFrequency="1M")
        r["average"] = "geometric" if i % 5 == 0 else "arithmetic"
        if i % 7 == 3:
            r["averageOn"] = "strike"
        else:
            r["strike"] = round(s * float(g.uniform(0.9, 1.1)), 6)
        dates = [_months_before(exp, k) for k in range(n - 1, -1, -1)]
        past = [d for d in dates if d <= AS_OF]
        if past:
            r["fixingDates"] = ";".join(d.isoformat() for d in dates)
            del r["fixingCount"], r["fixingFrequency"]
            vals = s * np.exp(g.normal(0, 0.03, len(past)))
            r["pastFixings"] = ";".join(
                f"{d.isoformat()}={v:.6g}" for d, v in zip(past, vals, strict=True)
            )
        if under in HESTON_NAMES and i % 3 == 0:
            r["model"] = "heston"
        rows.append(r)

    for i in range(100):  # barriers
        under = str(g.choice(equities + pairs))
        r = base("BA", i, under, "barrier-fx" if under in pairs else "barrier-eq")
        s = spots[under]
        kind = str(g.choice(["down-in", "down-out", "up-in", "up-out"]))
        down = kind.startswith("down")
        h = s * float(g.uniform(0.75, 0.92) if down else g.uniform(1.08, 1.3))
        r.update(
            type="barrier_option",
            expiry=expiry(60, 450).isoformat(),
            strike=round(s * float(g.uniform(0.9, 1.1)), 6),
            barrier=round(h, 6),
            barrierType=kind,
            rebate=round(s * 0.01, 6) if i % 4 == 0 else "",
            monitoring=str(g.choice(["continuous", "continuous", "1W"])),
        )
        if under in HESTON_NAMES and i % 2 == 0:
            r["model"] = "heston"
            r["monitoring"] = "1W" if i % 4 == 0 else "continuous"
        rows.append(r)

    for i in range(60):  # Americans
        under = str(g.choice(equities + pairs))
        r = base("AM", i, under, "american-fx" if under in pairs else "american-eq")
        r.update(
            type="american_option",
            expiry=expiry(30, 730).isoformat(),
            strike=round(spots[under] * float(g.uniform(0.85, 1.15)), 6),
        )
        rows.append(r)

    for i in range(40):  # Heston Europeans
        under = HESTON_NAMES[i % len(HESTON_NAMES)]
        r = base("HE", i, under, "heston-vanilla")
        r.update(
            type="fx_option" if under in pairs else "equity_option",
            model="heston",
            expiry=expiry(30, 1095).isoformat(),
            strike=round(spots[under] * float(g.uniform(0.8, 1.2)), 6),
        )
        rows.append(r)

    out = HERE / "portfolios" / "exotics-desk.csv"
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
    print(f"wrote {out} ({len(rows)} positions)")


if __name__ == "__main__":
    main()
