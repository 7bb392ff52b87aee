"""Apply bundles to a cluster with server-side apply (the official Kubernetes client).

Each object is sent as ``PATCH <object path>?fieldManager=riskgrid&force=true`` with
``Content-Type: application/apply-patch+yaml`` — server-side apply, so a re-apply of the same
bundle is a no-op and fields other managers own are left alone (``force`` takes ownership of
the fields riskgrid renders: a tenant bundle is riskgrid's to define). ``dry_run=True`` adds
``dryRun=All``: the API server runs admission (Gatekeeper, PSA, CEL) and returns the result
without persisting it. Objects go in :mod:`~riskgrid.tenancy.ordering` order and the first
failure stops the run, so nothing is applied after a prerequisite failed.

Paths are computed from a table of the kinds riskgrid renders, not by API discovery, so that
a dry run needs nothing but the object endpoints. This module has only been exercised
against a loopback HTTP server that records requests (tests/tenancy), never a real cluster.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.errors import RiskgridError
from riskgrid.tenancy.ordering import object_ref, ordered
from riskgrid.tenancy.output import dump_yaml

FIELD_MANAGER = "riskgrid"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

#: kind → (plural, namespaced) for everything riskgrid renders.
_RESOURCES: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "ResourceQuota": ("resourcequotas", True),
    "LimitRange": ("limitranges", True),
    "ServiceAccount": ("serviceaccounts", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "NetworkPolicy": ("networkpolicies", True),
    "Tier": ("tiers", False),
    "GlobalNetworkPolicy": ("globalnetworkpolicies", False),
    "ClusterQueue": ("clusterqueues", False),
    "LocalQueue": ("localqueues", True),
    "ResourceFlavor": ("resourceflavors", False),
    "RayCluster": ("rayclusters", True),
    "RayJob": ("rayjobs", True),
    "ConstraintTemplate": ("constrainttemplates", False),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
}
# Fields the server adds that say nothing about what riskgrid asked for.
_SERVER_META = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation")


class ApplyError(RiskgridError):
    """The API server refused an object (or could not be reached)."""


def resource_path(obj: dict[str, Any]) -> str:
    """REST path of one object, e.g. ``/apis/ray.io/v1/namespaces/eq-vol/rayclusters/ray``."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise ApplyError(f"{object_ref(obj)}: metadata.name is missing")
    if kind in _RESOURCES:
        plural, namespaced = _RESOURCES[kind]
    elif api_version.startswith("constraints.gatekeeper.sh/"):
        plural, namespaced = kind.lower(), False  # Gatekeeper's generated constraint CRDs
    else:
        raise ApplyError(f"{object_ref(obj)}: riskgrid does not know how to apply {kind}")
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced:
        ns = meta.get("namespace")
        if not ns:
            raise ApplyError(f"{object_ref(obj)}: metadata.namespace is missing")
        return f"{base}/namespaces/{ns}/{plural}/{name}"
    return f"{base}/{plural}/{name}"


@dataclass(frozen=True)
class Applied:
    object: str
    path: str
    status: int
    dry_run: bool


def _api_client(kubeconfig: str | None, context: str | None) -> Any:
    from kubernetes import config

    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except Exception as exc:  # the client raises ConfigException, TypeError, OSError...
        raise ApplyError(
            f"{kubeconfig or '~/.kube/config'}: cannot load kubeconfig: {exc}"
        ) from None


def _bearer(api: Any) -> str | None:
    """The kubeconfig's bearer token, refreshed (exec plugins such as ``aws eks get-token``).

    Set explicitly because kubernetes 36.0.0 looks the token up under ``BearerToken`` while its
    own kubeconfig loader stores it under ``authorization``, so the client would otherwise
    send requests anonymously (kubernetes-client/python#2582, #2584). Our loopback tests
    caught this: they assert the ``Authorization`` header.
    """
    conf = api.configuration
    if conf.refresh_api_key_hook is not None:
        conf.refresh_api_key_hook(conf)
    token = conf.api_key.get("BearerToken") or conf.api_key.get("authorization")
    if not token:
        return None
    prefix = conf.api_key_prefix.get("BearerToken") or conf.api_key_prefix.get("authorization")
    return f"{prefix} {token}" if prefix else token


