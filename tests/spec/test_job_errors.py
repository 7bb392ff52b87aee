"""Bad RiskJob input is rejected with an error naming file, field (or CSV row/column) and reason."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import SpecError
from riskgrid.spec.job import load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SNAPSHOT = EXAMPLES / "market" / "snapshot-2026-11-20.yaml"
HISTORY = EXAMPLES / "market" / "history.csv"

POSITIONS: list[dict[str, Any]] = [
    {
        "id": "o1",
        "type": "equity_option",
        "underlying": "ACME",
        "strike": 40.0,
        "expiry": "2027-06-18",
        "optionType": "call",
        "quantity": 100,
    },
    {
        "id": "f1",
        "type": "fx_forward",
        "underlying": "EURUSD",
        "strike": 1.08,
        "expiry": "2027-06-18",
        "quantity": -1000000,
    },
    {"id": "z1", "type": "zcb", "currency": "EUR", "expiry": "2030-01-02", "quantity": 1e6},
]


def _job(positions: Any = None, **spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "valuationDate": "2026-11-20",
        "portfolio": {"positions": copy.deepcopy(POSITIONS if positions is None else positions)},
        "marketData": {"snapshot": str(SNAPSHOT), "history": str(HISTORY)},
        "scenarios": {"historical": {"window": 20}},
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "RiskJob",
        "metadata": {"name": "t"},
        "spec": spec,
    }


def _write(tmp_path: Path, doc: Any, name: str = "job.yaml") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return p


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_job(path)
    return [str(p) for p in info.value.problems]


def test_valid_baseline_loads(tmp_path: Path) -> None:
    inputs = load_job(_write(tmp_path, _job()))
    assert inputs.portfolio.n == 3 and inputs.scenarios.n == 20


def test_malformed_yaml(tmp_path: Path) -> None:
    p = _write(tmp_path, "apiVersion: riskgrid.dev/v1alpha1\nkind: [RiskJob\n")
    (msg,) = _errors(p)
    assert msg.startswith(f"{p}: malformed YAML: line ")


def test_wrong_kind_and_api_version(tmp_path: Path) -> None:
    doc = _job()
    doc["kind"], doc["apiVersion"] = "Job", "batch/v1"
    msgs = _errors(_write(tmp_path, doc))
    assert any(m.endswith("kind: must be 'RiskJob', got 'Job'") for m in msgs)
    assert any("apiVersion: must be 'riskgrid.dev/v1alpha1', got 'batch/v1'" in m for m in msgs)


def test_unknown_field(tmp_path: Path) -> None:
    doc = _job()
    doc["spec"]["measures"] = {"vaR": [0.99]}
    (msg,) = _errors(_write(tmp_path, doc))
    assert msg.endswith("spec.measures.vaR: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("snapshot", "nowhere/market.yaml", "spec.marketData.snapshot"),
        ("history", "nowhere/history.csv", "spec.marketData.history"),
    ],
)
def test_missing_referenced_market_files(
    tmp_path: Path, field: str, value: str, where: str
) -> None:
    doc = _job()
    doc["spec"]["marketData"][field] = value
    p = _write(tmp_path, doc)
    (msg,) = _errors(p)
    assert msg.startswith(f"{p}: {where}: file not found: {value}")


def test_missing_portfolio_file(tmp_path: Path) -> None:
    doc = _job()
    doc["spec"]["portfolio"] = {"file": "positions.csv"}
    (msg,) = _errors(_write(tmp_path, doc))
    assert "spec.portfolio.file: file not found: positions.csv" in msg


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_strike(tmp_path: Path, bad: float) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[0]["strike"] = bad
    msgs = _errors(_write(tmp_path, _job(pos)))
    assert any("spec.portfolio.positions[0].strike:" in m for m in msgs)


def test_negative_strike_and_zero_quantity(tmp_path: Path) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[0]["strike"] = -5
    pos[1]["quantity"] = 0
    msgs = _errors(_write(tmp_path, _job(pos)))
    assert any(
        m.endswith("spec.portfolio.positions[0].strike: Input should be greater than 0")
        for m in msgs
    )
    # the strike error stops that position; quantity is checked on the next one
    pos[0]["strike"] = 40
    msgs = _errors(_write(tmp_path, _job(pos)))
    assert msgs == [f"{tmp_path / 'job.yaml'}: spec.portfolio.positions[1].quantity: must not be 0"]


def test_expiry_before_valuation_date(tmp_path: Path) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[2]["expiry"] = "2026-01-02"
    (msg,) = _errors(_write(tmp_path, _job(pos)))
    assert msg.endswith(
        "spec.portfolio.positions[2].expiry: 2026-01-02 is not after the valuation date 2026-11-20"
    )


def test_unknown_underlying_and_currency(tmp_path: Path) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[0]["underlying"] = "NOPE"
    pos[1]["underlying"] = "EURXYZ"
    pos[2]["currency"] = "XYZ"
    msgs = _errors(_write(tmp_path, _job(pos)))
    assert any(
        m.endswith("positions[0].underlying: unknown equity 'NOPE': not in the market data")
        for m in msgs
    )
    assert any("positions[1].underlying: unknown FX pair 'EURXYZ'" in m for m in msgs)
    assert any("positions[2].currency: unknown currency 'XYZ'" in m for m in msgs)


def test_duplicate_ids(tmp_path: Path) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[2]["id"] = "o1"
    (msg,) = _errors(_write(tmp_path, _job(pos)))
    assert msg.endswith("spec.portfolio.positions[2].id: duplicate position id 'o1'")


def test_empty_portfolio_inline(tmp_path: Path) -> None:
    (msg,) = _errors(_write(tmp_path, _job([])))
    assert msg.endswith("spec.portfolio.positions: the portfolio is empty")


def test_fields_required_and_not_applicable_by_type(tmp_path: Path) -> None:
    pos = copy.deepcopy(POSITIONS)
    del pos[0]["optionType"]
    pos[1]["optionType"] = "call"
    msgs = _errors(_write(tmp_path, _job(pos)))
    assert any(m.endswith("positions[0].optionType: required for type equity_option") for m in msgs)
    assert any(
        m.endswith("positions[1].optionType: does not apply to type fx_forward") for m in msgs
    )


def test_valuation_date_must_match_market(tmp_path: Path) -> None:
    (msg,) = _errors(_write(tmp_path, _job(valuationDate="2026-11-19")))
    assert "spec.valuationDate: 2026-11-19 differs from the market data's asOf 2026-11-20" in msg


def test_history_too_short_for_window(tmp_path: Path) -> None:
    doc = _job()
    doc["spec"]["scenarios"] = {"historical": {"window": 750, "horizonDays": 10}}
    (msg,) = _errors(_write(tmp_path, doc))
    assert "spec.scenarios.historical: needs at least 760 rows of history" in msg
    assert "found 756" in msg


def test_stress_pattern_must_match_and_relative_shift_above_minus_one(tmp_path: Path) -> None:
    doc = _job()
    doc["spec"]["scenarios"]["stress"] = [
        {
            "name": "s",
            "shocks": [
                {"factor": "spot:NOPE*", "shift": -0.1},
                {"factor": "vol:ACME", "shift": -1.0},
            ],
        }
    ]
    msgs = _errors(_write(tmp_path, doc))
    assert any(
        "spec.scenarios.stress[0].shocks[0].factor: matches no risk factor" in m for m in msgs
    )
    assert any("spec.scenarios.stress[0].shocks[1].shift: relative shift" in m for m in msgs)


def test_confidence_and_grid_bounds(tmp_path: Path) -> None:
    doc = _job(measures={"var": [1.2]}, grid={"targetTaskSeconds": 10})
    msgs = _errors(_write(tmp_path, doc))
    assert any("spec.measures.var[0]: Input should be less than 1" in m for m in msgs)
    assert any(
        "spec.grid.targetTaskSeconds: Input should be less than or equal to 5" in m for m in msgs
    )


# -- CSV portfolio -----------------------------------------------------------------------------
HEADER = "id,type,underlying,currency,strike,expiry,optionType,quantity,desk,book\n"


def _csv_job(tmp_path: Path, body: str) -> tuple[Path, Path]:
    csv_path = tmp_path / "positions.csv"
    csv_path.write_text(body)
    doc = _job()
    doc["spec"]["portfolio"] = {"file": "positions.csv"}
    return _write(tmp_path, doc), csv_path


def test_csv_errors_name_file_row_and_column(tmp_path: Path) -> None:
    job, csv_path = _csv_job(
        tmp_path,
        HEADER
        + "a,equity_option,ACME,,40,2027-06-18,call,100,eq,b1\n"
        + "b,equity_option,ACME,,-40,2027-06-18,call,100,eq,b1\n"
        + "c,zcb,,USD,,2027-06-18,,nan,rates,b2\n",
    )
    msgs = _errors(job)
    assert f"{csv_path}: row 3, column strike: Input should be greater than 0" in msgs
    assert any(m.startswith(f"{csv_path}: row 4, column quantity:") for m in msgs)


def test_csv_semantic_errors_name_row_and_column(tmp_path: Path) -> None:
    job, csv_path = _csv_job(
        tmp_path,
        HEADER
        + "a,equity_option,ACME,,40,2027-06-18,call,100,eq,b1\n"
        + "a,fx_option,EURUSD,,1.1,2025-06-18,put,100,fx,b1\n",
    )
    msgs = _errors(job)
    assert f"{csv_path}: row 3, column id: duplicate position id 'a'" in msgs
    assert any(
        m.startswith(f"{csv_path}: row 3, column expiry: 2025-06-18 is not after") for m in msgs
    )


def test_csv_unknown_column_and_empty(tmp_path: Path) -> None:
    job, csv_path = _csv_job(tmp_path, "id,type,quantity,colour\n")
    assert _errors(job) == [
        f"{csv_path}: row 1, column colour: unknown column; known: "
        "id, type, underlying, currency, strike, expiry, optionType, "
        "quantity, desk, book, model, average, averageOn, fixingDates, fixingCount, "
        "fixingFrequency, pastFixings, barrier, barrierType, rebate, monitoring, knocked"
    ]
    job, csv_path = _csv_job(tmp_path, HEADER)
    assert _errors(job) == [f"{csv_path}: the portfolio is empty"]


# -- market data files -------------------------------------------------------------------------
def _market_job(tmp_path: Path, edit: Any = None, history_text: str | None = None) -> Path:
    snap = yaml.safe_load(SNAPSHOT.read_text())
    if edit:
        edit(snap)
    (tmp_path / "snap.yaml").write_text(yaml.safe_dump(snap))
    hist = tmp_path / "history.csv"
    if history_text is None:
        shutil.copy(HISTORY, hist)
    else:
        hist.write_text(history_text)
    doc = _job()
    doc["spec"]["marketData"] = {"snapshot": "snap.yaml", "history": "history.csv"}
    return _write(tmp_path, doc)


def test_negative_vol_in_market_file(tmp_path: Path) -> None:
    job = _market_job(tmp_path, lambda s: s["vols"]["ACME"].__setitem__("3M", -0.2))
    (msg,) = _errors(job)
    assert msg == f"{tmp_path / 'snap.yaml'}: vols.ACME.3M: Input should be greater than 0"


def test_market_currency_without_curve_or_fx(tmp_path: Path) -> None:
    def edit(s: dict) -> None:
        s["equities"]["ACME"]["currency"] = "SEK"
        del s["fx"]["EURUSD"]

    msgs = _errors(_market_job(tmp_path, edit))
    assert f"{tmp_path / 'snap.yaml'}: equities.ACME.currency: no curve for SEK" in msgs


def test_market_nan_spot(tmp_path: Path) -> None:
    job = _market_job(tmp_path, lambda s: s["fx"].__setitem__("EURUSD", float("nan")))
    (msg,) = _errors(job)
    assert msg.startswith(f"{tmp_path / 'snap.yaml'}: fx.EURUSD:")


def test_history_bad_cells_name_row_and_column(tmp_path: Path) -> None:
    lines = HISTORY.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[5].split(",")
    row[header.index("spot:ACME")] = "-3"
    row[header.index("rate:USD:5Y")] = "abc"
    lines[5] = ",".join(row)
    msgs = _errors(_market_job(tmp_path, history_text="\n".join(lines) + "\n"))
    hist = tmp_path / "history.csv"
    assert f"{hist}: row 6, column spot:ACME: must be > 0" in msgs
    assert f"{hist}: row 6, column rate:USD:5Y: not a number: 'abc'" in msgs


def test_history_missing_factor_column(tmp_path: Path) -> None:
    lines = [",".join(x.split(",")[:-1]) for x in HISTORY.read_text().splitlines()]
    (msg,) = _errors(_market_job(tmp_path, history_text="\n".join(lines) + "\n"))
    assert "spec.scenarios.historical: history has no column for rate:CAD:10Y" in msg


def test_cli_reports_error_and_exits_2(tmp_path: Path, capsys) -> None:
    pos = copy.deepcopy(POSITIONS)
    pos[0]["strike"] = -1
    job = _write(tmp_path, _job(pos))
    from riskgrid.spec import job as job_mod

    with pytest.raises(SpecError):
        job_mod.load_job(job)
    assert main(["schema", "NoSuchThing"]) == 2
    assert "unknown schema" in capsys.readouterr().err


def test_history_must_not_end_after_valuation_date(tmp_path: Path) -> None:
    lines = HISTORY.read_text().splitlines()
    last = lines[-1].split(",")
    last[0] = "2026-11-23"
    lines.append(",".join(last))
    (msg,) = _errors(_market_job(tmp_path, history_text="\n".join(lines) + "\n"))
    assert msg == (
        f"{tmp_path / 'history.csv'}: history ends 2026-11-23, after the valuation date 2026-11-20"
    )
