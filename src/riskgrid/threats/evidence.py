"""``riskgrid threats verify``: test evidence per control, tied to a git commit.

Evidence comes from JUnit XML — either a run of exactly the referenced pytest node ids that this
module starts, or a file from an earlier run (CI runs the whole suite with ``--junitxml`` and then
``riskgrid threats verify --junit FILE``). Each verification gets an outcome (``passed``,
``failed``, ``error``, ``skipped`` or ``not-run``) and a control is *verified* only when it is
implemented and every one of its verifications passed.

The evidence *file* is a binding, not a verdict: it records what was tested (commit, tree hash,
test-file hashes — :mod:`riskgrid.threats.binding`) and which JUnit files hold the results (their
hashes and run timestamps). The gate checks each binding again and recomputes every control's
status from the model and those JUnit files (:func:`check_binding`, then :func:`build_evidence`);
the per-control records the file also carries are for people and are never read back as
conclusions.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskgrid.spec.errors import SpecError
from riskgrid.threats.binding import (
    TreeState,
    file_hashes,
    parse_timestamp,
    relative_to_root,
    sha256_file,
)
from riskgrid.threats.model import ControlStatus, ThreatModel
from riskgrid.threats.validate import Verification

SCHEMA = "riskgrid.threats.evidence/v2"
OUTCOMES = ("passed", "failed", "error", "skipped", "not-run")


def junit_key(node_id: str) -> tuple[str, str]:
    """The (classname, name) pytest writes to JUnit XML for ``node_id``.

    ``tests/a/test_x.py::TestC::test_y[p]`` → ``("tests.a.test_x.TestC", "test_y[p]")``.
    """
    parts = node_id.split("::")
    parts[0] = re.sub(r"\.py$", "", parts[0]).replace("/", ".")
    return ".".join(parts[:-1]), parts[-1]


@dataclass(frozen=True)
class JUnitCase:
    outcome: str
    seconds: float


@dataclass(frozen=True)
class JUnitRun:
    cases: dict[tuple[str, str], JUnitCase]
    timestamp: str | None


def parse_junit(path: Path) -> JUnitRun:
    source = str(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise SpecError.one(source, "JUnit XML file not found") from None
    except (ET.ParseError, OSError) as exc:
        raise SpecError.one(source, f"not readable JUnit XML: {exc}") from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuite", "testsuites"):
        raise SpecError.one(source, f"root element must be testsuites or testsuite, not {root.tag}")
    cases: dict[tuple[str, str], JUnitCase] = {}
    timestamp = None
    for suite in suites:
        timestamp = timestamp or suite.get("timestamp")
        for case in suite.iter("testcase"):
            tags = {child.tag for child in case}
            outcome = (
                "failed"
                if "failure" in tags
                else "error"
                if "error" in tags
                else "skipped"
                if "skipped" in tags
                else "passed"
            )
            key = (case.get("classname", ""), case.get("name", ""))
            try:
                seconds = float(case.get("time", "0") or 0)
            except ValueError:
                seconds = 0.0
            previous = cases.get(key)
            # A test reported twice (e.g. error in teardown after a pass) keeps the worse outcome.
            if previous is None or OUTCOMES.index(outcome) in (1, 2):
                cases[key] = JUnitCase(outcome, seconds)
    return JUnitRun(cases, timestamp)


def run_pytest(node_ids: Iterable[str], repo_root: Path, junit_dir: Path) -> list[Path]:
    """Run exactly ``node_ids`` with pytest, one run per test folder (each with only its own
    ``conftest.py``, as in a full run); returns the JUnit XML files written."""
    from riskgrid.threats.resolve import group_by_folder

    out = []
    for i, (_, ids) in enumerate(sorted(group_by_folder(set(node_ids), repo_root).items())):
        junit = junit_dir / f"junit-{i}.xml"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             f"--junitxml={junit}", *sorted(ids)],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if junit.is_file():  # pytest writes none when it cannot start at all
            out.append(junit)
    return out


def merge_runs(runs: Iterable[JUnitRun]) -> JUnitRun:
    cases: dict[tuple[str, str], JUnitCase] = {}
    stamps = []
    for run in runs:
        cases.update(run.cases)
        if run.timestamp:
            stamps.append(run.timestamp)
    return JUnitRun(cases, min(stamps) if stamps else None)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class VerificationRecord(_Loose):
    control: str
    ref: str
    kind: str
    node_id: str
    outcome: str
    seconds: float


class ControlRecord(_Loose):
    status: str
    verified: bool
    outcomes: dict[str, int]


class JUnitFile(_Loose):
    path: str
    sha256: str
    timestamp: str | None


class Evidence(_Loose):
    schema_: str = Field(SCHEMA, alias="schema")
    generated_at: str
    commit: str | None
    tree: str | None
    dirty: bool
    #: False when made from a dirty tree or outside a checkout (``--allow-dirty``).
    official: bool
    source: str
    junit: list[JUnitFile]
    test_files: dict[str, str]
    verifications: list[VerificationRecord]
    controls: dict[str, ControlRecord]

    @property
    def junit_timestamp(self) -> str | None:
        stamps = [j.timestamp for j in self.junit if j.timestamp]
        return min(stamps) if stamps else None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=2, sort_keys=True)


def build_evidence(
    model: ThreatModel,
    verifications: list[Verification],
    run: JUnitRun,
    *,
    state: TreeState,
    official: bool,
    source: str,
    junit: list[JUnitFile],
    test_files: dict[str, str],
    now: datetime | None = None,
) -> Evidence:
    """Join verifications with JUnit outcomes (pure: no I/O, ``now`` aside)."""
    records = []
    for v in verifications:
        case = run.cases.get(junit_key(v.node_id))
        records.append(
            VerificationRecord(
                control=v.control,
                ref=v.ref,
                kind=v.kind,
                node_id=v.node_id,
                outcome=case.outcome if case else "not-run",
                seconds=case.seconds if case else 0.0,
            )
        )
    controls: dict[str, ControlRecord] = {}
    for c in model.controls:
        mine = [r for r in records if r.control == c.id]
        counts = {o: sum(r.outcome == o for r in mine) for o in OUTCOMES}
        # Every reference the control names must have run (≥ 1 node) and every node passed.
        refs_run = {r.ref for r in mine}
        verified = (
            c.status is ControlStatus.implemented
            and bool(mine)
            and len(refs_run) == len(c.verification)
            and all(r.outcome == "passed" for r in mine)
        )
        controls[c.id] = ControlRecord(status=c.status.value, verified=verified, outcomes=counts)
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return Evidence(
        generated_at=stamp,
        commit=state.commit,
        tree=state.tree,
        dirty=state.dirty,
        official=official,
        source=source,
        junit=junit,
        test_files=test_files,
        verifications=records,
        controls=controls,
    )


def write_evidence(evidence: Evidence, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(evidence.to_json() + "\n")
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_evidence(path: Path) -> Evidence:
    source = str(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError.one(
            source, "evidence file not found; run 'riskgrid threats verify'"
        ) from None
    except (OSError, ValueError) as exc:
        raise SpecError.one(source, f"not a readable evidence file: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SpecError.one(source, f"not a {SCHEMA} evidence file", ("schema",))
    try:
        return Evidence.model_validate(data)
    except ValidationError as exc:
        from riskgrid.spec.loading import problems_from_validation

        raise SpecError(problems_from_validation(exc, source)) from None


def verified_controls(evidence: Evidence | None) -> set[str]:
    """Controls verified by *recomputed* evidence (:func:`build_evidence` on a checked binding);
    never call this on a loaded evidence file."""
    if evidence is None:
        return set()
    return {cid for cid, rec in evidence.controls.items() if rec.verified}


# ---- binding: what the evidence is about, checked again ----------------------------------------


def referenced_test_files(verifications: Iterable[Verification], root: Path) -> dict[str, str]:
    """Hashes of the test files the model's verifications run (and their ``conftest.py``)."""
    return file_hashes({v.node_id.split("::", 1)[0] for v in verifications}, root)


