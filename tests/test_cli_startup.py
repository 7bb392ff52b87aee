"""The CLI starts without its heavy dependencies, and its lazy command table tells the truth.

Start-up time itself is measured in ``benchmarks/bench_startup.py`` (speed goals live in
benchmarks, not in timed tests); these tests pin down what makes it fast.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from riskgrid.cli.main import COMMANDS, load_area

# Imports that cost tens to hundreds of milliseconds each; none is needed to parse a command line.
HEAVY = (
    "ray",
    "pandas",
    "pyarrow",
    "fastapi",
    "sqlalchemy",
    "scipy",
    "matplotlib",
    "kubernetes",
    "jsonschema",
    "numpy",
    "pydantic",
    "regorus",
    "uvicorn",
    "httpx",
    "cryptography",
)


def _modules_after(code: str) -> set[str]:
    """Top-level packages and riskgrid modules in sys.modules after running ``code`` afresh."""
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(m for m in sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_dependency() -> None:
    loaded = _modules_after("import riskgrid.cli.main")
    assert "riskgrid.cli.main" in loaded
    assert sorted(h for h in HEAVY if h in loaded) == []
    # No area module either: they are imported when their command runs.
    areas = {f"riskgrid.cli.{module}" for module, _ in COMMANDS.values()}
    assert sorted(areas & loaded) == []


def test_the_notebook_client_imports_pandas_only_when_it_reads_tables() -> None:
    loaded = _modules_after("import riskgrid.client")
    assert "riskgrid.client" in loaded
    assert sorted(h for h in ("pandas", "pyarrow", "ray", "fastapi") if h in loaded) == []


def test_root_help_imports_no_area() -> None:
    code = (
        "import contextlib, io\n"
        "from riskgrid.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as buf:\n"
        "    rc = main(['--help'])\n"
        "assert rc == 0, rc\n"
        "assert 'cluster' in buf.getvalue() and 'policy' in buf.getvalue()\n"
    )
    loaded = _modules_after(code)
    areas = {f"riskgrid.cli.{module}" for module, _ in COMMANDS.values()}
    assert sorted(areas & loaded) == []
    assert sorted(h for h in HEAVY if h in loaded) == []


def test_running_one_command_imports_only_its_area() -> None:
    code = (
        "import contextlib, io\n"
        "from riskgrid.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['schema', 'RiskJob'])\n"
        "assert rc == 0, rc\n"
    )
    loaded = _modules_after(code)
    areas = {f"riskgrid.cli.{module}" for module, _ in COMMANDS.values()}
    assert sorted(areas & loaded) == ["riskgrid.cli.schema"]
    assert "ray" not in loaded and "pandas" not in loaded


@pytest.mark.parametrize("module", sorted({module for module, _ in COMMANDS.values()}))
def test_command_table_matches_what_each_area_registers(module: str) -> None:
    group = load_area(module)
    listed = {name for name, (mod, _) in COMMANDS.items() if mod == module}
    assert set(group.commands) == listed
    for name in listed:
        real = group.commands[name]
        first_line = (real.help or "").strip().splitlines()[0]
        assert first_line == COMMANDS[name][1], name


def test_unknown_command_still_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    from riskgrid.cli.main import main

    assert main(["polcy", "check"]) == 2
    assert "Did you mean 'policy'" in capsys.readouterr().err
