"""The cluster snapshot: a versioned directory of objects, and ``kubectl get -o yaml`` dumps.

Layout (format version 1, docs/cluster.md)::

    DIR/manifest.json          {"format": "riskgrid-cluster-snapshot", "version": 1,
                                "snapshotId", "cluster", "createdAt", "complete",
                                "kinds": [{"apiVersion", "kind", "file", "count", "sha256"}],
                                "notServed"}
    DIR/objects/<group>_<version>_<plural>.jsonl
                               JSON Lines: line 1 a ``List`` header whose
                               metadata.annotations carry the snapshot id and format version,
                               then one object per line in API order (JSON, not YAML: 50,000
                               pods load in seconds, and a cut file loses only its last line)

Loading checks every file against the manifest: a wrong or missing version, a file from
another snapshot (mixed), a digest or object count that differs from the manifest's
(truncated or edited), an object of
another kind than its file, or an unknown kind is a :class:`~riskgrid.spec.errors.Problem`
naming the file and object. Such problems do not stop the load: the snapshot is marked
*partial* and every analysis says so (D-#16.3). A manifest that cannot be read stops it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from riskgrid.cluster.resources import FORBIDDEN_KINDS, KNOWN, Resource
from riskgrid.policy.check import Document
from riskgrid.policy.inputs import parse_stream
from riskgrid.policy.report import InputError
from riskgrid.spec.errors import Problem, SpecError

FORMAT = "riskgrid-cluster-snapshot"
VERSION = 1
MANIFEST = "manifest.json"
ID_ANNOTATION = "riskgrid.io/snapshot-id"
VERSION_ANNOTATION = "riskgrid.io/snapshot-version"
#: Annotations that can carry whole objects (a Secret's data via kubectl apply): dropped.
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


@dataclass(frozen=True)
class SnapshotObject:
    """One object and where it came from (``file`` and index, for messages)."""

    source: str
    index: int
    obj: dict[str, Any]

    @property
    def ref(self) -> str:
        return object_ref(self.obj)


def object_ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')}/{ns + '/' if ns else ''}{meta.get('name', '?')}"


@dataclass
class Snapshot:
    cluster: str
    created: str
    objects: list[SnapshotObject] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: True when the snapshot (or the dump) is incomplete: analyses must say so.
    complete: bool = True
    source: str = ""
    #: Optional resources the server did not serve (CRD not installed).
    not_served: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.problems) or not self.complete

    def dicts(self) -> list[dict[str, Any]]:
        return [o.obj for o in self.objects]

    def banner(self) -> str:
        """One line for the top of every report on a partial snapshot (empty when complete)."""
        if not self.partial:
            return ""
        why = f"{len(self.problems)} problem(s) in the input" if self.problems else "incomplete"
        return f"PARTIAL ANALYSIS: snapshot {self.source} is {why}; results cover only what loaded"


def sanitize(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a snapshot keeps it: no managedFields, no last-applied copy."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    ann = meta.get("annotations")
    if isinstance(ann, dict) and any(a in ann for a in _DROPPED_ANNOTATIONS):
        meta["annotations"] = {k: v for k, v in ann.items() if k not in _DROPPED_ANNOTATIONS}
    return {**obj, "metadata": meta}


# ------------------------------------------------------------------------------ writing


def write_snapshot(
    directory: Path,
    items: Mapping[Resource, Iterable[dict[str, Any]]],
    *,
    cluster: str,
    complete: bool = True,
    not_served: Iterable[str] = (),
    created: str | None = None,
) -> Path:
    """Write a snapshot atomically: into a temporary sibling, then renamed into place.

    ``directory`` must not exist yet (nothing is overwritten, nothing half-written is left).
    """
    if directory.exists():
        raise SpecError.one(str(directory), "already exists; snapshots are never overwritten")
    directory.parent.mkdir(parents=True, exist_ok=True)
    snap_id = str(uuid.uuid4())
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        (tmp / "objects").mkdir()
        kinds = []
        for res, objs in items.items():
            clean = [sanitize(o) for o in objs if o.get("kind", res.kind) not in FORBIDDEN_KINDS]
            for o in clean:
                o.setdefault("apiVersion", res.api_version)
                o.setdefault("kind", res.kind)
            header = {
                "apiVersion": "v1",
                "kind": "List",
                "metadata": {
                    "annotations": {ID_ANNOTATION: snap_id, VERSION_ANNOTATION: str(VERSION)}
                },
            }
            rel = f"objects/{res.key}.jsonl"
            text = "".join(
                json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n"
                for o in (header, *clean)
            )
            (tmp / rel).write_text(text, encoding="utf-8")
            kinds.append(
                {
                    "apiVersion": res.api_version,
                    "kind": res.kind,
                    "file": rel,
                    "count": len(clean),
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                }
            )
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "snapshotId": snap_id,
            "cluster": cluster,
            "createdAt": created or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "complete": complete,
            "kinds": kinds,
            "notServed": sorted(not_served),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, directory)
    except BaseException:
        for p in sorted(tmp.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        tmp.rmdir()
        raise
    return directory


# ------------------------------------------------------------------------------ reading


def _manifest(path: Path) -> dict[str, Any]:
    src = str(path / MANIFEST)
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.one(src, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError.one(src, f"not JSON (truncated?): line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecError.one(src, f"not a riskgrid cluster snapshot manifest (format != {FORMAT})")
    if data.get("version") != VERSION:
        raise SpecError.one(
            src,
            f"snapshot format version {data.get('version')!r} is not supported "
            f"(this riskgrid reads version {VERSION})",
            ("version",),
        )
    for key in ("snapshotId", "cluster", "createdAt", "kinds"):
        if key not in data:
            raise SpecError.one(src, "required", (key,))
    if not isinstance(data["kinds"], list):
        raise SpecError.one(src, "must be a list", ("kinds",))
    return data


def _check_object(snap: Snapshot, so: SnapshotObject, want: tuple[str, str] | None) -> bool:
    """Problems of one object; False when it must not be analysed."""
    obj = so.obj
    where = f"{so.source}[{so.index}]"
    if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
        snap.problems.append(Problem(where, (), "not a Kubernetes object (kind/apiVersion)"))
        return False
    pair = (str(obj["apiVersion"]), str(obj["kind"]))
    if obj["kind"] in FORBIDDEN_KINDS:
        snap.problems.append(
            Problem(where, ("kind",), f"{so.ref}: Secrets are never read into a snapshot; dropped")
        )
        return False
    if want is not None and pair != want:
        snap.problems.append(
            Problem(where, ("kind",), f"{so.ref}: {pair[0]} {pair[1]} in a file of {want[1]}")
        )
        return False
    if pair not in KNOWN:
        snap.problems.append(
            Problem(
                where,
                ("kind",),
                f"{so.ref}: unknown kind {pair[1]} ({pair[0]}); not analysed",
            )
        )
        return False
    return True


def _load_dir(path: Path) -> Snapshot:
    man = _manifest(path)
    snap = Snapshot(
        cluster=str(man["cluster"]),
        created=str(man["createdAt"]),
        complete=bool(man.get("complete", False)),
        source=str(path),
        not_served=list(man.get("notServed") or []),
    )
    listed = set()
    for i, entry in enumerate(man["kinds"]):
        msrc = str(path / MANIFEST)
        if not isinstance(entry, dict) or not {"apiVersion", "kind", "file", "count"} <= set(entry):
            snap.problems.append(Problem(msrc, ("kinds", i), "needs apiVersion, kind, file, count"))
            continue
        rel = str(entry["file"])
        listed.add(rel)
        fpath = path / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            snap.problems.append(Problem(msrc, ("kinds", i, "file"), "must stay inside the dir"))
            continue
        try:
            text = fpath.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            snap.problems.append(Problem(str(fpath), (), f"cannot read: {exc}"))
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if entry.get("sha256") not in (None, digest):
            snap.problems.append(
                Problem(
                    str(fpath),
                    (),
                    "content does not match the manifest's sha256: truncated or edited "
                    "(what still parses is analysed)",
                )
            )
        if fpath.suffix == ".jsonl":
            header, docs, errors = _parse_jsonl(text, str(fpath))
        else:
            docs, errors = parse_stream(text, str(fpath))
            header = _list_header(text)
        for e in errors:
            snap.problems.append(Problem(e.source, (e.document,), f"{e.message} (truncated?)"))
        ann = ((header or {}).get("metadata") or {}).get("annotations") or {}
        if ann.get(ID_ANNOTATION) != man["snapshotId"] or ann.get(VERSION_ANNOTATION) != str(
            VERSION
        ):
            snap.problems.append(
                Problem(
                    str(fpath),
                    ("metadata", "annotations"),
                    f"belongs to another snapshot (id {ann.get(ID_ANNOTATION)!r}, version "
                    f"{ann.get(VERSION_ANNOTATION)!r}; manifest says {man['snapshotId']!r}, "
                    f"{VERSION}): mixed snapshot, file not analysed",
                )
            )
            continue
        want = (str(entry["apiVersion"]), str(entry["kind"]))
        kept = 0
        for d in docs:
            so = SnapshotObject(d.source, d.index, d.obj)
            if _check_object(snap, so, want):
                snap.objects.append(so)
            kept += 1
        if kept != entry["count"]:
            snap.problems.append(
                Problem(
                    str(fpath),
                    (),
                    f"holds {kept} {entry['kind']} object(s), manifest counted {entry['count']}: "
                    "truncated or edited",
                )
            )
    objects_dir = path / "objects"
    if objects_dir.is_dir():
        for extra in sorted(objects_dir.iterdir()):
            if f"objects/{extra.name}" not in listed:
                snap.problems.append(
                    Problem(str(extra), (), "not listed in the manifest: not analysed")
                )
    return snap


def _parse_jsonl(
    text: str, source: str
) -> tuple[dict[str, Any] | None, list[Document], list[InputError]]:
    """Header line, then one object per line; a line that does not parse is an error (a
    truncated file loses its last object only)."""
    header: dict[str, Any] | None = None
    docs: list[Document] = []
    errors: list[InputError] = []
    for n, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(InputError(source, n, f"line {n + 1}: not JSON: {exc.msg}"))
            continue
        if n == 0:
            header = obj if isinstance(obj, dict) else None
        else:
            docs.append(Document(source, n, obj))
    return header, docs, errors


def _list_header(text: str) -> dict[str, Any] | None:
    """The ``List`` wrapper's metadata, read without parsing the items again."""
    head = text.split("\nitems:", 1)[0]
    try:
        data = yaml.safe_load(head)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def load_dump(paths: Iterable[Path]) -> Snapshot:
    """``kubectl get … -o yaml`` output (``List`` kinds, multi-document YAML, JSON).

    A dump has no manifest: it is marked incomplete (nobody vouches that every kind the
    analysis needs was dumped), so reports on it carry the partial-analysis banner.
    """
    from riskgrid.policy.inputs import read_inputs

    paths = list(paths)
    docs, errors = read_inputs([str(p) for p in paths])
    snap = Snapshot(
        cluster="(kubectl dump)",
        created="",
        complete=False,
        source=", ".join(str(p) for p in paths),
    )
    for e in errors:
        snap.problems.append(Problem(e.source, (e.document,), e.message))
    for d in docs:
        so = SnapshotObject(d.source, d.index, d.obj)
        if _check_object(snap, so, None):
            snap.objects.append(so)
    return snap


