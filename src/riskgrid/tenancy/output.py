"""Writing bundles to disk: deterministic file names, all-or-nothing.

The bundle is written into a fresh temporary directory next to the target and renamed into
place only when every file is written, so a failure never leaves a half-written bundle.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml

from riskgrid.spec.errors import RiskgridError
from riskgrid.tenancy.ordering import ordered

Layout = Literal["object", "kind"]
#: Written into every bundle directory; only a directory holding it (or an empty one) is ever
#: replaced, so ``-o ~`` cannot delete someone's home directory.
MARKER = ".riskgrid-bundle"


class _NoAliasDumper(yaml.SafeDumper):
    """Plain YAML: no ``&id001`` anchors even when two fields share a value."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(objects: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML, keys in rendering order (stable and readable)."""
    return yaml.dump_all(
        list(objects), Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False
    )


def _file_name(index: int, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    parts = [obj.get("kind", "object").lower()]
    if meta.get("namespace"):
        parts.append(meta["namespace"])
    parts.append(meta.get("name", "unnamed"))
    return f"{index:03d}-{'_'.join(parts)}.yaml"


def bundle_files(objects: list[dict[str, Any]], layout: Layout = "object") -> dict[str, str]:
    """File name → YAML text for the bundle in ``layout`` (one file per object or per kind)."""
    objs = ordered(objects)
    if layout == "object":
        return {_file_name(i, o): dump_yaml([o]) for i, o in enumerate(objs)}
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    first: dict[str, int] = {}
    for i, o in enumerate(objs):
        kind = str(o.get("kind", "object")).lower()
        by_kind[kind].append(o)
        first.setdefault(kind, i)
    return {
        f"{n:02d}-{kind}.yaml": dump_yaml(by_kind[kind])
        for n, kind in enumerate(sorted(by_kind, key=first.__getitem__))
    }


def write_bundle(
    objects: list[dict[str, Any]], out_dir: Path, layout: Layout = "object"
) -> list[Path]:
    """Write the bundle into ``out_dir`` atomically; an existing ``out_dir`` is replaced."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RiskgridError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise RiskgridError(
            f"{out_dir}: directory is not empty and was not written by riskgrid; "
            "choose a new or empty output directory"
        )
    files = bundle_files(objects, layout)
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    except OSError as exc:
        raise RiskgridError(f"{out_dir}: cannot create output directory: {exc}") from None
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("written by riskgrid; replaced on the next render\n")
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=parent))
            old.rmdir()
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RiskgridError(f"{out_dir}: cannot write bundle: {exc}") from None
    return [out_dir / name for name in files]
