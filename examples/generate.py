#!/usr/bin/env python3
"""Generate riskgrid's example market data and portfolio (seeded, deterministic).

    .venv/bin/python examples/generate.py          # rewrites examples/market and portfolios

Writes:

* ``examples/market/snapshot-2026-11-20.yaml`` — as-of market data: 7 currency zero curves,
  8 FX pairs, 20 equities with dividend yields, vol term structures for every underlying;
* ``examples/market/history.csv`` — 756 business days (3 years) of daily history of every risk
  factor, ending on the as-of date. Synthetic but shaped like markets: spots follow correlated
  GBM-like paths (a global and a regional equity factor, a USD factor for FX) with GARCH(1,1)
  volatility clustering and Student-t(4) shocks; implied vols mean-revert in log and rise when
  the spot falls; zero rates move by level and slope factors with mean reversion;
* ``examples/portfolios/multi-desk.csv`` — 3,200 positions over three desks (eq-vol,
  fx-options, rates-delta-one) and their books, mixing all five instrument types.

The history is simulated forward and then rescaled (spots, vols) or shifted (rates) so that its
last row equals the snapshot: historical scenarios then start exactly from today's market.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import yaml

from riskgrid.spec.job import CSV_COLUMNS

SEED = 20261126
AS_OF = dt.date(2026, 11, 20)
N_DAYS = 756
HERE = Path(__file__).resolve().parent

CURRENCIES = {  # ccy: (short rate, 10y rate)
    "USD": (0.0430, 0.0405),
    "EUR": (0.0215, 0.0262),
    "GBP": (0.0400, 0.0430),
    "JPY": (0.0045, 0.0150),
    "CHF": (0.0020, 0.0060),
    "AUD": (0.0385, 0.0440),
    "CAD": (0.0290, 0.0330),
}
RATE_TENORS = ("3M", "6M", "1Y", "2Y", "5Y", "10Y")
RATE_YEARS = np.array([0.25, 0.5, 1.0, 2.0, 5.0, 10.0])
VOL_TENORS = ("1M", "3M", "6M", "1Y", "2Y")
FX = {  # pair: (spot, vol)
    "EURUSD": (1.0812, 0.075),
    "GBPUSD": (1.2735, 0.080),
    "USDJPY": (151.42, 0.095),
    "USDCHF": (0.8834, 0.078),
    "AUDUSD": (0.6561, 0.100),
    "USDCAD": (1.3912, 0.060),
    "EURGBP": (0.8490, 0.055),
    "EURJPY": (163.71, 0.090),
}
EQUITIES = [  # name, currency, region index
    ("ACME", "USD", 0),
    ("BOLT", "USD", 0),
    ("CRUX", "USD", 0),
    ("DYNA", "USD", 0),
    ("EPIC", "USD", 0),
    ("FLUX", "USD", 0),
    ("GRID", "USD", 0),
    ("HELX", "USD", 0),
    ("IONX", "USD", 0),
    ("JETT", "USD", 0),
    ("KORA", "EUR", 1),
    ("LUMA", "EUR", 1),
    ("MERI", "EUR", 1),
    ("NOVA", "EUR", 1),
    ("ORBI", "EUR", 1),
    ("PYRA", "GBP", 2),
    ("QUIL", "GBP", 2),
    ("RUNE", "GBP", 2),
    ("SORA", "JPY", 3),
    ("TAKU", "JPY", 3),
]


def business_days(end: dt.date, n: int) -> list[dt.date]:
    days: list[dt.date] = []
    d = end
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= dt.timedelta(days=1)
    return days[::-1]


def garch_paths(rng: np.random.Generator, z: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """Daily returns with GARCH(1,1) variance; ``z`` (days, n) unit shocks, ``vol`` annual."""
    n_days = z.shape[0]
    target = (vol / np.sqrt(252.0)) ** 2
    alpha, beta = 0.08, 0.90
    omega = target * (1.0 - alpha - beta)
    var = target.copy()
    out = np.empty_like(z)
    for t in range(n_days):
        out[t] = np.sqrt(var) * z[t]
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def student_t(rng: np.random.Generator, shape: tuple[int, ...], df: float = 4.0) -> np.ndarray:
    """Student-t shocks scaled to unit variance."""
    return rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2.0))


def simulate(rng: np.random.Generator) -> tuple[dict, dict[str, np.ndarray]]:
    n_eq, n_fx = len(EQUITIES), len(FX)
    # -- equities: global + regional factor + idiosyncratic, t shocks, GARCH clustering
    g = student_t(rng, (N_DAYS, 1))
    regional = student_t(rng, (N_DAYS, 4))
    idio = student_t(rng, (N_DAYS, n_eq))
    region = np.array([r for _, _, r in EQUITIES])
    z_eq = 0.6 * g + 0.45 * regional[:, region] + np.sqrt(1 - 0.36 - 0.2025) * idio
    eq_vol = rng.uniform(0.16, 0.42, n_eq)
    eq_ret = garch_paths(rng, z_eq, eq_vol)
    # -- FX: a USD factor + pair-specific
    usd = student_t(rng, (N_DAYS, 1))
    sign = np.array([-1.0 if p.startswith("USD") else 1.0 for p in FX])
    sign[[i for i, p in enumerate(FX) if "USD" not in p]] = 0.0
    z_fx = 0.55 * usd * sign + np.sqrt(1 - 0.3025 * sign**2) * student_t(rng, (N_DAYS, n_fx))
    fx_vol = np.array([v for _, v in FX.values()])
    fx_ret = garch_paths(rng, z_fx, fx_vol)

    spot_ret = np.hstack([eq_ret, fx_ret])
    spot_ret[0] = 0.0
    spots = np.exp(np.cumsum(spot_ret - 0.5 * spot_ret.var(axis=0), axis=0))

    # -- implied vols: log-vol AR(1), falls when the spot rises (leverage)
    atm = np.concatenate([eq_vol, fx_vol])
    lv = np.zeros_like(spots)
    lv[0] = np.log(atm)
    shocks = rng.standard_normal(spots.shape)
    for t in range(1, N_DAYS):
        lv[t] = lv[t - 1] + 0.03 * (np.log(atm) - lv[t - 1]) - 2.5 * spot_ret[t] + 0.035 * shocks[t]
    vols = np.exp(lv)

    # -- rates: level and slope per currency, mean reverting, in decimals
    rates: dict[str, np.ndarray] = {}
    global_level = rng.standard_normal(N_DAYS)
    for ccy, (short, long) in CURRENCIES.items():
        lvl = np.zeros(N_DAYS)
        slope = np.zeros(N_DAYS)
        e1 = 0.5 * global_level + np.sqrt(0.75) * rng.standard_normal(N_DAYS)
        e2 = rng.standard_normal(N_DAYS)
        for t in range(1, N_DAYS):
            lvl[t] = lvl[t - 1] * 0.995 + 0.00055 * e1[t]
            slope[t] = slope[t - 1] * 0.99 + 0.0003 * e2[t]
        shape = np.exp(-RATE_YEARS / 3.0)
        base = long + (short - long) * shape
        rates[ccy] = base[None, :] + lvl[:, None] + slope[:, None] * (1 - shape)[None, :]

    eq_spot0 = rng.uniform(20.0, 480.0, n_eq)
    snap_spots = np.concatenate([eq_spot0, np.array([s for s, _ in FX.values()])])
    spots = spots * (snap_spots / spots[-1])
    snap_atm = vols[-1]
    names = [n for n, _, _ in EQUITIES] + list(FX)
    term_slope = rng.uniform(-0.15, 0.12, len(names))
    vol_years = np.array([1 / 12, 0.25, 0.5, 1.0, 2.0])

    snapshot = {
        "asOf": AS_OF,
        "baseCurrency": "USD",
        "curves": {
            ccy: {t: round(float(r), 6) for t, r in zip(RATE_TENORS, rates[ccy][-1], strict=True)}
            for ccy in CURRENCIES
        },
        "fx": {p: float(s) for p, (s, _) in FX.items()},
        "equities": {
            n: {
                "spot": round(float(eq_spot0[i]), 2),
                "currency": c,
                "dividendYield": round(float(rng.uniform(0.0, 0.04)), 4),
            }
            for i, (n, c, _) in enumerate(EQUITIES)
        },
        "vols": {
            n: {
                t: round(float(snap_atm[i] * (1 + term_slope[i] * np.log(y / 0.25) / 3)), 4)
                for t, y in zip(VOL_TENORS, vol_years, strict=True)
            }
            for i, n in enumerate(names)
        },
    }
    # make the history end exactly on the (rounded) snapshot
    for i, n in enumerate(names[:n_eq]):
        spots[:, i] *= snapshot["equities"][n]["spot"] / spots[-1, i]
    vols = vols * (np.array([snapshot["vols"][n]["3M"] for n in names]) / vols[-1])
    series: dict[str, np.ndarray] = {}
    for i, n in enumerate(names):
        series[f"spot:{n}"] = spots[:, i]
    for i, n in enumerate(names):
        series[f"vol:{n}"] = vols[:, i]
    for ccy in CURRENCIES:
        snap = np.array([snapshot["curves"][ccy][t] for t in RATE_TENORS])
        shifted = rates[ccy] + (snap - rates[ccy][-1])
        for j, t in enumerate(RATE_TENORS):
            series[f"rate:{ccy}:{t}"] = shifted[:, j]
    return snapshot, series


def portfolio(rng: np.random.Generator, snapshot: dict) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    eq_names = list(snapshot["equities"])
    pairs = list(snapshot["fx"])

    def expiry(lo: int, hi: int) -> str:
        return (AS_OF + dt.timedelta(days=int(rng.integers(lo, hi)))).isoformat()

    def add(desk: str, book: str, **fields: object) -> None:
        rows.append(
            {"id": f"{desk[:2].upper()}-{len(rows) + 1:05d}", "desk": desk, "book": book, **fields}
        )

    for _ in range(1500):  # eq-vol: options on every equity, plus delta hedges
        name = eq_names[int(rng.integers(len(eq_names)))]
        ccy = snapshot["equities"][name]["currency"]
        spot = snapshot["equities"][name]["spot"]
        book = {"USD": "eq-vol-us", "EUR": "eq-vol-eu", "GBP": "eq-vol-eu"}.get(ccy, "eq-vol-asia")
        add(
            "eq-vol",
            book,
            type="equity_option",
            underlying=name,
            strike=round(spot * float(np.exp(rng.normal(0, 0.12))), 2),
            expiry=expiry(7, 3 * 365),
            optionType="call" if rng.random() < 0.5 else "put",
            quantity=int(rng.choice([-1, 1], p=[0.55, 0.45]) * rng.integers(1, 50) * 100),
        )
    for _ in range(250):
        name = eq_names[int(rng.integers(len(eq_names)))]
        add(
            "eq-vol",
            "eq-delta-hedge",
            type="spot",
            underlying=name,
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 40) * 100),
        )
    for _ in range(700):  # fx-options
        pair = pairs[int(rng.integers(len(pairs)))]
        spot = snapshot["fx"][pair]
        book = "fx-g10" if "USD" in pair else "fx-crosses"
        add(
            "fx-options",
            book,
            type="fx_option",
            underlying=pair,
            strike=float(f"{spot * np.exp(rng.normal(0, 0.05)):.5g}"),
            expiry=expiry(7, 2 * 365),
            optionType="call" if rng.random() < 0.5 else "put",
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 50) * 100_000),
        )
    for _ in range(250):
        pair = pairs[int(rng.integers(len(pairs)))]
        spot = snapshot["fx"][pair]
        add(
            "fx-options",
            "fx-hedges",
            type="fx_forward",
            underlying=pair,
            strike=float(f"{spot * (1 + rng.normal(0, 0.01)):.5g}"),
            expiry=expiry(7, 365),
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 50) * 100_000),
        )
    for _ in range(100):
        pair = pairs[int(rng.integers(len(pairs)))]
        add(
            "fx-options",
            "fx-hedges",
            type="spot",
            underlying=pair,
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 20) * 100_000),
        )
    for _ in range(300):  # rates-delta-one
        ccy = list(CURRENCIES)[int(rng.integers(len(CURRENCIES)))]
        book = "zcb-usd" if ccy == "USD" else "zcb-g10"
        add(
            "rates-delta-one",
            book,
            type="zcb",
            currency=ccy,
            expiry=expiry(30, 10 * 365),
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 100) * 100_000),
        )
    for _ in range(100):
        pair = pairs[int(rng.integers(len(pairs)))]
        spot = snapshot["fx"][pair]
        add(
            "rates-delta-one",
            "fx-swaps",
            type="fx_forward",
            underlying=pair,
            strike=float(f"{spot * (1 + rng.normal(0, 0.005)):.5g}"),
            expiry=expiry(30, 730),
            quantity=int(rng.choice([-1, 1]) * rng.integers(1, 100) * 100_000),
        )
    return rows


def main() -> None:
    rng = np.random.default_rng(SEED)
    snapshot, series = simulate(rng)
    rows = portfolio(rng, snapshot)
    dates = business_days(AS_OF, N_DAYS)

    market = HERE / "market"
    market.mkdir(exist_ok=True)
    (market / f"snapshot-{AS_OF.isoformat()}.yaml").write_text(
        f"# Generated by examples/generate.py (seed {SEED}); format: docs/formats.md\n"
        + yaml.safe_dump(snapshot, sort_keys=False)
    )
    names = list(series)
    with (market / "history.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["date", *names])
        for i, d in enumerate(dates):
            cells = []
            for n in names:
                v = series[n][i]
                cells.append(f"{v:.7f}" if n.startswith("rate:") else f"{v:.8g}")
            w.writerow([d.isoformat(), *cells])

    ports = HERE / "portfolios"
    ports.mkdir(exist_ok=True)
    cols = list(CSV_COLUMNS)
    with (ports / "multi-desk.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print(f"wrote {len(rows)} positions, {len(names)} factors x {len(dates)} days")


if __name__ == "__main__":
    main()
