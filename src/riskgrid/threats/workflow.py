"""The steps behind the ``riskgrid threats`` commands, as library calls (the CLI only wires them).

``verify`` resolves the model, gets JUnit outcomes (by running exactly the referenced tests, or
from a given file) and writes the evidence file; ``assess`` joins model, evidence, exceptions and
the current commit into metrics.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from riskgrid.spec.errors import RiskgridError, SpecError
from riskgrid.threats import evidence as ev
from riskgrid.threats.binding import tree_state, verify_signature
from riskgrid.threats.exceptions import read_exceptions
from riskgrid.threats.metrics import ExceptionRecord, Metrics, compute
from riskgrid.threats.mutate import MUTATION_FILE, load_results
from riskgrid.threats.validate import Validated, validate


def _current(mutation: dict[str, dict[str, Any]], validated: Validated) -> dict[str, Any]:
    """Mark a mutation result stale when the control now names other code or other tests than
    the ones it was made with (its files being unchanged is not enough)."""
    controls = {c.id: c for c in validated.model.controls}
    for cid, rec in mutation.items():
        c = controls.get(cid)
        targets = {r.split(":", 1)[1].strip() for r in (c.implementation if c else [])
                   if r.startswith("code:")}  # fmt: skip
        tests = sorted({v.node_id for v in validated.verifications if v.control == cid})
        made_with = {r.get("target") for r in rec.get("results", [])}
        if made_with != targets or rec.get("tests") != tests:
            rec["fresh"] = False
    return mutation


def _validate(model_dir: Path, repo_root: Path, junit: list[Path]) -> Validated:
    """:func:`validate`, seeded with the node ids of a full suite's JUnit run when there is one
    (saves a ``pytest --collect-only`` of every referenced file).

    Seeding only saves work: when the seeded validation finds a problem (a partial run, a
    JUnit file that cannot be read), the model is validated again by collecting for real, so
    the verdict never depends on the JUnit file's claims about what exists.
    """
    seeds: dict[str, set[str]] = {}
    for path in junit:
        try:
            run = ev.parse_junit(path)
        except SpecError:
            return validate(model_dir, repo_root=repo_root)
        for key, ids in ev.collected_from_junit(run, repo_root).items():
            seeds.setdefault(key, set()).update(ids)
    if seeds:
        try:
            return validate(model_dir, repo_root=repo_root, collected=seeds)
        except SpecError:
            pass
    return validate(model_dir, repo_root=repo_root)


def verify(
    model_dir: Path,
    repo_root: Path,
    *,
    out: Path,
    junit: Path | None = None,
    allow_dirty: bool = False,
) -> ev.Evidence:
    """Write evidence binding the JUnit results to the tree they were made on.

    Refuses (without writing) a dirty tree or no checkout unless ``allow_dirty`` (the evidence
    is then marked unofficial), and a JUnit run older than the tested code's last change.
    Without ``junit`` it runs exactly the referenced tests and keeps their JUnit files next to
    ``out`` (the gate re-reads them).
    """
    validated = _validate(model_dir, repo_root, [junit] if junit is not None else [])
    state = tree_state(repo_root)
    problems = ev.tree_problems(state, allow_dirty=allow_dirty)
    if problems:
        raise RiskgridError(f"{repo_root}: {problems[0]}")
    tests = ev.referenced_test_files(validated.verifications, repo_root)
    if junit is not None:
        files, source = [junit], f"junit:{junit}"
    else:
        folder = out.parent / f"{out.stem}-junit"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        node_ids = [v.node_id for v in validated.verifications]
        files, source = ev.run_pytest(node_ids, repo_root, folder), "pytest-run"
        state = tree_state(repo_root)  # the run must not have changed the tree
        if problems := ev.tree_problems(state, allow_dirty=allow_dirty):
            raise RiskgridError(f"{repo_root}: after the test run: {problems[0]}")
    run, records, stale = ev.read_junit_files(
        files, repo_root, ev.last_change(state, tests, repo_root)
    )
    if stale:
        raise RiskgridError(stale[0])
    evidence = ev.build_evidence(
        validated.model,
        validated.verifications,
        run,
        state=state,
        official=state.clean_checkout,
        source=source,
        junit=records,
        test_files=tests,
    )
    ev.write_evidence(evidence, out)
    return evidence


@dataclass(frozen=True)
class Assessment:
    validated: Validated
    #: Recomputed by the gate from the model and the JUnit files (None: no valid evidence).
    evidence: ev.Evidence | None
    head: str
    exceptions: list[ExceptionRecord]
    metrics: Metrics
    #: Why the evidence file given does not hold (empty when it does, or none was given).
    binding_problems: list[str] = field(default_factory=list)
    official: bool = False
    #: Committed mutation results per control, each marked fresh or stale (threats mutate).
    mutation: dict[str, dict[str, Any]] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """The whole report document of this assessment (``threats report``, the console)."""
        from riskgrid.threats import report as rp

        return rp.build(
            self.validated.model,
            self.metrics,
            self.evidence,
            head=self.head,
            exceptions=self.exceptions,
            problems=self.binding_problems,
            mutation=self.mutation,
        )


def assess(
    model_dir: Path,
    repo_root: Path,
    *,
    evidence_path: Path | None,
    today: date,
    allow_dirty: bool = False,
    trusted_key: Path | None = None,
) -> Assessment:
    """Metrics from evidence the gate re-derives itself.

    The evidence file only says what was tested and where the results are; every binding is
    checked against the tree as it is now (:func:`riskgrid.threats.evidence.check_binding`),
    the signature too when ``trusted_key`` is given, and each control's status is recomputed
    from the model and the JUnit files. Nothing the file says about outcomes is read.
    """
    recorded = ev.load_evidence(evidence_path) if evidence_path is not None else None
    junit = [
        Path(j.path) if Path(j.path).is_absolute() else repo_root / j.path
        for j in (recorded.junit if recorded is not None else [])
    ]
    validated = _validate(model_dir, repo_root, junit)
    state = tree_state(repo_root)
    head = state.commit or "unknown"
    evidence: ev.Evidence | None = None
    problems: list[str] = []
    if evidence_path is not None and recorded is not None:
        if trusted_key is not None and (bad := verify_signature(evidence_path, trusted_key)):
            problems.append(bad)
        tests = ev.referenced_test_files(validated.verifications, repo_root)
        run, more = ev.check_binding(recorded, state, tests, repo_root, allow_dirty=allow_dirty)
        problems += more
        if run is not None and not problems:
            evidence = ev.build_evidence(
                validated.model,
                validated.verifications,
                run,
                state=state,
                official=recorded.official and state.clean_checkout,
                source=recorded.source,
                junit=list(recorded.junit),
                test_files=tests,
            )
    verified = ev.verified_controls(evidence)
    dirs = [repo_root / d for d in validated.model.metadata.exceptions_dirs]
    exceptions = read_exceptions(dirs)
    isolation = (
        [r.outcome for r in evidence.verifications if r.kind == "isolation"]
        if evidence is not None
        else ["not-run" for v in validated.verifications if v.kind == "isolation"]
    )
    metrics = compute(
        validated.model,
        verified,
        validated.taxonomies,
        isolation_outcomes=isolation,
        exceptions=exceptions,
        today=today,
    )
    official = evidence is not None and evidence.official
    mutation = _current(load_results(model_dir / MUTATION_FILE, repo_root), validated)
    return Assessment(validated, evidence, head, exceptions, metrics, problems, official, mutation)
