"""Bad ExposureJob input: exit 2, the file, the field and the reason; nothing written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exposure" / "ore-minimal.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())


def _usd(doc: dict) -> None:
    doc["spec"]["currencies"]["USD"] = {
        "discount": {"zeroRates": {"1Y": 0.04}},
        "model": {"meanReversion": 0.02, "volatility": 0.01},
        "fx": {"spot": 0.9, "volatility": 0.1},
    }


def _bad_corr(doc: dict) -> None:
    _usd(doc)
    doc["spec"]["correlations"] = [
        {"factors": ["IR:EUR", "IR:USD"], "value": 0.9},
        {"factors": ["IR:EUR", "FX:USD"], "value": 0.9},
        {"factors": ["IR:USD", "FX:USD"], "value": -0.9},
    ]


def _trade(doc: dict) -> dict:
    return doc["spec"]["nettingSets"][0]["trades"][0]


CASES = [
    ("non-PD correlation", _bad_corr, "spec.correlations", "not positive definite"),
    (
        "negative hazard",
        lambda d: d["spec"]["counterparties"]["CPTY_A"].update(hazardRates={"1Y": -0.01}),
        "spec.counterparties.CPTY_A.hazardRates.1Y",
        "greater than or equal to 0",
    ),
    (
        "MTA above threshold",
        lambda d: d["spec"]["nettingSets"][0].update(
            csa={"thresholdReceive": 1e5, "thresholdPay": 1e5, "minimumTransferAmount": 5e5}
        ),
        "spec.nettingSets[0].csa",
        "threshold could never bind",
    ),
    (
        "currency without curve",
        lambda d: _trade(d).update(currency="GBP"),
        "spec.nettingSets[0].trades[0].currency",
        "no curve for currency GBP",
    ),
    (
        "grid misses maturity",
        lambda d: d["spec"]["simulation"].update(grid=[{"until": "10Y", "step": "6M"}]),
        "spec.simulation.grid",
        "before trade 'Swap_20y' matures 2036-03-01",
    ),
    (
        "running period without fixing",
        lambda d: _trade(d).update(start="2015-12-01"),
        "spec.nettingSets[0].trades[0].currentFixing",
        "the period 2015-12-01–2016-06-01 fixed before the valuation date",
    ),
    (
        "unknown index",
        lambda d: _trade(d).update(index="LIBOR-3M"),
        "spec.nettingSets[0].trades[0].index",
        "unknown index 'LIBOR-3M'",
    ),
    (
        "paths out of bounds",
        lambda d: d["spec"]["simulation"].update(paths=10**9),
        "spec.simulation.paths",
        "less than or equal to 1000000",
    ),
    (
        "foreign currency without FX",
        lambda d: (_usd(d), d["spec"]["currencies"]["USD"].pop("fx")),
        "spec.currencies.USD.fx",
        "required for a foreign currency",
    ),
]


@pytest.mark.parametrize(("name", "edit", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_exposure_job(
    name, edit, field, reason, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = copy.deepcopy(BASE)
    edit(doc)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    rc = main(["exposure", "run", str(job), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{job}: {field}" in err, err
    assert reason in err, err
    assert not out.exists()