def _newest_mtime(paths: Iterable[str], root: Path) -> datetime | None:
    stamps = [(root / p).stat().st_mtime for p in paths if (root / p).is_file()]
    return datetime.fromtimestamp(max(stamps), UTC) if stamps else None


def last_change(state: TreeState, test_files: Iterable[str], root: Path) -> datetime | None:
    """When the tested code last changed: the tree's last change, or a referenced test file's
    modification if later (outside a checkout that is all there is to go by)."""
    stamps = [t for t in (state.changed_at, _newest_mtime(test_files, root)) if t is not None]
    return max(stamps) if stamps else None


def tree_problems(state: TreeState, *, allow_dirty: bool) -> list[str]:
    """Why evidence from this tree cannot be official (empty when it can, or when allowed)."""
    if allow_dirty:
        return []
    if state.commit is None:
        return [
            "not a git checkout: evidence cannot be bound to a commit "
            "(--allow-dirty makes unofficial evidence)"
        ]
    if state.dirty:
        shown = ", ".join(state.dirty_paths[:5]) + (" …" if len(state.dirty_paths) > 5 else "")
        return [
            f"the working tree has uncommitted changes ({shown}): commit them, or pass "
            "--allow-dirty for unofficial evidence"
        ]
    return []


def read_junit_files(
    paths: Iterable[Path], root: Path, changed: datetime | None
) -> tuple[JUnitRun, list[JUnitFile], list[str]]:
    """Parse JUnit files; their records for the evidence and the reasons any is stale.

    The run timestamp is read from the file itself; a run that started before the tested code's
    last change (``changed``) is refused.
    """
    runs, files, problems = [], [], []
    for path in paths:
        run = parse_junit(path)
        runs.append(run)
        files.append(JUnitFile(path=relative_to_root(path, root), sha256=sha256_file(path),
                               timestamp=run.timestamp))  # fmt: skip
        stamp = parse_timestamp(run.timestamp)
        if stamp is None:
            problems.append(f"{path}: the JUnit file has no run timestamp")
        elif changed is not None and stamp < changed:
            problems.append(
                f"{path}: JUnit run of {stamp.isoformat(timespec='seconds')} is older than the "
                f"tested code's last change ({changed.isoformat(timespec='seconds')})"
            )
    return merge_runs(runs), files, problems


