"""Snapshots built from rendered bundles plus synthetic pods with addresses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskgrid.cluster.snapshot import write_objects
from riskgrid.spec.tenant import load_tenants
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.render import render_tenants

ROOT = Path(__file__).resolve().parents[2]
TENANT_FILES = [ROOT / "examples/tenants/eq-vol.yaml", ROOT / "examples/tenants/fx-options.yaml"]


def pod(
    ns: str, name: str, ip: str | None, labels: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "x"}, **extra},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.example/x@sha256:" + "a" * 64,
                    "ports": [{"containerPort": 8080}],
                }
            ]
        },
        "status": {"phase": "Running"},
    }
    if ip:
        obj["status"]["podIP"] = ip
        obj["status"]["podIPs"] = [{"ip": ip}]
    return obj


def rendered_world() -> tuple[list[Any], list[dict[str, Any]]]:
    tenants = load_tenants(TENANT_FILES)
    objs = [
        o
        for o in render_platform(tenants) + render_tenants(tenants)
        if "gatekeeper.sh" not in o["apiVersion"]
    ]
    return tenants, objs


def live_copy(obj: dict[str, Any], i: int) -> dict[str, Any]:
    """What the API server returns: the object plus server-set fields."""
    import copy

    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta.update(
        uid=f"uid-{i}",
        resourceVersion=str(1000 + i),
        creationTimestamp="2026-11-29T05:00:00Z",
        managedFields=[{"manager": "riskgrid"}],
    )
    out["status"] = out.get("status") or {"observed": True}
    return out


def snapshot_dir(tmp: Path, objects: list[dict[str, Any]], name: str = "snap") -> Path:
    return write_objects(tmp / name, objects, cluster="test", created="2026-11-29T05:40:00Z")
