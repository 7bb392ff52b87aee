"""Bad VaR/ES convention or theta horizon: exit 2 naming file, field, reason; nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import SpecError
from riskgrid.spec.job import load_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _job(tmp_path: Path, section: str, values: dict[str, Any]) -> Path:
    doc = yaml.safe_load((EXAMPLES / "jobs" / "small.yaml").read_text())
    doc["spec"]["marketData"] = {
        "snapshot": str(EXAMPLES / "market" / "snapshot-2026-11-20.yaml"),
        "history": str(EXAMPLES / "market" / "history.csv"),
    }
    doc["spec"].setdefault(section, {}).update(values)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_job(path)
    return [str(p) for p in info.value.problems]


def test_unknown_convention(tmp_path: Path) -> None:
    job = _job(tmp_path, "measures", {"convention": "basel-ii"})
    (msg,) = _errors(job)
    assert msg == (
        f"{job}: spec.measures.convention: Input should be 'quantile', 'lower-tail' or 'linear'"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (366, "Input should be less than or equal to 365"),
        (-1, "Input should be greater than or equal to 0"),
        (1.5, "Input should be a valid integer, got a number with a fractional part"),
    ],
)
def test_theta_horizon_out_of_bounds(tmp_path: Path, value: Any, reason: str) -> None:
    job = _job(tmp_path, "revaluation", {"horizonDays": value})
    (msg,) = _errors(job)
    assert msg == f"{job}: spec.revaluation.horizonDays: {reason}"


def test_valid_options_load(tmp_path: Path) -> None:
    job = _job(tmp_path, "measures", {"convention": "linear"})
    assert load_job(job).measures.convention == "linear"
    job = _job(tmp_path, "revaluation", {"horizonDays": 365})
    assert load_job(job).measures.theta_horizon_days == 365


@pytest.mark.parametrize(
    ("section", "values", "where"),
    [
        ("measures", {"convention": "Lower-Tail"}, "spec.measures.convention"),
        ("revaluation", {"horizonDays": 400}, "spec.revaluation.horizonDays"),
    ],
)
def test_cli_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, section: str, values: dict, where: str
) -> None:
    job = _job(tmp_path, section, values)
    out = tmp_path / "results"
    assert main(["run", str(job), "--out", str(out), "--quiet"]) == 2
    assert f"{job}: {where}: " in capsys.readouterr().err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["job.yaml"]
