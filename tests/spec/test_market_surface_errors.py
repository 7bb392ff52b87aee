"""Vol surfaces in the market snapshot: valid forms load; bad ones name file, field, reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import SpecError
from riskgrid.spec.job import load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SNAPSHOT = EXAMPLES / "market" / "snapshot-2026-11-20.yaml"
HISTORY = EXAMPLES / "market" / "history.csv"

GOOD = {
    "moneyness": [0.8, 1.0, 1.25],
    "vols": {"6M": [0.30, 0.24, 0.20], "1Y": [0.28, 0.23, 0.21], "2Y": [0.27, 0.23, 0.215]},
}


def _job(tmp_path: Path, surface: Any, *, keep_vols: bool = False, **spec: Any) -> Path:
    snap = yaml.safe_load(SNAPSHOT.read_text())
    if not keep_vols:
        del snap["vols"]["ACME"]
    snap["volSurfaces"] = {"ACME": surface}
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump(snap, sort_keys=False))
    doc = {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "RiskJob",
        "metadata": {"name": "surf"},
        "spec": {
            "valuationDate": "2026-11-20",
            "portfolio": {
                "positions": [
                    {
                        "id": "o1",
                        "type": "equity_option",
                        "underlying": "ACME",
                        "strike": 40.0,
                        "expiry": "2027-06-18",
                        "optionType": "call",
                        "quantity": 100,
                    }
                ]
            },
            "marketData": {"snapshot": "snap.yaml", "history": str(HISTORY)},
            "scenarios": {"historical": {"window": 20}},
            **spec,
        },
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_job(path)
    return [str(p) for p in info.value.problems]


def test_surface_loads_in_each_form(tmp_path: Path) -> None:
    a = load_job(_job(tmp_path, GOOD)).market
    i = np.array([a.vol_index("ACME")])
    s0 = float(a.vol_ref[i[0]])
    assert a.vol(i, np.array([1.0]), np.array([0.8 * s0]))[0] == pytest.approx(0.28, abs=1e-15)
    # the same surface by absolute strikes and by total variance
    strikes = {"strikes": [0.8 * s0, s0, 1.25 * s0], "vols": GOOD["vols"]}
    b = load_job(_job(tmp_path, strikes)).market
    tv = {
        "moneyness": GOOD["moneyness"],
        "totalVariance": {
            t: [v * v * y for v in row]
            for (t, row), y in zip(GOOD["vols"].items(), (0.5, 1.0, 2.0), strict=True)
        },
    }
    c = load_job(_job(tmp_path, tv)).market
    t = np.linspace(0.1, 3.0, 30)
    k = np.linspace(0.6, 1.5, 30) * s0
    ii = np.full(30, i[0])
    np.testing.assert_allclose(b.vol(ii, t, k), a.vol(ii, t, k), rtol=1e-14)
    np.testing.assert_allclose(c.vol(ii, t, k), a.vol(ii, t, k), rtol=1e-14)


def test_negative_total_variance(tmp_path: Path) -> None:
    bad = {"moneyness": [0.9, 1.1], "totalVariance": {"1Y": [0.04, -0.01]}}
    (msg,) = _errors(_job(tmp_path, bad))
    assert msg == (
        f"{tmp_path / 'snap.yaml'}: volSurfaces.ACME.totalVariance.1Y[1]: total variance must "
        "be > 0, got -0.01 (negative)"
    )


def test_total_variance_decreasing_in_time(tmp_path: Path) -> None:
    # 1Y at 20% has w = 0.04 < 6M at 30% (w = 0.045) for the first strike
    bad = {"moneyness": [0.9, 1.1], "vols": {"6M": [0.30, 0.20], "1Y": [0.20, 0.21]}}
    (msg,) = _errors(_job(tmp_path, bad))
    assert msg == (
        f"{tmp_path / 'snap.yaml'}: volSurfaces.ACME.vols.1Y[0]: total variance 0.04 at 1Y is "
        "below 0.045 at 6M (moneyness 0.9): total variance must be non-decreasing in expiry "
        "(calendar arbitrage)"
    )


def test_missing_pillars(tmp_path: Path) -> None:
    bad = {"moneyness": [0.9, 1.0, 1.1], "vols": {"6M": [0.30, 0.25, 0.2], "1Y": [0.3, 0.25]}}
    (msg,) = _errors(_job(tmp_path, bad))
    assert msg == (
        f"{tmp_path / 'snap.yaml'}: volSurfaces.ACME.vols.1Y: has 2 values for 3 strike "
        "pillars (missing or extra pillars)"
    )
    (msg,) = _errors(_job(tmp_path, {"strikes": [90.0], "vols": {}}))
    assert msg.endswith("volSurfaces.ACME.vols: needs at least one expiry pillar")
    (msg,) = _errors(_job(tmp_path, {"strikes": [], "vols": {"1Y": []}}))
    assert msg.endswith("volSurfaces.ACME.strikes: needs at least one strike pillar")


def test_unsorted_strikes(tmp_path: Path) -> None:
    bad = {"strikes": [40.0, 35.0, 45.0], "vols": {"1Y": [0.3, 0.25, 0.2]}}
    (msg,) = _errors(_job(tmp_path, bad))
    assert msg == (
        f"{tmp_path / 'snap.yaml'}: volSurfaces.ACME.strikes[1]: strikes must be strictly "
        "increasing: 35.0 after 40.0"
    )


def test_both_or_neither_axis_and_duplicate_underlying(tmp_path: Path) -> None:
    both = {"strikes": [40.0], "moneyness": [1.0], "vols": {"1Y": [0.3]}}
    (msg,) = _errors(_job(tmp_path, both))
    assert msg.endswith("volSurfaces.ACME: give exactly one of `strikes` and `moneyness`")
    msgs = _errors(_job(tmp_path, GOOD, keep_vols=True))
    assert msgs == [
        f"{tmp_path / 'snap.yaml'}: volSurfaces.ACME: also given in `vols`: give a term "
        "structure or a surface, not both"
    ]


def test_unknown_vol_rule(tmp_path: Path) -> None:
    job = _job(tmp_path, GOOD, scenarios={"historical": {"window": 20}, "volRule": "sticky-delta"})
    (msg,) = _errors(job)
    assert msg.startswith(f"{job}: spec.scenarios.volRule: Input should be 'sticky-strike' or ")


def test_cli_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = {"moneyness": [0.9, 1.1], "totalVariance": {"1Y": [0.04, -0.01]}}
    job = _job(tmp_path, bad)
    out = tmp_path / "results"
    assert main(["run", str(job), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "volSurfaces.ACME.totalVariance.1Y[1]: total variance must be > 0" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.yaml", "snap.yaml"]
