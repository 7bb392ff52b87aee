"""The day simulation on the example EOD batch, its JSON contract, chart, determinism and
bad input; the aggregate model's accounting checked against hand arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from burst_helpers import DAY, small_plan

from riskgrid.burst.day import load_and_simulate, summary
from riskgrid.burst.simulate import Job, Settings, Simulation
from riskgrid.cli.main import main


@pytest.fixture(scope="module")
def eod():
    day, outcomes = load_and_simulate(DAY)
    return day, outcomes, summary(day, outcomes)


def test_eod_misses_on_premises_and_meets_with_burst(eod) -> None:
    _, _, result = eod
    onprem, burst = result["onPremises"], result["burst"]
    assert set(onprem["desks"]) == set(burst["desks"]) == {"rates", "fx-options", "eq-vol"}
    assert not all(d["deadlineMet"] for d in onprem["desks"].values())
    assert all(d["deadlineMet"] for d in burst["desks"].values())
    assert onprem["peakCores"] <= 4096 < burst["peakCores"]
    for mode in (onprem, burst):
        for d in mode["desks"].values():
            assert isinstance(d["deadlineMet"], bool)
            assert d["finishedAt"] is not None and d["queueWaitP99Seconds"] is not None
            assert d["queueWaitP50Seconds"] <= d["queueWaitP99Seconds"]
        assert mode["costTotal"] == pytest.approx(sum(mode["costByFlavor"].values()), abs=0.05)


def test_timeline_cost_adds_up_to_the_total(eod) -> None:
    _, _, result = eod
    for mode in ("onPremises", "burst"):
        timeline = result[mode]["timeline"]
        assert len(timeline) >= 8  # a 15-minute sample over hours of activity
        costs = [row["costSoFar"] for row in timeline]
        assert costs == sorted(costs)
        # Node billing runs to the last consolidation, so the last sample holds the total.
        assert costs[-1] == pytest.approx(result[mode]["costTotal"], rel=0.01)
    peak_cloud = max(row["cloudCores:cloud-spot"] for row in result["burst"]["timeline"])
    assert 0 < peak_cloud <= result["burst"]["peakCores"]


def test_work_is_conserved(eod) -> None:
    """Cores × time admitted covers every job's work (plus retries, never less)."""
    _, outcomes, _ = eod
    for mode, o in outcomes.items():
        work = sum(s.job.core_seconds for s in o.jobs)
        assert all(s.finished is not None for s in o.jobs), mode
        t, busy = o.series["t"], o.series["busy"]
        admitted = float(np.sum(busy[:-1] * np.diff(t)))
        assert admitted >= work * 0.999, mode
        if o.interruptions == 0 and o.preemptions == 0:
            assert admitted == pytest.approx(work, rel=1e-6)


def test_simulation_is_deterministic(eod) -> None:
    _, _, first = eod
    _, again = load_and_simulate(DAY)
    assert summary(eod[0], again) == first


def test_cli_json_and_chart(tmp_path: Path, capsys) -> None:
    chart = tmp_path / "day.png"
    assert main(["burst", "simulate", str(DAY), "--json", "--chart", str(chart)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"onPremises", "burst"} <= set(out)
    for mode in ("onPremises", "burst"):
        assert {"desks", "costTotal", "peakCores"} <= set(out[mode])
        for d in out[mode]["desks"].values():
            assert {"deadlineMet", "finishedAt", "queueWaitP99Seconds"} <= set(d)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["burst", "simulate", str(DAY)]) == 0
    assert "MISSED" in capsys.readouterr().out


def _day_doc() -> dict:
    doc = yaml.safe_load(DAY.read_text())
    doc["spec"]["platform"] = str((DAY.parent / doc["spec"]["platform"]).resolve())
    return doc


def test_bad_day_exits_2_naming_field(tmp_path: Path, capsys) -> None:
    doc = _day_doc()
    doc["spec"]["desks"][2]["jobs"][0]["priorityClass"] = "eod-regulatory"  # not eq-vol's
    doc["spec"]["desks"][0]["jobs"][0]["cores"] = 90000
    path = tmp_path / "day.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["burst", "simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: spec.desks[2].jobs[0].priorityClass: desk 'eq-vol' may not use" in err
    assert f"{path}: spec.desks[0].jobs[0].cores: 90000 cores can never be admitted" in err
    doc = _day_doc()
    doc["spec"]["desks"][0]["deadline"] = "7pm"
    path.write_text(yaml.safe_dump(doc))
    assert main(["burst", "simulate", str(path)]) == 2
    assert f"{path}: spec.desks[0].deadline: " in capsys.readouterr().err


def test_missing_price_for_a_used_flavor_exits_2(tmp_path: Path, plan_doc, capsys) -> None:
    plan_doc["spec"]["prices"]["perCoreHour"].pop("cloud-on-demand")
    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan_doc))
    doc = _day_doc()
    doc["spec"]["platform"] = "plan.yaml"
    path = tmp_path / "day.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["burst", "simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{plan_path}: spec.prices.perCoreHour.cloud-on-demand: no price" in err


def test_spot_interruption_costs_lost_tasks_and_a_replacement_node() -> None:
    plan = small_plan({"a": (0, None, None), "b": (4, 0, None)}, spot_borrow=64)
    jobs = [Job(0, "a", "a/x", 100, 0.0, 8, 8 * 3600.0, None)]
    base = Settings((90.0, 90.0), 0.0, 120.0, {"onprem": 0, "spot": 60.0}, 600.0, 3)
    calm = Simulation(plan, jobs, base, burst=True, desk_deadlines={}).run()
    assert calm.interruptions == 0 and calm.jobs[0].finished == 90 + 3600
    stormy = Settings((90.0, 90.0), 2.0 / 3600, 120.0, {"onprem": 0, "spot": 60.0}, 600.0, 3)
    out = Simulation(plan, jobs, stormy, burst=True, desk_deadlines={}).run()
    n = out.interruptions
    assert n >= 1
    # Each interruption: (600 − 120)² / 1200 lost per core + 90 s of the node's 8 cores.
    per = 8 * ((600 - 120) ** 2 / (2 * 600) + 90)
    assert out.jobs[0].finished == pytest.approx(90 + 3600 + n * per / 8)
