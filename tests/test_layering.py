"""The package's layers are checked by machine: import-linter's contracts in pyproject.toml.

``lint-imports`` reads ``[tool.importlinter]``: the layers cli → client → service → threats |
burst | cluster → tenancy | grid → policy | netpol → supply → spec → risk (nothing imports
upward, siblings are independent), ``risk`` and ``netpol`` alone, and the service's app module
only assembling.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "riskgrid"


def _contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in out.stdout


def test_every_top_level_module_has_a_layer() -> None:
    """A new package cannot slip past the layers contract by not being listed."""
    (layers,) = [c for c in _contracts() if c["id"] == "layers"]
    listed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    present = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert listed == present
