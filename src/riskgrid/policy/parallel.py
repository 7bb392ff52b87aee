"""Check many files on several cores: the report one process would make, sooner.

Each worker process reads, parses and checks a contiguous share of the files (balanced by
size) with its own engine, and the shares' reports are joined in file order. Worth it for big
inputs only: a worker is a fresh interpreter (``spawn``: a regorus engine is bound to the thread
that made it, so nothing engine-related may cross a ``fork``) that imports the library and
parses the Rego (~0.5 s) before it checks anything. ``bench_policy.py`` prints 1 → 2 worker
scaling.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from riskgrid.policy.check import check_documents
from riskgrid.policy.config import PolicyConfig
from riskgrid.policy.inputs import files_of, read_inputs
from riskgrid.policy.report import CheckReport, InputError
from riskgrid.spec.exceptions import PolicyException


def shares(files: Sequence[Path], jobs: int) -> list[list[Path]]:
    """``files`` cut into at most ``jobs`` contiguous runs of about equal total size."""
    sizes = [max(f.stat().st_size, 1) for f in files]
    total, acc = sum(sizes), 0
    out: list[list[Path]] = []
    run: list[Path] = []
    for f, size in zip(files, sizes, strict=True):
        run.append(f)
        acc += size
        if acc >= total * (len(out) + 1) / jobs and len(out) < jobs - 1:
            out.append(run)
            run = []
    if run:
        out.append(run)
    return out


def _check_share(
    files: list[Path],
    config: PolicyConfig | None,
    exceptions: list[PolicyException],
    engine: str,
    today: dt.date | None,
) -> tuple[list[InputError], CheckReport]:
    docs, parse_errors = read_inputs([str(f) for f in files])
    return parse_errors, check_documents(
        docs, config=config, exceptions=exceptions, engine=engine, today=today
    )


def check_paths(
    paths: Sequence[str],
    *,
    jobs: int,
    config: PolicyConfig | None = None,
    exceptions: Iterable[PolicyException] = (),
    engine: str = "regorus",
    today: dt.date | None = None,
) -> CheckReport:
    """``check_documents(read_inputs(paths))`` with the files spread over ``jobs`` processes.

    Same violations, waivers and errors in the same order as one process, except that the
    errors of a share come together (its parse errors, then its checking errors) instead of
    all parse errors first. ``-`` (stdin) and missing paths are handled by the caller's
    process; ``jobs <= 1`` checks in this process.
    """
    excs = list(exceptions)
    files: list[Path] = []
    local: list[str] = []
    for raw in paths:
        if raw == "-" or not Path(raw).exists():
            local.append(raw)
        else:
            files.extend(files_of(Path(raw)))
    if jobs <= 1 or len(files) < 2:
        docs, errors = read_inputs(list(paths))
        return check_documents(
            docs, config=config, exceptions=excs, engine=engine, today=today, errors=errors
        )
    runs = shares(files, jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(runs), mp_context=context) as pool:
        futures = [pool.submit(_check_share, run, config, excs, engine, today) for run in runs]
        parts = [f.result() for f in futures]
    report = CheckReport()
    if local:
        docs, errors = read_inputs(local)
        parts.insert(
            0,
            (
                errors,
                check_documents(docs, config=config, exceptions=excs, engine=engine, today=today),
            ),
        )
    for parse_errors, part in parts:
        report.engine = part.engine
        report.objects += part.objects
        report.errors += parse_errors + part.errors
        report.violations += part.violations
        report.waived += part.waived
        report.expired_exceptions = part.expired_exceptions
    return report
