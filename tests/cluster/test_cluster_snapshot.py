"""The snapshot format: round trip, and every kind of bad input named and marked partial."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from cluster_helpers import live_copy, pod, rendered_world, snapshot_dir

from riskgrid.cluster.snapshot import MANIFEST, load_snapshot
from riskgrid.spec.errors import SpecError


def test_round_trip_keeps_objects_and_drops_secrets_and_managed_fields(tmp_path: Path) -> None:
    _, objs = rendered_world()
    live = [live_copy(o, i) for i, o in enumerate(objs)]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "a"},
        "data": {"k": "c2VjcmV0"},
    }
    from riskgrid.cluster.resources import RESOURCES
    from riskgrid.cluster.snapshot import write_snapshot

    groups = {
        r: [o for o in live if (o["apiVersion"], o["kind"]) == (r.api_version, r.kind)]
        for r in RESOURCES
    }
    v1_pods = next(r for r in RESOURCES if r.kind == "Pod")
    groups[v1_pods] = [pod("eq-vol", "p", "10.0.0.1"), secret]  # a list answer gone wrong
    path = write_snapshot(tmp_path / "s", groups, cluster="prod-1")
    snap = load_snapshot([path])
    assert not snap.partial, snap.problems
    assert snap.cluster == "prod-1"
    refs = {o.ref for o in snap.objects}
    assert "Pod/eq-vol/p" in refs
    assert not any(o.obj["kind"] == "Secret" for o in snap.objects)
    assert "c2VjcmV0" not in "".join(p.read_text() for p in path.rglob("*.jsonl"))
    assert all("managedFields" not in o.obj["metadata"] for o in snap.objects)
    assert len(snap.objects) == len(objs) + 1
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["version"] == 1 and manifest["complete"] is True
    assert sum(k["count"] for k in manifest["kinds"]) == len(objs) + 1


def test_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    with pytest.raises(SpecError, match="already exists"):
        snapshot_dir(tmp_path, [pod("a", "p", None)])


def test_truncated_file_is_named_and_partial(tmp_path: Path) -> None:
    path = snapshot_dir(tmp_path, [pod("a", f"p{i}", f"10.0.0.{i}") for i in range(1, 6)])
    f = path / "objects/v1_pods.jsonl"
    text = f.read_text()
    f.write_text(text[: len(text) * 2 // 3])
    snap = load_snapshot([path])
    assert snap.partial
    messages = [str(p) for p in snap.problems]
    assert any("v1_pods.jsonl" in m and ("truncated" in m) for m in messages), messages
    assert "PARTIAL ANALYSIS" in snap.banner()
    loaded = [o.ref for o in snap.objects]
    assert loaded[:2] == ["Pod/a/p1", "Pod/a/p2"] and len(loaded) < 5  # what loaded is kept


def test_file_from_another_snapshot_is_refused(tmp_path: Path) -> None:
    a = snapshot_dir(tmp_path, [pod("a", "p", "10.0.0.1")], "a")
    b = snapshot_dir(tmp_path, [pod("b", "q", "10.0.0.2")], "b")
    shutil.copy(b / "objects/v1_pods.jsonl", a / "objects/v1_pods.jsonl")
    snap = load_snapshot([a])
    assert [o.ref for o in snap.objects if o.obj["kind"] == "Pod"] == []
    assert any("mixed snapshot" in str(p) and "v1_pods.jsonl" in str(p) for p in snap.problems)


def test_unsupported_version_stops_with_the_field(tmp_path: Path) -> None:
    path = snapshot_dir(tmp_path, [pod("a", "p", "10.0.0.1")])
    m = json.loads((path / MANIFEST).read_text())
    m["version"] = 2
    (path / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(SpecError) as err:
        load_snapshot([path])
    assert "manifest.json: version: snapshot format version 2 is not supported" in str(err.value)


def test_truncated_manifest_stops(tmp_path: Path) -> None:
    path = snapshot_dir(tmp_path, [pod("a", "p", "10.0.0.1")])
    (path / MANIFEST).write_text((path / MANIFEST).read_text()[:40])
    with pytest.raises(SpecError, match="not JSON"):
        load_snapshot([path])


def test_kubectl_list_dump_with_unknown_kind(tmp_path: Path) -> None:
    dump = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            pod("a", "p", "10.0.0.1"),
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        ],
    }
    f = tmp_path / "dump.yaml"
    f.write_text(yaml.safe_dump(dump))
    snap = load_snapshot([f])
    assert [o.ref for o in snap.objects] == ["Pod/a/p"]
    assert snap.partial and not snap.complete
    assert any("Widget/w: unknown kind Widget" in str(p) for p in snap.problems)


def test_object_of_the_wrong_kind_in_a_file(tmp_path: Path) -> None:
    path = snapshot_dir(tmp_path, [pod("a", "p", "10.0.0.1")])
    f = path / "objects/v1_pods.jsonl"
    lines = f.read_text().splitlines()
    obj = json.loads(lines[1])
    obj["kind"] = "Service"
    lines[1] = json.dumps(obj)
    f.write_text("\n".join(lines) + "\n")
    snap = load_snapshot([path])
    assert any("Service/a/p: v1 Service in a file of Pod" in str(p) for p in snap.problems)
