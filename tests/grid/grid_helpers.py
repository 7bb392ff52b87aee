"""Helpers shared by the grid tests (a module, not conftest, so imports are unambiguous)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

#: Result fields that legitimately differ between runs of the same job.
RUN_SPECIFIC = {"engine", "workers", "rayAddress", "tasks", "plan", "timings", "outputs"}


def answer(result_json: dict) -> dict:
    """The numbers of a result (everything but how it was run)."""
    return {k: v for k, v in result_json.items() if k not in RUN_SPECIFIC}


def read_dir(path: Path) -> tuple[dict, dict[str, Any]]:
    """result.json and every Parquet table of a results directory."""
    body = json.loads((path / "result.json").read_text())
    tables = {p.name: pq.read_table(p).to_pydict() for p in sorted(path.glob("*.parquet"))}
    return body, tables
