"""Fixtures for the tenancy tests: the example tenants and a way to write variants of them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.spec.tenant import Tenant, load_tenants

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tenants"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="session")
def example_files() -> list[Path]:
    return EXAMPLE_FILES


@pytest.fixture(scope="session")
def example_tenants() -> list[Tenant]:
    return load_tenants(EXAMPLE_FILES)


@pytest.fixture
def base_doc() -> dict[str, Any]:
    """The eq-vol example as a plain document, to mutate."""
    return yaml.safe_load((EXAMPLES / "eq-vol.yaml").read_text())


@pytest.fixture
def write_tenant(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(10_000))

    def write(doc: dict[str, Any], name: str | None = None) -> Path:
        path = tmp_path / (name or f"tenant-{next(counter)}.yaml")
        path.write_text(yaml.safe_dump(copy.deepcopy(doc), sort_keys=False))
        return path

    return write
