"""The mutation harness: mutants of a named function, killed or survived by real test runs."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pytest

from riskgrid.spec.errors import RiskgridError
from riskgrid.threats.gate import mutation_failures
from riskgrid.threats.mutate import Shadow, load_results, mutants_for, mutated_source

RNG = "riskgrid.grid.rng:stream"


def test_mutants_of_a_function_and_their_source(repo_root: Path) -> None:
    mutants = mutants_for("C-X", [RNG], repo_root, per_control=50)
    body = [m for m in mutants if m.operator == "body"]
    assert [(m.function, m.file) for m in body] == [("stream", "src/riskgrid/grid/rng.py")]
    source = (repo_root / body[0].file).read_text()
    mutated = ast.parse(mutated_source(body[0], source))
    fn = next(n for n in mutated.body if isinstance(n, ast.FunctionDef) and n.name == "stream")
    assert ast.unparse(fn.body[-1]) == "return None" and len(fn.body) <= 2  # docstring kept
    # the rest of the module is untouched
    other = next(n for n in mutated.body if isinstance(n, ast.FunctionDef) and n.name != "stream")
    assert other.name == "spawn_key" and len(other.body) > 1
    # the sample is deterministic per control
    assert mutants_for("C-X", [RNG], repo_root, per_control=2) == mutants_for(
        "C-X", [RNG], repo_root, per_control=2
    )


def test_a_class_reference_mutates_each_method(repo_root: Path) -> None:
    mutants = mutants_for("C-X", ["riskgrid.threats.binding:TreeState"], repo_root,
                          per_control=0)  # fmt: skip
    assert {m.function for m in mutants} == {"TreeState.clean_checkout"}


def test_dict_key_mutant_drops_the_field(repo_root: Path) -> None:
    mutants = mutants_for("C-X", ["riskgrid.tenancy.ray:render_raycluster"], repo_root,
                          per_control=500)  # fmt: skip
    tls = next(m for m in mutants if m.description.endswith("drop key 'tlsOptions'"))
    source = (repo_root / tls.file).read_text()
    assert "'tlsOptions'" not in mutated_source(tls, source) and "tlsOptions" in source


@pytest.mark.slow
def test_killed_and_survived_by_real_runs(repo_root: Path, tmp_path: Path) -> None:
    [body] = [m for m in mutants_for("C-X", [RNG], repo_root, per_control=0)]
    shadow = Shadow(repo_root, tmp_path)
    rng_test = "tests/grid/test_grid_rng.py::test_same_key_same_numbers_other_key_other_numbers"
    killed = shadow.run(body, [rng_test])
    assert killed.outcome == "killed"
    # a test that never calls the function lets the mutant survive
    unrelated = "tests/threats/test_threats_evidence.py::test_junit_key_matches_pytest_naming"
    survived = shadow.run(body, [unrelated])
    assert survived.outcome == "survived"
    # the shadow copy is restored after each run
    copy = tmp_path / "src" / "riskgrid" / "grid" / "rng.py"
    assert copy.read_text() == (repo_root / "src/riskgrid/grid/rng.py").read_text()


def test_results_are_used_only_while_their_files_are_unchanged(tmp_path: Path) -> None:
    (tmp_path / "code.py").write_text("x = 1\n")
    digest = hashlib.sha256(b"x = 1\n").hexdigest()
    result = {"operator": "body", "outcome": "survived", "function": "f", "file": "code.py",
              "line": 1, "description": "f: body replaced"}  # fmt: skip
    doc = {"schema": "riskgrid.threats.mutation/v1", "commit": None,
           "controls": {"C-X": {"files": {"code.py": digest}, "results": [result]}}}  # fmt: skip
    path = tmp_path / "mutation.json"
    path.write_text(json.dumps(doc))
    loaded = load_results(path, tmp_path)
    assert loaded["C-X"]["fresh"] is True
    assert mutation_failures(loaded) == ["C-X: its tests pass with f removed (code.py:1)"]
    (tmp_path / "code.py").write_text("x = 2\n")
    loaded = load_results(path, tmp_path)
    assert loaded["C-X"]["fresh"] is False and mutation_failures(loaded) == []
    path.write_text('{"schema": "other"}')
    with pytest.raises(RiskgridError, match=r"not a riskgrid\.threats\.mutation/v1 file"):
        load_results(path, tmp_path)


def test_results_are_stale_when_the_control_names_other_code_or_tests(mini) -> None:
    from riskgrid.threats.validate import validate
    from riskgrid.threats.workflow import _current

    v = validate(mini / "threatmodel", repo_root=mini)

    def rec(target: str, tests: list[str]) -> dict:
        return {"fresh": True, "tests": tests, "results": [{"target": target}]}

    same = rec("riskgrid.threats.metrics:compute", ["checks/probe_checks.py::test_passes"])
    moved = rec("riskgrid.threats.metrics:severity", ["checks/probe_checks.py::test_passes"])
    fewer = rec("riskgrid.threats.metrics:compute", [])
    out = _current({"C-PRE-A": same}, v)
    assert out["C-PRE-A"]["fresh"] is True
    assert _current({"C-PRE-A": moved}, v)["C-PRE-A"]["fresh"] is False
    assert _current({"C-PRE-A": fewer}, v)["C-PRE-A"]["fresh"] is False


def test_outcomes_from_pytest_exit_codes() -> None:
    from riskgrid.threats.mutate import _outcome

    assert (_outcome(0), _outcome(1), _outcome(2)) == ("survived", "killed", "killed")
    broken_import = "ERROR tests/policy/test_x.py - TypeError\nERROR: found no collectors for"
    assert _outcome(4, broken_import) == "killed"
    assert _outcome(4, "ERROR: file or directory not found") == "error"  # a bad node id
    assert (_outcome(5), _outcome(124)) == ("error", "error")
