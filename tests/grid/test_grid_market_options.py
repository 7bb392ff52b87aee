"""A job with a vol surface, sticky-moneyness, a VaR/ES convention and theta, through the grid.

Every figure in result.json and the Parquet files is checked against the risk library called
directly (one implementation of every number): the convention reaches the portfolio, every
group and the components; theta reaches result.json, the Parquet file and the Greek sums.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from grid_helpers import answer, read_dir

from riskgrid.grid.runner import execute
from riskgrid.risk import measures as rm
from riskgrid.risk import theta
from riskgrid.risk.revaluation import pnl_block
from riskgrid.spec.job import load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _job(tmp_path: Path, **changes: Any) -> Path:
    snap = yaml.safe_load((EXAMPLES / "market" / "snapshot-2026-11-20.yaml").read_text())
    del snap["vols"]["ACME"]
    # a downward skew on ACME (spot 40.17), total variance rising in expiry on every strike
    snap["volSurfaces"] = {
        "ACME": {
            "moneyness": [0.7, 0.9, 1.0, 1.1, 1.3],
            "vols": {
                "3M": [0.55, 0.45, 0.40, 0.37, 0.34],
                "1Y": [0.52, 0.45, 0.4165, 0.39, 0.36],
                "2Y": [0.50, 0.45, 0.4247, 0.40, 0.38],
            },
        }
    }
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump(snap, sort_keys=False))
    doc = yaml.safe_load((EXAMPLES / "jobs" / "small.yaml").read_text())
    doc["spec"]["marketData"] = {
        "snapshot": "snap.yaml",
        "history": str(EXAMPLES / "market" / "history.csv"),
    }
    doc["spec"]["portfolio"]["positions"].append(
        {
            "id": "eq-put-otm",
            "type": "equity_option",
            "underlying": "ACME",
            "strike": 32,
            "expiry": "2027-09-17",
            "optionType": "put",
            "quantity": 3000,
            "desk": "eq-vol",
            "book": "eq-vol-us",
        }
    )
    for key, value in changes.items():
        section, field = key.split("__")
        doc["spec"].setdefault(section, {})[field] = value
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("market-options")
    job = _job(
        tmp,
        measures__convention="lower-tail",
        measures__es=[0.975, 0.95],
        measures__groupBy=["desk", "underlying"],
        scenarios__volRule="sticky-moneyness",
        revaluation__horizonDays=7,
    )
    inputs = load_job(job)
    ex = execute(inputs, workers=1, out_dir=tmp / "res", calibrate_cost=False)
    return inputs, ex, read_dir(tmp / "res")


def test_convention_reaches_portfolio_groups_and_components(run) -> None:
    inputs, ex, (body, _) = run
    assert body["convention"] == "lower-tail"
    full = pnl_block(inputs.portfolio, inputs.market, inputs.scenarios)
    assert np.array_equal(ex.pnl, full)
    port = full.sum(axis=0)
    n = inputs.scenarios.n  # 61: k = ⌈0.01·61⌉ = 1 at 99%, ⌈0.025·61⌉ = 2, ⌈0.05·61⌉ = 4
    assert n == 61
    assert body["portfolio"]["var"]["0.99"] == -np.sort(port)[0]
    assert body["portfolio"]["es"]["0.975"] == pytest.approx(-np.sort(port)[:2].mean(), 1e-15)
    assert body["portfolio"]["es"]["0.95"] == pytest.approx(-np.sort(port)[:4].mean(), 1e-15)
    for key in ("desk", "underlying"):
        labels = inputs.portfolio.groups[key]
        for label, meas in body["groups"][key].items():
            vec = full[labels == label].sum(axis=0)
            assert meas["var"]["0.99"] == rm.var(vec, 0.99, "lower-tail")
            assert meas["es"]["0.95"] == rm.es(vec, 0.95, "lower-tail")
    cvar = rm.component_var(full, 0.99, "lower-tail")
    top = body["topContributors"]["positions"]
    assert [p["componentVar"] for p in top] == sorted(cvar, reverse=True)[:3]
    assert sum(cvar) == pytest.approx(body["portfolio"]["var"]["0.99"], rel=1e-12)
    ces = rm.component_es(full, 0.975, "lower-tail")
    by_id = dict(zip(inputs.portfolio.ids.tolist(), ces, strict=True))
    assert all(p["componentEs"] == by_id[p["id"]] for p in top)


def test_theta_in_result_parquet_and_greeks(run) -> None:
    inputs, _, (body, tables) = run
    want = theta.theta_block(inputs.portfolio, inputs.market, 7)
    th = body["theta"]
    assert th["horizonDays"] == 7 and th["roll"] == "constant-in-time-to-maturity"
    assert list(th["positions"].values()) == want.tolist()
    assert th["total"] == float(want.sum())
    assert tables["theta_positions.parquet"] == {
        "id": inputs.portfolio.ids.tolist(),
        "theta": want.tolist(),
    }
    assert body["outputs"]["thetaPositions"] == "theta_positions.parquet"
    assert body["greeks"]["total"]["total"]["theta"] == pytest.approx(th["total"], rel=1e-12)
    pos = th["positions"]
    assert pos["eq-call-1"] < 0.0  # a long call decays
    assert pos["zcb-usd-5y"] > 0.0 > pos["zcb-eur-2y"]  # long/short bonds accrete (rates > 0)
    assert pos["eq-hedge-1"] == 0.0  # shares do not age


def test_sticky_moneyness_changes_the_skewed_name_only(run, tmp_path: Path) -> None:
    inputs, ex, _ = run
    strike_rule = load_job(
        _job(tmp_path, scenarios__volRule="sticky-strike", revaluation__horizonDays=7)
    )
    other = pnl_block(strike_rule.portfolio, strike_rule.market, strike_rule.scenarios)
    skewed = inputs.portfolio.groups["underlying"] == "ACME"
    assert not np.array_equal(ex.pnl[skewed], other[skewed])
    assert np.array_equal(ex.pnl[~skewed], other[~skewed])


def test_same_answer_with_other_blocks(run, tmp_path: Path) -> None:
    inputs, _, (body, tables) = run
    execute(inputs, workers=1, block_rows=2, block_cols=7, out_dir=tmp_path / "r")
    body2, tables2 = read_dir(tmp_path / "r")
    assert answer(body2) == answer(body) and tables2 == tables
