"""Evidence that is forged or stale is refused: the gate re-derives everything it reports.

Each test starts from a real ``verify`` run on a clean git checkout of the miniature repository
and then does what a careless or dishonest pipeline could do. Before the gate recomputed
control status and checked its bindings, every one of these passed (or counted controls as
verified); now each is refused, and the refusal names the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from threats_helpers import git_commit

from riskgrid.cli.main import main
from riskgrid.spec.errors import RiskgridError
from riskgrid.threats.binding import sha256_file
from riskgrid.threats.evidence import verified_controls
from riskgrid.threats.workflow import assess, verify

TODAY = datetime(2026, 11, 26).date()


def _gate(capsys, repo: Path, evidence: Path, *more: str) -> tuple[int, str, str]:
    args = ["threats", "gate", "--model", str(repo / "threatmodel"), "--repo", str(repo)]
    rc = main([*args, "--evidence", str(evidence), *more])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def verified(mini_verified, tmp_path) -> tuple[Path, Path]:
    """A private copy of the verified miniature checkout (tests may change it)."""
    src, _ = mini_verified
    repo = tmp_path / "repo"
    shutil.copytree(src, repo, symlinks=True)
    return repo, repo / "evidence.json"


def _rewrite(evidence: Path, edit) -> None:
    data = json.loads(evidence.read_text())
    edit(data)
    evidence.write_text(json.dumps(data))


def test_genuine_evidence_is_recomputed_and_planned_never_counts(verified, capsys):
    repo, evidence = verified
    a = assess(repo / "threatmodel", repo, evidence_path=evidence, today=TODAY)
    assert a.binding_problems == [] and a.official
    assert verified_controls(a.evidence) == {"C-PRE-A", "C-DET-A"}
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1  # the failing probe fails the gate, as it should
    assert "FAIL verification test: checks/probe_checks.py::test_fails of C-PRE-B: failed" in err


def test_hand_written_verdicts_are_ignored(verified, capsys):
    """Every control marked verified, every outcome 'passed', the planned one included."""
    repo, evidence = verified

    def everything_verified(data: dict) -> None:
        for rec in data["controls"].values():
            rec["verified"] = True
            rec["status"] = "implemented"
        for rec in data["verifications"]:
            rec["outcome"] = "passed"

    genuine = assess(repo / "threatmodel", repo, evidence_path=evidence, today=TODAY)
    _rewrite(evidence, everything_verified)
    a = assess(repo / "threatmodel", repo, evidence_path=evidence, today=TODAY)
    assert verified_controls(a.evidence) == {"C-PRE-A", "C-DET-A"}  # not C-PRE-B, not C-PLAN
    assert a.metrics.headline() == genuine.metrics.headline()
    assert a.metrics.headline()["controls_verified"] == 2
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1 and "test_fails of C-PRE-B: failed" in err


def test_forged_junit_is_refused(verified, capsys):
    """A JUnit file edited to say the failing test passed, hash updated in the evidence."""
    repo, evidence = verified
    junit = repo / "evidence-junit" / "junit-0.xml"
    text = junit.read_text()
    start = text.index('name="test_fails"')
    end = text.index("</testcase>", start) + len("</testcase>")
    junit.write_text(text[:start] + 'name="test_fails" time="0.001" />' + text[end:])
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1 and "JUnit file changed since the evidence was made (hash differs)" in err
    # Updating the hash too makes the forgery consistent: only a signature can tell (below).
    _rewrite(evidence, lambda d: d["junit"][0].update(sha256=sha256_file(junit)))
    rc, out, _ = _gate(capsys, repo, evidence)
    assert rc == 0 and "gate: pass" in out


def test_old_junit_is_refused(mini_git, tmp_path, capsys):
    """A 2020 JUnit file saying every test passed: refused by verify and by the gate."""
    repo = mini_git
    junit = tmp_path / "old.xml"
    cases = "".join(
        f'<testcase classname="checks.probe_checks" name="{n}" time="0.1"/>'
        for n in ("test_passes", "test_fails", "test_isolation_ok")
    )
    junit.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'timestamp="2020-01-01T10:00:00+00:00">{cases}</testsuite></testsuites>'
    )
    with pytest.raises(RiskgridError, match=r"JUnit run of 2020-01-01T10:00:00\+00:00 is older"):
        verify(repo / "threatmodel", repo, out=repo / "evidence.json", junit=junit)
    assert not (repo / "evidence.json").exists()
    # Hand-made evidence pointing at it, with the right hashes, is refused at the gate.
    fresh = junit.read_text().replace("2020-01-01T10:00:00+00:00", datetime.now(UTC).isoformat())
    new = tmp_path / "new.xml"
    new.write_text(fresh)
    verify(repo / "threatmodel", repo, out=repo / "evidence.json", junit=new)
    _rewrite(
        repo / "evidence.json",
        lambda d: d["junit"][0].update(path=str(junit), sha256=sha256_file(junit)),
    )
    rc, _, err = _gate(capsys, repo, repo / "evidence.json")
    assert rc == 1 and "older than the tested code's last change" in err


def test_junit_from_before_a_commit_is_refused(verified, capsys):
    repo, evidence = verified
    time.sleep(1.1)  # commit times have one-second resolution
    (repo / "checks" / "probe_checks.py").write_text(
        (repo / "checks" / "probe_checks.py").read_text() + "\n# touched\n"
    )
    git_commit(repo, "change after the run")
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1 and "not HEAD" in err
    # Re-stamping the evidence with the new commit and tree does not help: the run is older.
    with pytest.raises(RiskgridError, match="is older than the tested code's last change"):
        verify(repo / "threatmodel", repo, out=evidence, junit=repo / "evidence-junit/junit-0.xml")


def test_dirty_tree_is_refused_unless_allowed_and_then_unofficial(verified, capsys):
    repo, evidence = verified
    model = repo / "threatmodel" / "floors.yaml"
    model.write_text(model.read_text().replace("0.5", "0.25"))  # an uncommitted edit
    with pytest.raises(RiskgridError, match=r"uncommitted changes .*floors\.yaml"):
        verify(repo / "threatmodel", repo, out=evidence)
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1 and "uncommitted changes" in err and "another tree" in err
    ev = verify(repo / "threatmodel", repo, out=evidence, allow_dirty=True)
    assert ev.dirty and not ev.official
    rc, _, err = _gate(capsys, repo, evidence)
    assert rc == 1 and "the evidence is unofficial" in err
    rc, _, err = _gate(capsys, repo, evidence, "--allow-dirty")
    assert "gate: evidence refused" not in err
    assert "test_fails of C-PRE-B: failed" in err  # still judged, as UNOFFICIAL evidence


def test_no_checkout_is_refused_unless_allowed(mini, capsys):
    with pytest.raises(RiskgridError, match="not a git checkout"):
        verify(mini / "threatmodel", mini, out=mini / "evidence.json")
    ev = verify(mini / "threatmodel", mini, out=mini / "evidence.json", allow_dirty=True)
    assert ev.commit is None and ev.tree is None and not ev.official
    rc, _, err = _gate(capsys, mini, mini / "evidence.json")
    assert rc == 1 and "not a git checkout" in err
    a = assess(
        mini / "threatmodel", mini, evidence_path=mini / "evidence.json", today=TODAY,
        allow_dirty=True,
    )  # fmt: skip
    assert a.binding_problems == [] and not a.official
    assert verified_controls(a.evidence) == {"C-PRE-A", "C-DET-A"}


def test_test_file_tampered_after_the_run_is_refused(verified, capsys):
    """The failing probe edited to pass after the run (the JUnit still says it failed, but a
    tampered test file means the results are not about these tests)."""
    repo, evidence = verified
    probe = repo / "checks" / "probe_checks.py"
    probe.write_text(probe.read_text().replace("== 4", "== 3"))
    later = (datetime.now() + timedelta(seconds=5)).timestamp()
    os.utime(probe, (later, later))
    rc, _, err = _gate(capsys, repo, evidence, "--allow-dirty")
    assert rc == 1
    assert "checks/probe_checks.py: test file is not the one that was run" in err
    assert "older than the tested code's last change" in err


def _keypair(tmp_path: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "signing.pem", tmp_path / "signing.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_signed_evidence_detects_the_consistent_forgery(verified, tmp_path, capsys):
    repo, evidence = verified
    private, public = _keypair(tmp_path)
    assert main(["threats", "sign", "--evidence", str(evidence), "--key", str(private)]) == 0
    capsys.readouterr()
    rc, _, err = _gate(capsys, repo, evidence, "--trusted-key", str(public))
    assert "gate: evidence refused" not in err and "test_fails of C-PRE-B: failed" in err
    # The forgery of test_forged_junit_is_refused, hash updated: the signature no longer holds.
    junit = repo / "evidence-junit" / "junit-0.xml"
    junit.write_text(junit.read_text().replace("this probe fails on purpose", "fine"))
    _rewrite(evidence, lambda d: d["junit"][0].update(sha256=sha256_file(junit)))
    rc, _, err = _gate(capsys, repo, evidence, "--trusted-key", str(public))
    assert rc == 1 and "signature does not match" in err
    # No signature at all, or a key of someone else: refused too.
    (repo / "evidence.json.sig").unlink()
    rc, _, err = _gate(capsys, repo, evidence, "--trusted-key", str(public))
    assert rc == 1 and "no signature" in err
    (tmp_path / "other").mkdir()
    _, other = _keypair(tmp_path / "other")
    assert main(["threats", "sign", "--evidence", str(evidence), "--key", str(private)]) == 0
    rc, _, err = _gate(capsys, repo, evidence, "--trusted-key", str(other))
    assert rc == 1 and "signature does not match" in err
