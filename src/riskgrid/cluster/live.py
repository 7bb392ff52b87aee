"""Read a live cluster into a snapshot through the official kubernetes client.

Every resource of :data:`~riskgrid.cluster.resources.RESOURCES` is listed cluster-wide with
``limit``/``continue`` pagination (the API server's chunked list), so memory per request stays
bounded by the page size. Optional resources answer 404 where their CRD is not installed;
they are recorded as *not served*. A 410 (the continue token expired mid-list) restarts that
resource once from the beginning. Secrets are never requested.

What runs here: the requests, pagination, error handling and writing, against a recording
HTTP server on loopback (tests/cluster/test_cluster_live.py). What does not: a real API
server (authentication plugins, aggregated APIs, real page sizes) — docs/cluster.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from riskgrid.cluster.resources import RESOURCES, Resource
from riskgrid.cluster.snapshot import write_snapshot
from riskgrid.spec.errors import RiskgridError

DEFAULT_PAGE = 500


class SnapshotReadError(RiskgridError):
    """The API server could not be read (names the resource and the HTTP status)."""


Progress = Callable[[Resource, int], None]


def _list_all(api: Any, res: Resource, page: int, progress: Progress | None) -> list[dict]:
    from riskgrid.tenancy.apply import ApiError, call_api

    for attempt in (1, 2):
        items: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                query: list[tuple[str, Any]] = [("limit", page)]
                if token:
                    query.append(("continue", token))
                data, _ = call_api(
                    api,
                    res.path,
                    "GET",
                    query_params=query,
                    header_params={"Accept": "application/json"},
                )
                if isinstance(data, (str, bytes)):
                    data = json.loads(data)
                for item in data.get("items") or []:
                    # List items come without apiVersion/kind: the List's type says them.
                    item["apiVersion"] = res.api_version
                    item["kind"] = res.kind
                    items.append(item)
                if progress:
                    progress(res, len(items))
                token = (data.get("metadata") or {}).get("continue") or None
                if not token:
                    return items
        except ApiError as exc:
            if exc.status == 410 and attempt == 1:
                continue  # continue token expired: list again from the start, once
            raise
    raise AssertionError("unreachable")


def read_cluster(
    api: Any,
    *,
    page: int = DEFAULT_PAGE,
    progress: Progress | None = None,
) -> tuple[dict[Resource, list[dict[str, Any]]], list[str]]:
    """Objects of every resource, and the optional resources the server does not serve."""
    from riskgrid.tenancy.apply import ApiError

    out: dict[Resource, list[dict[str, Any]]] = {}
    not_served: list[str] = []
    for res in RESOURCES:
        try:
            out[res] = _list_all(api, res, page, progress)
        except ApiError as exc:
            if exc.status == 404 and res.optional:
                not_served.append(f"{res.api_version}/{res.plural}")
                continue
            raise SnapshotReadError(f"GET {res.path}: {exc}") from None
        except RiskgridError as exc:
            raise SnapshotReadError(f"GET {res.path}: {exc}") from None
    return out, not_served


def snapshot_cluster(
    directory: Path,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    cluster: str | None = None,
    page: int = DEFAULT_PAGE,
    progress: Progress | None = None,
    api: Any = None,
) -> Path:
    """Read the cluster and write a complete snapshot to ``directory`` (must not exist)."""
    from riskgrid.tenancy.apply import api_client

    api = api or api_client(kubeconfig, context)
    items, not_served = read_cluster(api, page=page, progress=progress)
    name = cluster or context or api.configuration.host
    return write_snapshot(directory, items, cluster=name, not_served=not_served)
