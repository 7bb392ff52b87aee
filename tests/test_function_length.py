"""No function in src/ grows past ~80 lines of its own logic without a written reason.

Length is counted by ``ast``: the lines from a function's first statement after its docstring
to its last, less the functions and classes defined inside it (each is counted on its own), so a
long signature of CLI options or a docstring does not count, and a ``register`` function that
only holds its commands is judged by its own lines. A function over the limit must be split
along its steps, or be listed in ``ALLOWED`` with the reason it stays whole.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIMIT = 80
SRC = Path(__file__).resolve().parents[1] / "src"

#: ``module:function`` → why it stays over the limit. Keep this list short and the reasons true.
ALLOWED: dict[str, str] = {
    "riskgrid.netpol.synthetic:tenant_objects": (
        "a data literal: the manifests of a synthetic tenant, one dict after another"
    ),
    "riskgrid.threats.report:render_html": "an HTML template filled in order, no branching logic",
}


def _own_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        body = body[1:]
    if not body:
        return 0
    lines = (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1
    inner = [
        node
        for stmt in body
        for node in ast.walk(stmt)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    outermost = [
        node
        for node in inner
        if not any(
            other is not node
            and other.lineno <= node.lineno
            and (node.end_lineno or 0) <= (other.end_lineno or 0)
            for other in inner
        )
    ]
    return lines - sum((n.end_lineno or n.lineno) - n.lineno + 1 for n in outermost)


def long_functions() -> dict[str, int]:
    """``module:function`` → own lines, for every function over :data:`LIMIT` in src/."""
    found: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _own_lines(node)
                if n > LIMIT:
                    found[f"{module}:{node.name}"] = n
    return found


def test_no_new_long_functions() -> None:
    new = {name: n for name, n in long_functions().items() if name not in ALLOWED}
    assert new == {}, f"functions over {LIMIT} lines: split them along their steps: {new}"


def test_allowlist_has_no_stale_entries() -> None:
    """An entry whose function was split (or renamed) must leave the list."""
    assert sorted(set(ALLOWED) - set(long_functions())) == []


def test_the_counter_sees_a_long_function_and_ignores_nested_ones() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT + 1))
    inner = "\n".join(f"        y{i} = {i}" for i in range(LIMIT + 1))
    source = f'def long():\n    """doc"""\n{body}\n\ndef outer():\n    def inner():\n{inner}\n'
    tree = ast.parse(source)
    long, outer = tree.body
    assert isinstance(long, ast.FunctionDef) and isinstance(outer, ast.FunctionDef)
    assert _own_lines(long) == LIMIT + 1
    assert _own_lines(outer) == 0
