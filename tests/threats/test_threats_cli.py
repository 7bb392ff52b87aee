"""The ``riskgrid threats`` commands end to end on the miniature repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from threats_helpers import git_commit

from riskgrid.cli.main import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _args(repo: Path, *more: str) -> list[str]:
    return ["--model", str(repo / "threatmodel"), "--repo", str(repo), *more]


def test_validate_ok_and_dangling(mini, capsys):
    rc, out, _ = _run(capsys, "threats", "validate", *_args(mini))
    assert rc == 0 and "4 threats, 4 controls, 2 attack trees, 3 verifications" in out
    path = mini / "threatmodel" / "controls.yaml"
    path.write_text(path.read_text().replace("test_passes", "test_vanished"))
    rc, _, err = _run(capsys, "threats", "validate", *_args(mini))
    assert rc == 2
    assert "controls.yaml: controls[0].verification[0]: test:" in err


def test_report_formats(mini_verified, tmp_path, capsys):
    repo, evidence = mini_verified
    common = [*_args(repo), "--evidence", str(evidence), "--today", "2026-11-26"]
    rc, out, _ = _run(capsys, "threats", "report", *common, "--format", "json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["headline"]["residual_risk_verified"] == 21.75
    assert doc["headline"]["exceptions_in_force"] == 2  # one of three expired in October
    assert doc["headline"]["exceptions_expiring_30d"] == 1
    assert [t["id"] for t in doc["threats"]] == ["TM-002", "TM-001", "TM-003", "TM-004"]

    html_file = tmp_path / "r.html"
    rc, _, _ = _run(capsys, "threats", "report", *common, "--format", "html", "-o", str(html_file))
    page = html_file.read_text()
    assert rc == 0 and "<script" not in page and "http://" not in page and "https://" not in page
    assert page.index("Headline") < page.index("Threats by residual risk") < page.index("AT-ONE")
    assert 'class="node leaf open"' in page and 'class="node leaf cut"' in page

    rc, out, _ = _run(capsys, "threats", "report", *common, "--format", "md")
    assert "```mermaid" in out and "l1 --> " not in out  # leaves have no children
    assert "a --> l1" in out

    rc, _, err = _run(capsys, "threats", "report", *common, "--format", "pdf")
    assert rc == 2 and "--format" in err


def test_report_without_evidence_says_nothing_is_verified(mini, capsys):
    rc, out, _ = _run(capsys, "threats", "report", *_args(mini), "--format", "md",
                      "--evidence", str(mini / "none.json"))  # fmt: skip
    assert rc == 0 and "No evidence for this commit" in out
    assert "| Residual risk, verified controls only | 39.00 |" in out


def test_verify_then_gate(mini_git, capsys):
    mini = mini_git
    ev = mini / "evidence.json"
    rc, out, err = _run(capsys, "threats", "verify", *_args(mini), "--out", str(ev))
    assert rc == 0 and "2/3 verifications passed; 2/4 controls verified" in out
    assert "failed: C-PRE-B" in err
    rc, out, err = _run(capsys, "threats", "gate", *_args(mini), "--evidence", str(ev))
    assert rc == 1
    assert "FAIL verification test: checks/probe_checks.py::test_fails of C-PRE-B: failed" in err
    assert "below its floor" not in err  # floors (0.5 / 21.75) are met exactly

    # Make the failing probe pass: the gate passes, then a raised floor fails it again.
    probe = mini / "checks" / "probe_checks.py"
    probe.write_text(probe.read_text().replace("== 4", "== 3"))
    git_commit(mini, "fix the probe")
    _run(capsys, "threats", "verify", *_args(mini), "--out", str(ev))
    rc, out, _ = _run(capsys, "threats", "gate", *_args(mini), "--evidence", str(ev))
    assert rc == 0 and "gate: pass" in out
    floors = mini / "threatmodel" / "floors.yaml"
    floors.write_text(yaml.safe_dump({"floors": {"preventive_coverage": {"min": 0.9}}}))
    git_commit(mini, "raise a floor")
    _run(capsys, "threats", "verify", *_args(mini), "--out", str(ev))
    rc, _, err = _run(capsys, "threats", "gate", *_args(mini), "--evidence", str(ev))
    assert rc == 1 and "preventive_coverage = 0.75 is below its floor 0.9" in err


def test_gate_without_evidence_is_a_clear_error(mini, capsys):
    rc, _, err = _run(capsys, "threats", "gate", *_args(mini), "--evidence", str(mini / "x.json"))
    assert rc == 2 and "evidence file not found" in err


def test_gate_rejects_evidence_of_another_commit(mini_verified, tmp_path, capsys):
    repo, evidence = mini_verified
    data = json.loads(evidence.read_text())
    data["commit"] = "f" * 40
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    shutil.copy(evidence, tmp_path / "keep.json")
    rc, _, err = _run(capsys, "threats", "gate", *_args(repo), "--evidence", str(stale))
    assert rc == 1 and f"the evidence is for commit {'f' * 40}, not HEAD" in err
