"""``riskgrid threats mutate``: do a control's tests fail when its code stops working?

A control's verification passing says little if the tests would pass anyway. For each control
with ``code:`` implementation references this module makes *mutants* of the named functions
(for a class: its methods), runs the control's referenced tests against each, and records
whether they failed (the mutant is *killed*) or not (it *survived*):

- ``body`` — the whole body replaced by ``return None`` (the behaviour removed); one per
  function, always run: if it survives, the tests do not exercise the code at all;
- ``guard`` — an ``if`` statement whose branch raises or returns, removed (a check dropped);
- ``dict-key`` — one entry of a dict literal removed (a rendered field dropped);
- ``negate`` — a comparison inverted (``==``/``!=``, ``<``/``>=``, ``in``/``not in``, …);
- ``bool`` — a ``True``/``False`` constant flipped.

Besides the ``body`` mutants, a deterministic sample of the others is run (``per_control``,
seeded by the control id), because a full run costs one pytest start per mutant.

Mutants are applied to a private copy of the ``riskgrid`` package that shadows the installed
one through ``PYTHONPATH``; the working tree is never modified. Each result records the SHA-256
of the source files mutated and the test files run, so a committed result is used (by the
report and the gate) only while those files are unchanged.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from riskgrid.spec.errors import RiskgridError
from riskgrid.threats import refs
from riskgrid.threats.binding import sha256_file
from riskgrid.threats.resolve import group_by_folder
from riskgrid.threats.validate import Validated

SCHEMA = "riskgrid.threats.mutation/v1"
#: The committed results, inside the threat-model directory (not a ``*.yaml`` model file).
MUTATION_FILE = "mutation.json"
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutant:
    control: str
    target: str  # the code reference, e.g. riskgrid.tenancy.ray:render_raycluster
    file: str  # repo-relative source file
    function: str  # qualified name inside the module
    operator: str
    line: int
    description: str


@dataclass
class MutantResult:
    mutant: Mutant
    outcome: str  # killed | survived | error
    seconds: float
    detail: str = ""


@dataclass
class ControlResult:
    control: str
    tests: list[str]
    results: list[MutantResult] = field(default_factory=list)
    #: sha256 of each mutated source file and each test file run (the binding).
    files: dict[str, str] = field(default_factory=dict)

    @property
    def killed(self) -> int:
        return sum(r.outcome == "killed" for r in self.results)

    @property
    def score(self) -> float | None:
        judged = [r for r in self.results if r.outcome != "error"]
        return self.killed / len(judged) if judged else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "tests": self.tests,
            "files": self.files,
            "killed": self.killed,
            "total": len(self.results),
            "score": self.score,
            "results": [
                {**asdict(r.mutant), "outcome": r.outcome, "seconds": round(r.seconds, 2),
                 "detail": r.detail}
                for r in self.results
            ],
        }  # fmt: skip


# ---- finding the code ----------------------------------------------------------------------


def _source_file(module: str, repo_root: Path) -> Path:
    mod = importlib.import_module(module)
    path = Path(inspect.getfile(mod)).resolve()
    if not path.is_relative_to((repo_root / "src").resolve()):
        raise RiskgridError(f"{module}: {path} is not under {repo_root / 'src'}")
    return path


def _functions(
    tree: ast.Module, qualname: str
) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """The function ``qualname`` names, or every method of the class it names."""
    node: ast.AST = tree
    for part in qualname.split("."):
        body = getattr(node, "body", [])
        found = [
            n
            for n in body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == part
        ]
        if not found:
            return []
        node = found[0]
    if isinstance(node, ast.ClassDef):
        return [
            (f"{qualname}.{n.name}", n)
            for n in node.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and (not n.name.startswith("__") or n.name in ("__init__", "__call__"))
        ]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return [(qualname, node)]


_NEGATE: dict[type, type] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


def _body_start(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Index of the first statement after the docstring."""
    first = fn.body[0]
    is_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    return 1 if is_doc else 0


def _exits(stmts: list[ast.stmt]) -> bool:
    return any(isinstance(s, ast.Raise | ast.Return) for s in stmts)


