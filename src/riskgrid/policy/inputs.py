"""Read Kubernetes objects from files, directories (recursive), or stdin (``-``).

Multi-document YAML and JSON, ``List`` kinds (expanded) and ``helm template`` /
``kubectl kustomize`` output all arrive here. A document that cannot be parsed becomes an
:class:`InputError` naming file and document index; nothing is silently skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from riskgrid.policy.check import Document
from riskgrid.policy.report import InputError
from riskgrid.spec.yamlbounds import YamlLimitError, scan

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


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    return [path]


def parse_stream(text: str, source: str) -> tuple[list[Document], list[InputError]]:
    """Documents of one YAML/JSON stream; a parse error ends the stream at that document."""
    docs: list[Document] = []
    errors: list[InputError] = []
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
        for f in _files(path):
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(InputError(str(f), 0, f"cannot read: {exc}"))
                continue
            d, e = parse_stream(text, str(f))
            docs += d
            errors += e
    return docs, errors
