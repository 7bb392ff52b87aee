"""Fixtures for the risk library tests: the shipped example jobs, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskgrid.risk.inputs import JobInputs
from riskgrid.spec.job import load_job


@pytest.fixture(scope="session")
def small(repo_root: Path) -> JobInputs:
    return load_job(repo_root / "examples" / "jobs" / "small.yaml")


@pytest.fixture(scope="session")
def multi_desk(repo_root: Path) -> JobInputs:
    return load_job(repo_root / "examples" / "jobs" / "multi-desk-var.yaml")
