"""Bounded YAML: every YAML the platform reads is parsed through :func:`load_all`.

A YAML text can cost far more to consume than to send: one anchored map referenced n times
(``*a``) is n copies to everything that walks the result (quadratic in the upload's size), and
deep nesting overflows recursive consumers (libyaml's composer segfaults at ~100k levels).
Before anything is constructed, the text's event stream (libyaml's parser, iterative) is scanned
once: nesting depth is bounded, and aliases are either refused (formats that never need them:
jobs, market data, tenants, policy exceptions) or allowed up to a cap on the *expanded* node
count (Kubernetes manifests, which sometimes use anchors). Limits are documented in
docs/service.md ("Input limits").
"""

from __future__ import annotations

from typing import Any

import yaml

from riskgrid.spec.errors import SpecError

#: Deepest nesting of mappings/sequences accepted in any YAML or JSON document.
MAX_DEPTH = 64
#: Most nodes a document may expand to (aliases counted at their expanded size).
MAX_NODES = 2_000_000

_FAST = getattr(yaml, "CSafeLoader", None)


class YamlLimitError(ValueError):
    """The text exceeds a bound; the message says which (and where)."""


def _where(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def scan(
    text: str,
    *,
    aliases: bool = False,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> None:
    """Raise :class:`YamlLimitError` if ``text`` nests too deep, uses aliases where refused, or
    expands to too many nodes; malformed YAML raises ``yaml.YAMLError`` as the parser does."""
    depth = 0
    nodes = 0
    sizes: dict[str, int] = {}  # anchor → expanded node count
    open_: list[tuple[str | None, int]] = []  # (anchor, nodes before) per open collection
    for event in yaml.parse(text, Loader=_FAST or yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise YamlLimitError(f"{_where(event)}nested deeper than {max_depth} levels")
            open_.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, before = open_.pop()
            if anchor is not None:
                sizes[anchor] = nodes - before
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if not aliases:
                raise YamlLimitError(
                    f"{_where(event)}YAML aliases (*{event.anchor}) are not allowed in this file"
                )
            nodes += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.DocumentEndEvent):
            sizes.clear()  # anchors are per document
        if nodes > max_nodes:
            raise YamlLimitError(
                f"{_where(event)}document would expand to more than {max_nodes:,} nodes"
            )


def load_all(
    text: str,
    *,
    loader: type | None = None,
    aliases: bool = False,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> list[Any]:
    """All documents of ``text`` (``None`` for empty ones), after :func:`scan` passed."""
    scan(text, aliases=aliases, max_depth=max_depth, max_nodes=max_nodes)
    return list(yaml.load_all(text, Loader=loader or _FAST or yaml.SafeLoader))


def load_one(text: str, **kw: Any) -> Any:
    """The single document of ``text`` (``None`` if empty); bounds as :func:`load_all`."""
    docs = load_all(text, **kw)
    if len(docs) > 1:
        raise YamlLimitError(f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def load_spec_file(text: str, source: str, *, loader: type | None = None) -> list[Any]:
    """Documents of a spec file (no aliases), with errors as :class:`SpecError` naming it."""
    try:
        return load_all(text, loader=loader)
    except YamlLimitError as exc:
        raise SpecError.one(source, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError.one(source, f"malformed YAML: {where}{reason}") from None


def json_depth_ok(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value nests at most ``max_depth`` containers (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if d > max_depth:
            return False
        stack.extend((c, d + 1) for c in children if isinstance(c, dict | list))
    return True


def loads_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with a nesting bound: :class:`YamlLimitError` beyond ``max_depth``.

    The C decoder stops at Python's recursion limit with RecursionError (caught here); the
    iterative walk then enforces the much lower documented bound.
    """
    import json

    try:
        value = json.loads(data)
    except RecursionError:
        raise YamlLimitError(f"JSON nested deeper than {max_depth} levels") from None
    if not json_depth_ok(value, max_depth):
        raise YamlLimitError(f"JSON nested deeper than {max_depth} levels")
    return value
