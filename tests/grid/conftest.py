"""Fixtures shared by the grid tests: the example jobs, loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from grid_helpers import read_dir

from riskgrid.grid.runner import execute
from riskgrid.spec.job import load_job


@pytest.fixture(scope="session")
def small_job_path(repo_root: Path) -> Path:
    return repo_root / "examples" / "jobs" / "small.yaml"


@pytest.fixture(scope="session")
def big_job_path(repo_root: Path) -> Path:
    return repo_root / "examples" / "jobs" / "multi-desk-var.yaml"


@pytest.fixture(scope="session")
def small_inputs(small_job_path: Path) -> Any:
    return load_job(small_job_path)


@pytest.fixture(scope="session")
def big_inputs(big_job_path: Path) -> Any:
    return load_job(big_job_path)


@pytest.fixture(scope="session")
def big_baseline(big_inputs: Any, tmp_path_factory: pytest.TempPathFactory):
    """The example job on the local engine's pool, 2 workers, planner's blocks: (execution,
    files). On the pool whatever the job's size, so that runs in process compare against it."""
    out = tmp_path_factory.mktemp("baseline") / "res"
    ex = execute(big_inputs, workers=2, out_dir=out, in_process=False)
    assert ex.result.status == "completed"
    return ex, read_dir(out)