def _call(api: Any, path: str, method: str, **kw: Any) -> tuple[Any, int]:
    from kubernetes.client.exceptions import ApiException

    headers = dict(kw.pop("header_params", {}) or {})
    token = _bearer(api)
    if token:
        headers["Authorization"] = token
    try:
        data, status, _ = api.call_api(
            path,
            method,
            header_params=headers,
            response_types_map={200: "object", 201: "object"},
            _return_http_data_only=False,
            **kw,
        )
    except ApiException as exc:
        raise ApiError(exc.status or 0, exc.reason or "", exc.body or "") from None
    except Exception as exc:  # urllib3 connection errors and the like
        raise ApplyError(f"{method} {path}: {exc}") from None
    return data, status


class ApiError(ApplyError):
    def __init__(self, status: int, reason: str, body: str):
        self.status = status
        super().__init__(f"HTTP {status} {reason}: {body[:500] if isinstance(body, str) else body}")


def server_side_apply(api: Any, obj: dict[str, Any], *, dry_run: bool) -> tuple[Any, int]:
    query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
    if dry_run:
        query.append(("dryRun", "All"))
    return _call(
        api,
        resource_path(obj),
        "PATCH",
        query_params=query,
        header_params={"Content-Type": APPLY_CONTENT_TYPE, "Accept": "application/json"},
        body=obj,
    )


def _apply_waiting_for_crd(api: Any, obj: dict[str, Any], *, dry_run: bool, wait_s: float) -> int:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    # Built-in groups are "" or end in ".k8s.io"; anything else may be a fresh CRD.
    custom = "." in group and not group.endswith(".k8s.io")
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return server_side_apply(api, obj, dry_run=dry_run)[1]
        except ApiError as exc:
            if not (custom and exc.status == 404) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def apply_objects(
    objects: Iterable[dict[str, Any]],
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    dry_run: bool = False,
    api: Any = None,
    progress: Callable[[Applied], None] | None = None,
    crd_wait_s: float = 60.0,
) -> list[Applied]:
    """Server-side apply every object in apply order; stops at the first refusal.

    A custom resource whose kind the server does not serve yet (404: its CRD was created a
    moment ago — Gatekeeper generates one per ConstraintTemplate) is retried with backoff for
    up to ``crd_wait_s`` seconds before that counts as a refusal.
    """
    api = api or _api_client(kubeconfig, context)
    done: list[Applied] = []
    for obj in ordered(list(objects)):
        try:
            status = _apply_waiting_for_crd(api, obj, dry_run=dry_run, wait_s=crd_wait_s)
        except ApplyError as exc:
            raise ApplyError(f"{object_ref(obj)}: apply failed: {exc}") from None
        result = Applied(object_ref(obj), resource_path(obj), status, dry_run)
        done.append(result)
        if progress:
            progress(result)
    return done


def _comparable(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in _SERVER_META}
    out["metadata"] = meta
    return out


def diff_objects(
    objects: Iterable[dict[str, Any]],
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    api: Any = None,
) -> str:
    """Unified diff, per object, between the live object and what applying would make of it.

    Uses GET (absent → everything is new) and a server-side-apply dry run, so defaults and
    admission mutations show up exactly as the API server would persist them.
    """
    api = api or _api_client(kubeconfig, context)
    chunks: list[str] = []
    for obj in ordered(list(objects)):
        ref, path = object_ref(obj), resource_path(obj)
        try:
            live, _ = _call(api, path, "GET", header_params={"Accept": "application/json"})
        except ApiError as exc:
            if exc.status != 404:
                raise ApplyError(f"{ref}: cannot read live object: {exc}") from None
            live = None
        try:
            planned, _ = server_side_apply(api, obj, dry_run=True)
        except ApplyError as exc:
            raise ApplyError(f"{ref}: dry-run apply failed: {exc}") from None
        before = dump_yaml([_comparable(live)]).splitlines(keepends=True) if live else []
        after = dump_yaml([_comparable(planned)]).splitlines(keepends=True)
        label = "(absent)" if live is None else f"live {ref}"
        chunks.extend(difflib.unified_diff(before, after, fromfile=label, tofile=f"applied {ref}"))
    return "".join(chunks)


#: Public names for other tenancy-layer readers (riskgrid.cluster.live) of the same client setup.
api_client = _api_client
call_api = _call