def _points(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[tuple[str, ast.AST, str]]:
    """(operator, node, description) of every fine-grained mutation point inside ``fn``."""
    for node in ast.walk(fn):
        if node is fn:
            continue
        if isinstance(node, ast.If) and (_exits(node.body) or _exits(node.orelse)):
            yield "guard", node, f"drop `if {ast.unparse(node.test)[:60]}`"
        elif isinstance(node, ast.Dict) and node.keys:
            for i, key in enumerate(node.keys):
                if isinstance(key, ast.Constant):
                    yield "dict-key", node, f"{i}:drop key {key.value!r}"
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            if type(node.ops[0]) in _NEGATE:
                yield "negate", node, f"negate `{ast.unparse(node)[:60]}`"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield "bool", node, f"flip {node.value} (line {node.lineno})"


class _Apply(ast.NodeTransformer):
    """Apply one mutation (chosen by operator, position and description) to a module tree."""

    def __init__(self, fn_name: str, fn_line: int, operator: str, line: int, description: str):
        self.fn = (fn_name, fn_line)
        self.operator, self.line, self.description = operator, line, description
        self.inside = False
        self.applied = False

    def _visit_fn(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        if (node.name, node.lineno) != self.fn:
            return self.generic_visit(node)
        if self.operator == "body":
            start = _body_start(node)
            node.body = [*node.body[:start], ast.Return(value=ast.Constant(value=None))]
            self.applied = True
            return node
        self.inside = True
        self.generic_visit(node)
        self.inside = False
        return node

    visit_FunctionDef = _visit_fn
    visit_AsyncFunctionDef = _visit_fn

    def _mine(self, node: ast.AST, operator: str) -> bool:
        return (
            self.inside
            and not self.applied
            and self.operator == operator
            and getattr(node, "lineno", -1) == self.line
        )

    def visit_If(self, node: ast.If) -> Any:
        if self._mine(node, "guard") and self.description.endswith(
            f"`if {ast.unparse(node.test)[:60]}`"
        ):
            self.applied = True
            return ast.Pass()
        return self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> Any:
        if self._mine(node, "dict-key"):
            index = int(self.description.split(":", 1)[0])
            key = node.keys[index] if index < len(node.keys) else None
            if isinstance(key, ast.Constant) and self.description.endswith(f"{key.value!r}"):
                self.applied = True
                del node.keys[index], node.values[index]
                return node
        return self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> Any:
        if self._mine(node, "negate") and self.description == f"negate `{ast.unparse(node)[:60]}`":
            self.applied = True
            node.ops = [_NEGATE[type(node.ops[0])]()]
            return node
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        if self._mine(node, "bool") and isinstance(node.value, bool):
            self.applied = True
            return ast.Constant(value=not node.value)
        return node


def mutants_for(
    control: str, targets: Sequence[str], repo_root: Path, *, per_control: int
) -> list[Mutant]:
    """Every ``body`` mutant of the control's code, plus a seeded sample of the others."""
    body: list[Mutant] = []
    fine: list[Mutant] = []
    for target in targets:
        module, qualname = refs.code_parts(target)
        path = _source_file(module, repo_root)
        rel = str(path.relative_to(repo_root.resolve()))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, fn in _functions(tree, qualname):
            what = f"{name}: body replaced by `return None`"
            body.append(Mutant(control, target, rel, name, "body", fn.lineno, what))
            for operator, node, desc in _points(fn):
                line = getattr(node, "lineno", fn.lineno)
                fine.append(Mutant(control, target, rel, name, operator, line, desc))
    rng = random.Random(control)
    sample = rng.sample(fine, min(per_control, len(fine)))
    return body + sorted(sample, key=lambda m: (m.file, m.line, m.description))


def mutated_source(mutant: Mutant, source: str) -> str:
    tree = ast.parse(source)
    fn_name = mutant.function.rsplit(".", 1)[-1]
    fn_line = next(
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.name == fn_name
        and (mutant.operator != "body" or n.lineno == mutant.line)
        and n.lineno <= mutant.line
        and (n.end_lineno or n.lineno) >= mutant.line
    )
    applier = _Apply(fn_name, fn_line, mutant.operator, mutant.line, mutant.description)
    new = applier.visit(tree)
    if not applier.applied:
        raise RiskgridError(f"{mutant.file}:{mutant.line}: cannot apply {mutant.description}")
    return ast.unparse(ast.fix_missing_locations(new))


# ---- running -------------------------------------------------------------------------------


def _run_tests(node_ids: list[str], repo_root: Path, pythonpath: Path) -> tuple[int, str]:
    """Run ``node_ids`` (per test folder, stopping at the first failure) against the mutated
    package; the worst exit code and the tail of its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep), "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    worst, tail = 0, ""
    for _, ids in sorted(group_by_folder(node_ids, repo_root).items()):
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                 "-o", "addopts=", *sorted(ids)],
                cwd=repo_root, env=env, capture_output=True, text=True,
                timeout=RUN_TIMEOUT_S, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {RUN_TIMEOUT_S} s"
        if proc.returncode != 0:
            return proc.returncode, (proc.stdout + proc.stderr)[-1500:]
        worst, tail = max(worst, proc.returncode), proc.stdout[-200:]
    return worst, tail


def _outcome(rc: int, output: str = "") -> str:
    # 1: a test failed; 2: collection/import failed because of the mutant; both mean the tests
    # depend on the code. 4 is pytest's "usage error", which is also what it answers when the
    # named test's module failed to import ("found no collectors" after a collection ERROR):
    # the mutant broke the import, so that is killed too. Anything else (5: nothing collected,
    # 124: timeout) is a harness error, not a verdict.
    if rc == 4 and "found no collectors" in output and "ERROR tests/" in output:
        return "killed"
    return {0: "survived", 1: "killed", 2: "killed"}.get(rc, "error")


class Shadow:
    """A private copy of the ``riskgrid`` package that mutants are written into, one at a time."""

    def __init__(self, repo_root: Path, folder: Path):
        self.repo_root = repo_root
        self.path = folder / "src"
        shutil.copytree(repo_root / "src" / "riskgrid", self.path / "riskgrid",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip

    def run(self, mutant: Mutant, tests: list[str]) -> MutantResult:
        """Apply ``mutant``, run ``tests`` against it, restore the original module."""
        original = self.repo_root / mutant.file
        copy = self.path / Path(mutant.file).relative_to("src")
        started = time.monotonic()
        try:
            copy.write_text(mutated_source(mutant, original.read_text(encoding="utf-8")))
            rc, detail = _run_tests(tests, self.repo_root, self.path)
        finally:
            shutil.copyfile(original, copy)
        outcome = _outcome(rc, detail)
        return MutantResult(mutant, outcome, time.monotonic() - started,
                            "" if outcome == "killed" else detail.strip()[-300:])  # fmt: skip


def mutate_controls(
    validated: Validated,
    repo_root: Path,
    *,
    controls: Sequence[str] = (),
    per_control: int = 3,
    progress: Callable[[MutantResult], None] | None = None,
) -> list[ControlResult]:
    """Mutate the code of each control (all implemented controls with ``code:`` references,
    or ``controls``) and run its referenced tests against every mutant."""
    model = validated.model
    wanted = set(controls)
    unknown = wanted - {c.id for c in model.controls}
    if unknown:
        raise RiskgridError(f"--control: unknown control(s) {', '.join(sorted(unknown))}")
    out: list[ControlResult] = []
    with tempfile.TemporaryDirectory(prefix="riskgrid-mutate-") as tmp:
        shadow = Shadow(repo_root, Path(tmp))
        for c in model.controls:
            if wanted and c.id not in wanted:
                continue
            targets = [r.split(":", 1)[1].strip() for r in c.implementation
                       if r.startswith("code:")]  # fmt: skip
            if c.status.value != "implemented" or not targets:
                continue
            tests = sorted({v.node_id for v in validated.verifications if v.control == c.id})
            result = ControlResult(c.id, tests)
            mutants = mutants_for(c.id, targets, repo_root, per_control=per_control)
            for f in sorted({m.file for m in mutants} | {t.split("::", 1)[0] for t in tests}):
                result.files[f] = sha256_file(repo_root / f)
            for m in mutants:
                r = shadow.run(m, tests)
                result.results.append(r)
                if progress:
                    progress(r)
            out.append(result)
    return out


def mutation_targets(model: Any) -> list[str]:
    """Ids of the implemented controls that name ``code:`` to mutate."""
    return [
        c.id
        for c in model.controls
        if c.status.value == "implemented" and any(r.startswith("code:") for r in c.implementation)
    ]


def write_results(
    results: list[ControlResult],
    path: Path,
    *,
    commit: str | None,
    keep: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write ``results``, keeping ``keep`` (earlier results of other controls) beside them."""
    earlier = {cid: {k: v for k, v in rec.items() if k != "fresh"}
               for cid, rec in (keep or {}).items()}  # fmt: skip
    doc = {
        "schema": SCHEMA,
        "commit": commit,
        "controls": {**earlier, **{r.control: r.to_dict() for r in results}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_results(path: Path, repo_root: Path) -> dict[str, dict[str, Any]]:
    """Per control, the committed mutation result *if still fresh*: every source and test file
    it was made with is unchanged (``fresh: False`` otherwise, and the numbers are not used)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RiskgridError(f"{path}: not a readable mutation result: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise RiskgridError(f"{path}: not a {SCHEMA} file")
    out = {}
    for cid, rec in doc.get("controls", {}).items():
        fresh = all(
            (repo_root / f).is_file() and sha256_file(repo_root / f) == digest
            for f, digest in rec.get("files", {}).items()
        )
        out[cid] = {**rec, "fresh": fresh}
    return out
