"""Read Kubernetes objects from files, directories (recursive), or stdin (``-``).

Multi-document YAML and JSON, ``List`` kinds (expanded) and ``helm template`` /
``kubectl kustomize`` output all arrive here. A document that cannot be parsed becomes an
:class:`InputError` naming file and document index; nothing is silently skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from riskgrid.policy.check import Document
from riskgrid.policy.gcpause import gc_paused, without_gc
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
#: Implicit resolvers to try per first character of a plain scalar (built on first use).
_CANDIDATES: dict[str, list[Any]] = {}


def _plain(value: str) -> Any:
    """A plain scalar as SafeLoader resolves and constructs it (null, bool, int, float, str);
    any other implicit tag (merge ``<<``, value ``=``) needs the reference loader."""
    first = value[:1]
    candidates = _CANDIDATES.get(first)
    if candidates is None:  # SafeLoader's order: the first character's resolvers, then None's
        candidates = _CANDIDATES[first] = _RESOLVERS.get(first, []) + _RESOLVERS.get(None, [])
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
    with gc_paused():
        return _build(text, max_depth, max_nodes)


def _build(text: str, max_depth: int, max_nodes: int) -> list[Any]:
    """Recursive descent over the event stream: a mapping or sequence reads its own items
    (scalars inline, nested collections by recursion, at most ``max_depth`` deep: far inside
    Python's recursion limit), so no explicit stack of open collections and pending keys is
    kept per event. Node counts are checked at each alias and each collection's end: counts
    only grow, so the verdict is the per-node check's, and what is built past the bound
    before the check is bounded by the text itself (only aliases multiply, and they are
    checked at once)."""
    loader = _LOADER(text)
    get_event = loader.get_event
    cache: dict[str, Any] = {}  # plain scalar text → value (immutable values only)
    anchors: dict[str, Any] = {}  # anchor → value, per document (as the composer keeps them)
    sizes: dict[str, int] = {}  # anchor → expanded node count, once its node is complete
    nodes = 0
    scalar_event = yaml.ScalarEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end, alias_event = (
        yaml.MappingEndEvent,
        yaml.SequenceEndEvent,
        yaml.AliasEvent,
    )

    def scalar(ev: Any) -> Any:
        tag = ev.tag
        if tag is None and ev.implicit[0]:
            item = cache.get(ev.value, _MISS)
            if item is _MISS:
                item = cache[ev.value] = _plain(ev.value)
        elif tag is None or tag == "!":
            item = ev.value
        else:
            raise _Fallback
        if ev.anchor is not None:
            anchors[ev.anchor] = item
            sizes[ev.anchor] = 1
        return item

    def alias(ev: Any) -> Any:
        nonlocal nodes
        if ev.anchor not in sizes:
            raise _Fallback  # undefined, or its node is still open (recursive)
        nodes += sizes[ev.anchor]
        if nodes > max_nodes:
            raise _Fallback
        return anchors[ev.anchor]

    def node(ev: Any, depth: int) -> Any:
        """The value of the node ``ev`` starts (its events consumed); ``depth``: collections
        open around it."""
        nonlocal nodes
        cls = ev.__class__
        if cls is scalar_event:
            nodes += 1
            return scalar(ev)
        if cls is alias_event:
            return alias(ev)
        if cls is not mapping_start and cls is not sequence_start:
            raise _Fallback
        if ev.tag not in (None, "!") or depth >= max_depth:
            raise _Fallback
        before = nodes
        nodes += 1
        item: Any = mapping(ev, depth + 1) if cls is mapping_start else sequence(ev, depth + 1)
        if nodes > max_nodes:
            raise _Fallback
        if ev.anchor is not None:
            sizes[ev.anchor] = nodes - before
        return item

    def mapping(start: Any, depth: int) -> dict[Any, Any]:
        nonlocal nodes
        out: dict[Any, Any] = {}
        if start.anchor is not None:
            anchors[start.anchor] = out
        while True:
            ev = get_event()
            cls = ev.__class__
            if cls is scalar_event:
                nodes += 1
                if ev.tag is None and ev.implicit[0] and ev.anchor is None:
                    key = cache.get(ev.value, _MISS)
                    if key is _MISS:
                        key = cache[ev.value] = _plain(ev.value)
                else:
                    key = scalar(ev)
            elif cls is mapping_end:
                return out
            elif cls is alias_event:
                key = alias(ev)
                if isinstance(key, list | dict):
                    raise _Fallback  # a mapping or sequence as a key
            else:
                raise _Fallback  # a mapping or sequence as a key
            ev = get_event()
            cls = ev.__class__
            if cls is alias_event or ev.tag is not None or ev.anchor is not None:
                out[key] = node(ev, depth)
            elif cls is scalar_event:
                nodes += 1
                if ev.implicit[0]:
                    value = cache.get(ev.value, _MISS)
                    if value is _MISS:
                        value = cache[ev.value] = _plain(ev.value)
                    out[key] = value
                else:
                    out[key] = ev.value
            elif cls is mapping_start and depth < max_depth:
                nodes += 1  # (an untagged, unanchored mapping: `node` without its checks)
                out[key] = mapping(ev, depth + 1)
                if nodes > max_nodes:
                    raise _Fallback
            else:
                out[key] = node(ev, depth)

    def sequence(start: Any, depth: int) -> list[Any]:
        nonlocal nodes
        out: list[Any] = []
        if start.anchor is not None:
            anchors[start.anchor] = out
        append = out.append
        while True:
            ev = get_event()
            cls = ev.__class__
            if cls is sequence_end:
                return out
            if cls is scalar_event and ev.tag is None and ev.anchor is None:
                nodes += 1
                if ev.implicit[0]:
                    value = cache.get(ev.value, _MISS)
                    if value is _MISS:
                        value = cache[ev.value] = _plain(ev.value)
                    append(value)
                else:
                    append(ev.value)
            else:
                append(node(ev, depth))

    docs: list[Any] = []
    try:
        while True:
            ev = get_event()
            cls = ev.__class__
            if cls is yaml.DocumentStartEvent:
                ev = get_event()
                empty = ev.__class__ is yaml.DocumentEndEvent
                root = None if empty else node(ev, 0)
                if not empty and get_event().__class__ is not yaml.DocumentEndEvent:
                    raise _Fallback
                docs.append(root)
                anchors.clear()
                sizes.clear()
            elif cls is yaml.StreamEndEvent:
                return docs
            elif cls is not yaml.StreamStartEvent:
                raise _Fallback
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


@without_gc
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
