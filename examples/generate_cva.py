#!/usr/bin/env python3
"""Generate the counterparty-exposure example (seeded, deterministic).

    .venv/bin/python examples/generate_cva.py      # rewrites examples/jobs/cva.yaml

A bank's book with three counterparties (a bank, a corporate and a hedge fund), 300 trades in
EUR (the base currency), USD and GBP: interest-rate swaps of 2 to 15 years, FX forwards, FX
options and equity options on two shares; the hedge fund trades under a CSA (threshold, MTA,
independent amount, 10-day margin period of risk). Curves are given as zero rates at a few
pillars; Hull–White and FX parameters are of realistic size; 2,000 paths on a monthly-then-
quarterly grid to 16 years.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import yaml

SEED = 20261129
AS_OF = dt.date(2026, 11, 20)
OUT = Path(__file__).resolve().parent / "jobs" / "cva.yaml"
CURVES = {  # ccy: (zero rates by pillar, index name, index basis over discount, HW λ, σ)
    "EUR": (
        {"1Y": 0.0205, "5Y": 0.0235, "10Y": 0.0262, "20Y": 0.0275},
        "EURIBOR-6M",
        0.0012,
        0.03,
        0.0075,
    ),
    "USD": (
        {"1Y": 0.0415, "5Y": 0.0390, "10Y": 0.0405, "20Y": 0.0420},
        "SOFR-3M",
        0.0006,
        0.02,
        0.0095,
    ),
    "GBP": (
        {"1Y": 0.0390, "5Y": 0.0375, "10Y": 0.0395, "20Y": 0.0410},
        "SONIA-6M",
        0.0004,
        0.025,
        0.0090,
    ),
}
FX = {"USD": (0.8613, 0.085), "GBP": (1.1540, 0.065)}  # EUR per unit, vol
EQUITIES = {"ACME": ("USD", 182.0, 0.012, 0.28), "EUROCO": ("EUR", 64.0, 0.025, 0.22)}
COUNTERPARTIES = {
    "BANK-B": {"recovery": 0.4, "hazardRates": {"1Y": 0.004, "5Y": 0.006, "10Y": 0.008}},
    "CORP-C": {"recovery": 0.4, "cdsSpreads": {"1Y": 0.006, "5Y": 0.009, "10Y": 0.011}},
    "FUND-F": {"recovery": 0.25, "hazardRates": {"1Y": 0.015, "5Y": 0.02, "10Y": 0.025}},
}


def _swap(rng: np.random.Generator, k: int) -> dict:
    ccy = str(rng.choice(["EUR", "USD", "GBP"], p=[0.5, 0.3, 0.2]))
    zeros, index, basis, _, _ = CURVES[ccy]
    start = AS_OF + dt.timedelta(days=int(rng.integers(2, 90)))
    years = int(rng.integers(2, 16))
    par = float(np.interp(years, [1, 5, 10, 20], list(zeros.values()))) + basis
    return {
        "id": f"swp-{k:04d}",
        "type": "swap",
        "currency": ccy,
        "notional": float(rng.choice([5e6, 10e6, 25e6, 50e6])),
        "fixedRate": round(par + float(rng.normal(0, 0.004)), 5),
        "payer": str(rng.choice(["fixed", "float"])),
        "start": start.isoformat(),
        "end": start.replace(year=start.year + years).isoformat(),
        "fixedTenor": "1Y" if ccy == "EUR" else "6M",
        "floatTenor": "6M" if ccy != "USD" else "3M",
        "fixedDayCount": "30/360" if ccy != "GBP" else "ACT/365F",
        "floatDayCount": "ACT/360" if ccy != "GBP" else "ACT/365F",
        "index": index,
    }


def _fx(rng: np.random.Generator, k: int) -> dict:
    pair = [("USD", "EUR"), ("GBP", "EUR"), ("GBP", "USD")][int(rng.integers(0, 3))]
    spot = FX[pair[0]][0] / (FX[pair[1]][0] if pair[1] != "EUR" else 1.0)
    maturity = AS_OF + dt.timedelta(days=int(rng.integers(60, 3 * 365)))
    if rng.random() < 0.6:
        bought, sold = pair if rng.random() < 0.5 else pair[::-1]
        rate = spot if bought == pair[0] else 1.0 / spot
        return {
            "id": f"fxf-{k:04d}",
            "type": "fx_forward",
            "bought": bought,
            "sold": sold,
            "notional": float(rng.choice([1e6, 5e6, 10e6])),
            "strike": round(rate * float(rng.uniform(0.97, 1.03)), 6),
            "maturity": maturity.isoformat(),
        }
    return {
        "id": f"fxo-{k:04d}",
        "type": "fx_option",
        "underlying": pair[0],
        "against": pair[1],
        "notional": float(rng.choice([-1, 1]) * rng.choice([1e6, 5e6])),
        "strike": round(spot * float(rng.uniform(0.92, 1.08)), 6),
        "optionType": str(rng.choice(["call", "put"])),
        "expiry": maturity.isoformat(),
        "volatility": round(float(FX[pair[0]][1] * rng.uniform(0.9, 1.2)), 4),
    }


def _equity(rng: np.random.Generator, k: int) -> dict:
    name = str(rng.choice(list(EQUITIES)))
    _, spot, _, vol = EQUITIES[name]
    return {
        "id": f"eqo-{k:04d}",
        "type": "equity_option",
        "underlying": name,
        "quantity": float(rng.choice([-1, 1]) * rng.choice([5e3, 2e4, 5e4])),
        "strike": round(spot * float(rng.uniform(0.85, 1.15)), 2),
        "optionType": str(rng.choice(["call", "put"])),
        "expiry": (AS_OF + dt.timedelta(days=int(rng.integers(90, 2 * 365)))).isoformat(),
        "volatility": round(vol * float(rng.uniform(0.95, 1.15)), 4),
    }


def build() -> dict:
    rng = np.random.default_rng(SEED)
    trades: dict[str, list[dict]] = {c: [] for c in COUNTERPARTIES}
    for k in range(300):
        cpty = str(rng.choice(list(COUNTERPARTIES), p=[0.4, 0.35, 0.25]))
        u = rng.random()
        make = _swap if u < 0.6 else _fx if u < 0.9 else _equity
        trades[cpty].append(make(rng, k))
    currencies = {}
    for ccy, (zeros, index, basis, lam, sigma) in CURVES.items():
        entry = {
            "discount": {"zeroRates": zeros, "dayCount": "ACT/365F", "compounding": "continuous"},
            "indices": {
                index: {
                    "zeroRates": {t: round(r + basis, 6) for t, r in zeros.items()},
                    "dayCount": "ACT/365F",
                    "compounding": "continuous",
                }
            },
            "model": {"meanReversion": lam, "volatility": sigma},
        }
        if ccy in FX:
            entry["fx"] = {"spot": FX[ccy][0], "volatility": FX[ccy][1]}
        currencies[ccy] = entry
    netting = [
        {"name": "bank-b", "counterparty": "BANK-B", "trades": trades["BANK-B"]},
        {"name": "corp-c", "counterparty": "CORP-C", "trades": trades["CORP-C"]},
        {
            "name": "fund-f",
            "counterparty": "FUND-F",
            "csa": {
                "thresholdReceive": 2e6,
                "thresholdPay": 2e6,
                "minimumTransferAmount": 2.5e5,
                "independentAmount": 5e6,
                "marginPeriodOfRiskDays": 10,
            },
            "trades": trades["FUND-F"],
        },
    ]
    return {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "ExposureJob",
        "metadata": {"name": "cva", "labels": {"riskgrid.dev/desk": "xva"}},
        "spec": {
            "valuationDate": AS_OF.isoformat(),
            "baseCurrency": "EUR",
            "currencies": currencies,
            "equities": {
                n: {"currency": c, "spot": s, "dividendYield": q, "volatility": v}
                for n, (c, s, q, v) in EQUITIES.items()
            },
            "correlations": [
                {"factors": ["IR:EUR", "IR:USD"], "value": 0.55},
                {"factors": ["IR:EUR", "IR:GBP"], "value": 0.6},
                {"factors": ["IR:USD", "IR:GBP"], "value": 0.5},
                {"factors": ["IR:EUR", "FX:USD"], "value": -0.15},
                {"factors": ["IR:USD", "FX:USD"], "value": 0.2},
                {"factors": ["IR:GBP", "FX:GBP"], "value": 0.1},
                {"factors": ["FX:USD", "FX:GBP"], "value": 0.45},
                {"factors": ["EQ:ACME", "FX:USD"], "value": -0.1},
                {"factors": ["EQ:ACME", "EQ:EUROCO"], "value": 0.5},
            ],
            "bank": {"recovery": 0.4, "cdsSpreads": {"1Y": 0.005, "5Y": 0.007, "10Y": 0.009}},
            "counterparties": COUNTERPARTIES,
            "nettingSets": netting,
            "simulation": {
                "grid": [{"until": "1Y", "step": "1M"}, {"until": "16Y", "step": "3M"}],
                "paths": 2000,
                "seed": 42,
            },
            "measures": {"pfeQuantiles": [0.95, 0.99], "rateBumpBp": 1.0, "creditBumpBp": 1.0},
        },
    }


def main() -> None:
    OUT.write_text(
        "# Generated by examples/generate_cva.py (seeded); edit the script, not this file.\n"
        + yaml.safe_dump(build(), sort_keys=False, width=100)
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
