"""Read Kubernetes objects from files, directories (recursive), or stdin (``-``).

Multi-document YAML and JSON, ``List`` kinds (expanded) and ``helm template`` /
``kubectl kustomize`` output all arrive here. A document that cannot be parsed becomes an
:class:`InputError` naming file and document index; nothing is silently skipped.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from riskgrid.policy.check import Document
from riskgrid.policy.report import InputError
from riskgrid.spec.yamlbounds import MAX_DEPTH, YamlLimitError, scan

SUFFIXES = {".yaml", ".yml", ".json"}
#: Most nodes one input stream may expand to, aliases counted at their expanded size.
MAX_INPUT_NODES = 1_000_000


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml when the wheel has it (~10x faster on helm-sized streams), with timestamps kept
    as strings: Kubernetes objects carry them as strings, and the Rego engines take JSON."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LOADER = _Loader
_RESOLVERS = _Loader.yaml_implicit_resolvers
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CORE = "tag:yaml.org,2002:"


class _Fallback(Exception):
    """The stream needs the reference loader (or is malformed: it reports the error)."""


_MISS = object()
_NOKEY = object()


def _plain(value: str) -> Any:
    """A plain scalar as SafeLoader resolves and constructs it (null, bool, int, float, str);
    any other implicit tag (merge ``<<``, value ``=``) needs the reference loader."""
    candidates = _RESOLVERS.get(value[0] if value else "", []) + _RESOLVERS.get(None, [])
    tag = next((t for t, regexp in candidates if regexp.match(value)), None)
    if tag is None:
        return value
    if tag == _CORE + "str":
        return value
    if tag == _CORE + "null":
        return None
    if tag == _CORE + "bool":
        return _CONSTRUCTOR.bool_values[value.lower()]
    if tag == _CORE + "int":
        return _CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode(tag, value))
    if tag == _CORE + "float":
        return _CONSTRUCTOR.construct_yaml_float(yaml.ScalarNode(tag, value))
    raise _Fallback


def load_fast(
    text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_INPUT_NODES
) -> list[Any] | None:
    """Every document of ``text`` built straight from libyaml's event stream in one pass, or
    ``None`` when the stream needs the reference path (:func:`parse_stream`'s bounded scan and
    SafeLoader): explicit tags, merge keys, collection keys, an alias to an anchor that is
    not closed yet, a bound reached (nesting deeper than ``max_depth``, more than
    ``max_nodes`` nodes with aliases counted at their expanded size, as the scan counts them)
    or a parse error. What it returns equals what the reference path returns (tests compare
    them); it skips building PyYAML's node graph and its Python constructor, about half the
    file path. The bounds are the scan's own, so refusing is left to the path that reports it.
    """
    try:
        return _load_events(text, max_depth, max_nodes)
    except (_Fallback, yaml.YAMLError):
        return None


def _load_events(text: str, max_depth: int, max_nodes: int) -> list[Any]:
    # The cyclic collector would rescan the growing heap of fresh dicts and lists many times
    # per file (an acyclic tree: nothing for it to find); it is paused while building.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _build(text, max_depth, max_nodes)
    finally:
        if paused:
            gc.enable()


def _build(text: str, max_depth: int, max_nodes: int) -> list[Any]:
    loader = _LOADER(text)
    get_event = loader.get_event
    docs: list[Any] = []
    stack: list[Any] = []  # open collections, innermost last
    keys: list[Any] = []  # per open collection: the pending mapping key, or _NOKEY
    cache: dict[str, Any] = {}  # plain scalar text → value (immutable values only)
    root: Any = None
    nodes = 0
    anchors: dict[str, Any] = {}  # anchor → value, per document (as the composer keeps them)
    sizes: dict[str, int] = {}  # anchor → expanded node count, once its node is complete
    opened: list[tuple[str | None, int]] = []  # per open collection: (anchor, nodes before)
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    try:
        while True:
            ev = get_event()
            cls = ev.__class__
            if cls is scalar_event:
                tag = ev.tag
                if tag is None and ev.implicit[0]:
                    item = cache.get(ev.value, _MISS)
                    if item is _MISS:
                        item = cache[ev.value] = _plain(ev.value)
                elif tag is None or tag == "!":
                    item = ev.value
                else:
                    raise _Fallback
                is_collection = False
                size = 1
                if ev.anchor is not None:
                    anchors[ev.anchor] = item
                    sizes[ev.anchor] = 1
            elif cls is mapping_start or cls is sequence_start:
                if ev.tag not in (None, "!") or len(stack) >= max_depth:
                    raise _Fallback
                item = {} if cls is mapping_start else []
                is_collection = True
                size = 1
                opened.append((ev.anchor, nodes))
                if ev.anchor is not None:
                    anchors[ev.anchor] = item
            elif cls in collection_end:
                stack.pop()
                keys.pop()
                anchor, before = opened.pop()
                if anchor is not None:
                    sizes[anchor] = nodes - before
                continue
            elif cls is yaml.AliasEvent:
                if ev.anchor not in sizes:
                    raise _Fallback  # undefined, or its node is still open (recursive)
                item = anchors[ev.anchor]
                is_collection = False
                size = sizes[ev.anchor]
            elif cls is yaml.DocumentEndEvent:
                docs.append(root)
                root = None
                anchors.clear()
                sizes.clear()
                continue
            elif cls is yaml.StreamEndEvent:
                return docs
            elif cls is yaml.DocumentStartEvent or cls is yaml.StreamStartEvent:
                continue
            else:
                raise _Fallback
            nodes += size
            if nodes > max_nodes:
                raise _Fallback
            if not stack:
                root = item
            else:
                parent = stack[-1]
                if parent.__class__ is list:
                    parent.append(item)
                elif keys[-1] is _NOKEY:
                    if is_collection or isinstance(item, list | dict):
                        raise _Fallback  # a mapping or sequence as a key
                    keys[-1] = item
                else:
                    parent[keys[-1]] = item
                    keys[-1] = _NOKEY
            if is_collection:
                stack.append(item)
                keys.append(_NOKEY)
    finally:
        loader.dispose()


def files_of(path: Path) -> list[Path]:
    """The files a path names: itself, or every *.yaml/*.yml/*.json below a directory."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    return [path]


def parse_stream(text: str, source: str) -> tuple[list[Document], list[InputError]]:
    """Documents of one YAML/JSON stream; a parse error ends the stream at that document."""
    docs: list[Document] = []
    errors: list[InputError] = []
    fast = load_fast(text)
    if fast is not None:
        for index, obj in enumerate(fast):
            if obj is not None:
                docs.extend(_expand(obj, source, index))
        return docs, errors
    index = 0
    try:  # aliases allowed (manifests use them) but capped, depth bounded: spec/yamlbounds.py
        scan(text, aliases=True, max_nodes=MAX_INPUT_NODES)
    except YamlLimitError as exc:
        return docs, [InputError(source, 0, f"refused: {exc}")]
    except yaml.YAMLError:
        pass  # reported below, document by document
    loader = _LOADER(text)
    try:
        while loader.check_data():
            try:
                obj = loader.get_data()
            except (yaml.YAMLError, ValueError) as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {mark.line + 1}: " if mark else ""
                reason = getattr(exc, "problem", None) or str(exc)
                errors.append(InputError(source, index, f"unparseable YAML: {where}{reason}"))
                break
            if obj is not None:
                docs.extend(_expand(obj, source, index))
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        errors.append(InputError(source, index, f"unparseable YAML: {where}{exc}"))
    finally:
        loader.dispose()
    return docs, errors


def _expand(obj: object, source: str, index: int) -> Iterable[Document]:
    if isinstance(obj, dict) and obj.get("kind") == "List" and isinstance(obj.get("items"), list):
        return [
            Document(f"{source}[{index}].items", j, item) for j, item in enumerate(obj["items"])
        ]
    return [Document(source, index, obj)]


def read_inputs(paths: list[str]) -> tuple[list[Document], list[InputError]]:
    docs: list[Document] = []
    errors: list[InputError] = []
    for raw in paths:
        if raw == "-":
            d, e = parse_stream(sys.stdin.read(), "<stdin>")
            docs += d
            errors += e
            continue
        path = Path(raw)
        if not path.exists():
            errors.append(InputError(raw, 0, "no such file or directory"))
            continue
        for f in files_of(path):
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(InputError(str(f), 0, f"cannot read: {exc}"))
                continue
            d, e = parse_stream(text, str(f))
            docs += d
            errors += e
    return docs, errors
