"""The steps behind the ``riskgrid threats`` commands, as library calls (the CLI only wires them).

``verify`` resolves the model, gets JUnit outcomes (by running exactly the referenced tests, or
from a given file) and writes the evidence file; ``assess`` joins model, evidence, exceptions and
the current commit into metrics.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from riskgrid.threats import evidence as ev
from riskgrid.threats.exceptions import read_exceptions
from riskgrid.threats.metrics import ExceptionRecord, Metrics, compute
from riskgrid.threats.validate import Validated, validate


def verify(
    model_dir: Path, repo_root: Path, *, out: Path, junit: Path | None = None
) -> ev.Evidence:
    validated = validate(model_dir, repo_root=repo_root)
    commit, dirty = ev.git_state(repo_root)
    if junit is not None:
        run, source = ev.parse_junit(junit), f"junit:{junit}"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            files = ev.run_pytest(
                [v.node_id for v in validated.verifications], repo_root, Path(tmp)
            )
            run, source = ev.merge_runs(ev.parse_junit(f) for f in files), "pytest-run"
    evidence = ev.build_evidence(
        validated.model,
        validated.verifications,
        run,
        commit=commit,
        dirty=dirty,
        source=source,
    )
    ev.write_evidence(evidence, out)
    return evidence


@dataclass(frozen=True)
class Assessment:
    validated: Validated
    evidence: ev.Evidence | None
    head: str
    exceptions: list[ExceptionRecord]
    metrics: Metrics


def assess(
    model_dir: Path, repo_root: Path, *, evidence_path: Path | None, today: date
) -> Assessment:
    validated = validate(model_dir, repo_root=repo_root)
    head, _ = ev.git_state(repo_root)
    evidence = ev.load_evidence(evidence_path) if evidence_path is not None else None
    verified = ev.verified_controls(evidence, head)
    dirs = [repo_root / d for d in validated.model.metadata.exceptions_dirs]
    exceptions = read_exceptions(dirs)
    isolation = (
        [r.outcome for r in evidence.verifications if r.kind == "isolation"]
        if evidence is not None and evidence.commit == head
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
    return Assessment(validated, evidence, head, exceptions, metrics)
