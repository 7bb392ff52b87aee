"""Evidence: JUnit outcomes per verification, per control, bound to the tree that was tested."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from riskgrid.spec.errors import SpecError
from riskgrid.threats.binding import TreeState
from riskgrid.threats.evidence import (
    build_evidence,
    junit_key,
    load_evidence,
    parse_junit,
    verified_controls,
)
from riskgrid.threats.validate import validate
from riskgrid.threats.workflow import verify


def test_junit_key_matches_pytest_naming():
    assert junit_key("tests/a/test_x.py::test_y") == ("tests.a.test_x", "test_y")
    assert junit_key("tests/a/test_x.py::TestC::test_y[p-1]") == (
        "tests.a.test_x.TestC",
        "test_y[p-1]",
    )


def test_real_run_records_outcomes_per_control(mini_verified):
    _, out = mini_verified
    ev = load_evidence(out)
    outcomes = {r.node_id: r.outcome for r in ev.verifications}
    assert outcomes == {
        "checks/probe_checks.py::test_passes": "passed",
        "checks/probe_checks.py::test_fails": "failed",
        "checks/probe_checks.py::test_isolation_ok": "passed",
    }
    assert {c: r.verified for c, r in ev.controls.items()} == {
        "C-PRE-A": True,
        "C-PRE-B": False,
        "C-DET-A": True,
        "C-PLAN": False,  # planned: nothing to run, never verified
    }
    assert ev.source == "pytest-run"
    assert ev.official and not ev.dirty and ev.commit and len(ev.tree or "") == 64
    assert set(ev.test_files) == {"checks/probe_checks.py"}
    assert [j.path for j in ev.junit] == ["evidence-junit/junit-0.xml"]
    datetime.fromisoformat(ev.generated_at)  # a real timestamp


def _junit(path: Path, cases: str, stamp: str | None = None) -> Path:
    stamp = stamp or datetime.now(UTC).isoformat()
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'timestamp="{stamp}">{cases}</testsuite></testsuites>'
    )
    return path


def test_ingested_junit_missing_or_skipped_tests_do_not_verify(mini_git, tmp_path):
    mini = mini_git
    junit = _junit(
        tmp_path / "j.xml",
        '<testcase classname="checks.probe_checks" name="test_passes" time="0.1"/>'
        '<testcase classname="checks.probe_checks" name="test_fails" time="0.1">'
        '<skipped message="x"/></testcase>',
    )
    out = tmp_path / "ev.json"
    ev = verify(mini / "threatmodel", mini, out=out, junit=junit)
    outcomes = {r.node_id.split("::")[1]: r.outcome for r in ev.verifications}
    assert outcomes == {"test_passes": "passed", "test_fails": "skipped",
                        "test_isolation_ok": "not-run"}  # fmt: skip
    assert verified_controls(ev) == {"C-PRE-A"}
    assert ev.junit_timestamp == ev.junit[0].timestamp
    assert json.loads(out.read_text())["schema"] == "riskgrid.threats.evidence/v2"


def test_no_evidence_verifies_nothing():
    assert verified_controls(None) == set()


def test_a_control_needs_every_verification_to_pass(mini):
    v = validate(mini / "threatmodel", repo_root=mini)
    from riskgrid.threats.evidence import JUnitCase, JUnitRun

    # Pretend C-PRE-A had a second verification that did not run: it must not be verified.
    from riskgrid.threats.validate import Verification

    extra = [*v.verifications, Verification("C-PRE-A", "test: x", "test", "x.py::t")]
    run = JUnitRun({junit_key(x.node_id): JUnitCase("passed", 0.0) for x in v.verifications}, None)
    state = TreeState("c", "t", False, None)
    ev = build_evidence(v.model, extra, run, state=state, official=True, source="s", junit=[],
                        test_files={}, now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    assert not ev.controls["C-PRE-A"].verified
    assert ev.controls["C-PRE-B"].verified  # everything of it passed in this run
    assert ev.generated_at == "2026-01-01T00:00:00+00:00"


def test_bad_junit_and_bad_evidence_files(tmp_path):
    (tmp_path / "bad.xml").write_text("<testsuites><oops></testsuites>")
    with pytest.raises(SpecError, match="not readable JUnit XML"):
        parse_junit(tmp_path / "bad.xml")
    with pytest.raises(SpecError, match="JUnit XML file not found"):
        parse_junit(tmp_path / "none.xml")
    (tmp_path / "ev.json").write_text('{"schema": "something-else"}')
    with pytest.raises(SpecError, match="evidence file"):
        load_evidence(tmp_path / "ev.json")


def test_runs_are_split_per_test_folder_and_merged(tmp_path):
    from riskgrid.threats.evidence import JUnitCase, JUnitRun, merge_runs
    from riskgrid.threats.resolve import group_by_folder

    (tmp_path / "a").mkdir()
    groups = group_by_folder(["a/t1.py::x", "b/t2.py::y[1]", "a/t3.py::z", "a"], tmp_path)
    assert groups == {"a": ["a/t1.py::x", "a/t3.py::z", "a"], "b": ["b/t2.py::y[1]"]}
    one = JUnitRun({("a.t1", "x"): JUnitCase("passed", 1.0)}, "2026-11-26T10:00:02")
    two = JUnitRun({("b.t2", "y[1]"): JUnitCase("failed", 2.0)}, "2026-11-26T10:00:01")
    merged = merge_runs([one, two])
    assert merged.cases == {**one.cases, **two.cases}
    assert merged.timestamp == "2026-11-26T10:00:01"


def test_node_ids_rebuilt_from_junit_only_for_tests_that_exist(mini):
    from riskgrid.threats.evidence import JUnitCase, JUnitRun, collected_from_junit

    ok = JUnitCase("passed", 0.1)
    run = JUnitRun(
        {
            ("checks.probe_checks", "test_passes"): ok,
            ("checks.probe_checks", "test_fails"): ok,
            # a JUnit file can claim a test nobody wrote: it must not become a node id
            ("checks.probe_checks", "test_ghost[1]"): ok,
            ("checks.nowhere", "test_x"): ok,
        },
        None,
    )
    seeds = collected_from_junit(run, mini)
    want = {"checks/probe_checks.py::test_passes", "checks/probe_checks.py::test_fails"}
    assert seeds == {"checks/probe_checks.py": want, "checks": want}
