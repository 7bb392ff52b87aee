"""Bad exotic input: exit 2 with file, field and reason; nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import SpecError
from riskgrid.spec.job import load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ASIAN = {
    "id": "a1",
    "type": "asian_option",
    "underlying": "ACME",
    "strike": 40.0,
    "expiry": "2027-06-18",
    "optionType": "call",
    "quantity": 100,
    "fixingDates": ["2026-10-18", "2027-01-18", "2027-06-18"],
    "pastFixings": {"2026-10-18": 39.5},
}
BARRIER = {
    "id": "b1",
    "type": "barrier_option",
    "underlying": "ACME",  # spot 40.17
    "strike": 40.0,
    "expiry": "2027-06-18",
    "optionType": "call",
    "quantity": 100,
    "barrier": 35.0,
    "barrierType": "down-out",
}
HESTON = {"v0": 0.04, "kappa": 2.0, "theta": 0.04, "sigma": 0.5, "rho": -0.6}


def _job(tmp: Path, positions: list[dict[str, Any]], pricing: dict[str, Any] | None = None):
    spec: dict[str, Any] = {
        "valuationDate": "2026-11-20",
        "portfolio": {"positions": positions},
        "marketData": {"snapshot": str(EXAMPLES / "market" / "snapshot-2026-11-20.yaml")},
        "scenarios": {"stress": [{"name": "s", "shocks": [{"factor": "spot:ACME", "shift": 0.1}]}]},
    }
    if pricing is not None:
        spec["pricing"] = pricing
    doc = {"apiVersion": "riskgrid.dev/v1alpha1", "kind": "RiskJob", "metadata": {"name": "x"}}
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump({**doc, "spec": spec}, sort_keys=False))
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_job(path)
    return [str(p) for p in info.value.problems]


def test_valid_exotics_load(tmp_path: Path) -> None:
    heston_call = {**BARRIER, "id": "h1", "model": "heston"}
    inputs = load_job(_job(tmp_path, [ASIAN, BARRIER, heston_call], {"heston": {"ACME": HESTON}}))
    spec = inputs.portfolio.exotic[0]
    assert spec.n_total == 3 and spec.past_sum == 39.5 and len(spec.fix_times) == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("v0", -0.01, "spec.pricing.heston.ACME.v0: initial variance must be ≥ 0, got -0.01"),
        ("kappa", 0.0, "spec.pricing.heston.ACME.kappa: must be > 0, got 0.0"),
        ("sigma", -0.3, "spec.pricing.heston.ACME.sigma: must be > 0, got -0.3"),
        ("rho", 1.0, "spec.pricing.heston.ACME.rho: correlation must be in (-1, 1), got 1.0"),
    ],
)
def test_heston_parameters_violating_positivity(
    tmp_path: Path, field: str, value: float, message: str
) -> None:
    job = _job(tmp_path, [ASIAN], {"heston": {"ACME": {**HESTON, field: value}}})
    assert _errors(job) == [f"{job}: {message}"]


def test_future_fixing_marked_past(tmp_path: Path) -> None:
    pos = {**ASIAN, "pastFixings": {"2026-10-18": 39.5, "2027-01-18": 41.0}}
    job = _job(tmp_path, [pos])
    assert _errors(job) == [
        f"{job}: spec.portfolio.positions[0].pastFixings: 2027-01-18 is after the valuation "
        "date 2026-11-20: a future fixing cannot be given as past"
    ]


def test_past_fixing_without_value(tmp_path: Path) -> None:
    job = _job(tmp_path, [{**ASIAN, "pastFixings": None}])
    assert _errors(job) == [
        f"{job}: spec.portfolio.positions[0].pastFixings: the fixing on 2026-10-18 is on or "
        "before the valuation date: give its observed value"
    ]


def test_barrier_already_breached_without_flag(tmp_path: Path) -> None:
    job = _job(tmp_path, [{**BARRIER, "barrier": 41.0}])
    assert _errors(job) == [
        f"{job}: spec.portfolio.positions[0].knocked: spot 40.17 is already at or beyond the "
        "down-out barrier 41: set knocked: true if the barrier was touched"
    ]
    # with the flag the position loads: a knocked-out barrier is worth nothing
    flagged = load_job(_job(tmp_path, [{**BARRIER, "barrier": 41.0, "knocked": True}]))
    assert flagged.portfolio.exotic[0].knocked


@pytest.mark.parametrize(
    ("pricing", "loc", "reason"),
    [
        (
            {"monteCarlo": {"paths": 100}},
            "spec.pricing.monteCarlo.paths",
            "greater than or equal to 256",
        ),
        (
            {"monteCarlo": {"paths": 10_000_000}},
            "spec.pricing.monteCarlo.paths",
            "less than or equal to 4194304",
        ),
        ({"monteCarlo": {"paths": 1001}}, "spec.pricing.monteCarlo", "paths must be even"),
        (
            {"monteCarlo": {"stepsPerYear": 0}},
            "spec.pricing.monteCarlo.stepsPerYear",
            "greater than or equal to 1",
        ),
        (
            {"monteCarlo": {"stepsPerYear": 5000}},
            "spec.pricing.monteCarlo.stepsPerYear",
            "less than or equal to 2000",
        ),
        (
            {"american": {"lsmSteps": 1}},
            "spec.pricing.american.lsmSteps",
            "greater than or equal to 2",
        ),
        ({"american": {"spaceNodes": 200}}, "spec.pricing.american.spaceNodes", "must be odd"),
        (
            {"monteCarlo": {"sampling": "sobol", "paths": 3000}},
            "spec.pricing.monteCarlo",
            "power of 2",
        ),
    ],
)
def test_path_counts_and_steps_out_of_bounds(
    tmp_path: Path, pricing: dict, loc: str, reason: str
) -> None:
    job = _job(tmp_path, [ASIAN], pricing)
    errs = _errors(job)
    assert len(errs) == 1 and errs[0].startswith(f"{job}: {loc}: ") and reason in errs[0]


def test_simulation_over_the_memory_bound(tmp_path: Path) -> None:
    weekly = {**BARRIER, "monitoring": "1D"}
    job = _job(tmp_path, [weekly], {"monteCarlo": {"paths": 4_194_304}, "memoryPerWorker": 1 << 26})
    (err,) = _errors(job)
    assert err.startswith(f"{job}: spec.portfolio.positions[0]: Monte Carlo needs 4194304 paths")
    assert "over 15/16 of pricing.memoryPerWorker (64 MiB" in err


def test_heston_without_parameters_and_misplaced_fields(tmp_path: Path) -> None:
    job = _job(
        tmp_path,
        [{**BARRIER, "model": "heston"}, {**ASIAN, "id": "a2", "barrier": 30.0}],
    )
    assert _errors(job) == [
        f"{job}: spec.portfolio.positions[0].model: heston needs parameters for 'ACME' in "
        "spec.pricing.heston",
        f"{job}: spec.portfolio.positions[1].barrier: does not apply to type asian_option",
    ]


def test_cli_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    job = _job(tmp_path, [{**BARRIER, "barrier": 41.0}])
    rc = main(["run", str(job), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{job}: spec.portfolio.positions[0].knocked: spot 40.17" in err
    assert not (tmp_path / "out").exists()


def test_csv_exotic_columns(tmp_path: Path) -> None:
    csv_path = tmp_path / "p.csv"
    csv_path.write_text(
        "id,type,underlying,strike,expiry,optionType,quantity,fixingDates,pastFixings\n"
        "a1,asian_option,ACME,40,2027-06-18,call,100,2026-10-18;2027-06-18,2026-10-18=x\n"
    )
    doc = yaml.safe_load(_job(tmp_path, [ASIAN]).read_text())
    doc["spec"]["portfolio"] = {"file": str(csv_path)}
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(doc))
    errs = _errors(job)
    assert len(errs) == 1 and errs[0].startswith(f"{csv_path}: row 2, column pastFixings")