def check_binding(
    recorded: Evidence,
    state: TreeState,
    test_files: dict[str, str],
    root: Path,
    *,
    allow_dirty: bool,
) -> tuple[JUnitRun | None, list[str]]:
    """Check an evidence file against the tree as it is now; the JUnit results it points at
    (re-read, never taken from the evidence) and every reason it does not hold."""
    problems = tree_problems(state, allow_dirty=allow_dirty)
    if not recorded.official and not allow_dirty:
        problems.append("the evidence is unofficial (made with --allow-dirty)")
    if recorded.commit != state.commit:
        problems.append(f"the evidence is for commit {recorded.commit}, not HEAD {state.commit}")
    elif recorded.tree != state.tree:
        problems.append("the evidence is for another tree: tracked files changed since")
    for path, digest in test_files.items():
        if recorded.test_files.get(path) != digest:
            problems.append(f"{path}: test file is not the one that was run (hash differs)")
    if not recorded.junit:
        problems.append("the evidence names no JUnit file")
        return None, problems
    paths = []
    for j in recorded.junit:
        p = Path(j.path) if Path(j.path).is_absolute() else root / j.path
        if not p.is_file():
            problems.append(f"{p}: JUnit file not found")
        elif sha256_file(p) != j.sha256:
            problems.append(f"{p}: JUnit file changed since the evidence was made (hash differs)")
        else:
            paths.append(p)
    if len(paths) != len(recorded.junit):
        return None, problems
    run, _, stale = read_junit_files(paths, root, last_change(state, test_files, root))
    return run, problems + stale


def collected_from_junit(run: JUnitRun, root: Path) -> dict[str, set[str]]:
    """Node ids per test file and per folder, rebuilt from a JUnit run of the whole suite.

    Lets validation skip its own ``pytest --collect-only`` when the suite has just run (CI):
    ``tests.a.test_x.C`` + ``t[p]`` → ``tests/a/test_x.py::C::t[p]``, the longest classname
    prefix that is an existing ``.py`` file being the module.
    """
    out: dict[str, set[str]] = {}
    sources: dict[str, str] = {}
    for classname, name in run.cases:
        parts = classname.split(".")
        for i in range(len(parts), 0, -1):
            path = "/".join(parts[:i]) + ".py"
            if (root / path).is_file():
                if path not in sources:
                    sources[path] = (root / path).read_text(encoding="utf-8", errors="replace")
                # a JUnit file can name tests that do not exist: keep only those defined there
                function = name.split("[", 1)[0]
                if not re.search(rf"\bdef {re.escape(function)}\(", sources[path]):
                    break
                node = "::".join([path, *parts[i:], name])
                out.setdefault(path, set()).add(node)
                for parent in Path(path).parents:
                    if str(parent) != ".":
                        out.setdefault(str(parent), set()).add(node)
                break
    return out
