"""Fixtures for the burst tests: the example capacity plan as a document to vary."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from burst_helpers import PLAN


@pytest.fixture
def plan_doc() -> dict[str, Any]:
    return yaml.safe_load(PLAN.read_text())


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, dict[str, Any]], Path]:
    def write(name: str, doc: dict[str, Any]) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(copy.deepcopy(doc), sort_keys=False))
        return path

    return write