def load_snapshot(paths: Iterable[Path]) -> Snapshot:
    """A snapshot directory (with ``manifest.json``) or kubectl dump files/directories."""
    paths = list(paths)
    if not paths:
        raise SpecError.one("snapshot", "no snapshot given")
    for p in paths:
        if not p.exists():
            raise SpecError.one(str(p), "no such file or directory")
    if len(paths) == 1 and paths[0].is_dir() and (paths[0] / MANIFEST).exists():
        snap = _load_dir(paths[0])
    elif any(p.is_dir() and (p / MANIFEST).exists() for p in paths):
        raise SpecError.one(str(paths[0]), "give one snapshot directory, or kubectl dumps only")
    else:
        snap = load_dump(paths)
    _duplicates(snap)
    return snap


def _duplicates(snap: Snapshot) -> None:
    seen: dict[tuple[str, str], str] = {}
    kept = []
    for so in snap.objects:
        key = (str(so.obj.get("apiVersion")), so.ref)
        if key in seen:
            snap.problems.append(
                Problem(
                    f"{so.source}[{so.index}]",
                    ("metadata", "name"),
                    f"{so.ref} also at {seen[key]}; first copy kept",
                )
            )
            continue
        seen[key] = f"{so.source}[{so.index}]"
        kept.append(so)
    snap.objects = kept


def write_objects(
    directory: Path, objects: Iterable[dict[str, Any]], *, cluster: str, created: str | None = None
) -> Path:
    """Write in-memory objects (rendered bundles, synthetic pods) as a complete snapshot."""
    from riskgrid.cluster.resources import RESOURCES

    by_pair = {(r.api_version, r.kind): r for r in RESOURCES}
    groups: dict[Resource, list[dict[str, Any]]] = {r: [] for r in RESOURCES}
    for obj in objects:
        res = by_pair.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if res is None:
            raise SpecError.one(object_ref(obj), "kind is not part of a snapshot", ("kind",))
        groups[res].append(obj)
    return write_snapshot(directory, groups, cluster=cluster, created=created)
