"""The desk's Namespace (Pod Security restricted), quotas, limits and ServiceAccounts."""

from __future__ import annotations

from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy import quantities as q
from riskgrid.tenancy.labels import tenant_labels


def render_namespace(tenant: Tenant) -> dict[str, Any]:
    labels = {
        **tenant_labels(tenant),
        c.CLASSIFICATION_LABEL: tenant.spec.data_classification,
        c.ISOLATION_LABEL: c.ISOLATION_TENANT,
        c.NAMESPACE_NAME_LABEL: tenant.namespace,
    }
    return restricted_namespace(tenant.namespace, labels)


def restricted_namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Namespace whose Pod Security Admission enforces, audits and warns at `restricted`,
    pinned to :data:`constants.PSA_VERSION` so a cluster upgrade cannot loosen it silently."""
    labels = dict(labels)
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = c.PSA_VERSION
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def render_resource_quota(tenant: Tenant) -> dict[str, Any]:
    """Hard ceiling = quota + burst (Kueue admits up to that by borrowing)."""
    quotas, burst = tenant.spec.quotas, tenant.spec.burst
    cpu = q.cpu(q.add(str(quotas.cpu), str(burst.cpu)))
    mem = q.memory(q.add(str(quotas.memory), str(burst.memory)))
    hard: dict[str, str] = {
        "requests.cpu": cpu,
        "limits.cpu": cpu,
        "requests.memory": mem,
        "limits.memory": mem,
        "pods": str(quotas.pods),
        # One Ray cluster per desk; no way to expose a service outside the cluster.
        "count/rayclusters.ray.io": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    gpu = q.count(q.add(quotas.gpu, str(burst.gpu))) if quotas.gpu is not None else "0"
    hard[f"requests.{c.GPU_RESOURCE}"] = gpu
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": "tenant-quota",
            "namespace": tenant.namespace,
            "labels": tenant_labels(tenant),
        },
        "spec": {"hard": hard},
    }


def render_limit_range(tenant: Tenant) -> dict[str, Any]:
    """Defaults for containers that set nothing, and a per-container maximum."""
    ray = tenant.spec.ray
    max_cpu = max(q.add(str(ray.head.cpu)), q.add(str(ray.worker.cpu)))
    max_mem = max(q.add(str(ray.head.memory)), q.add(str(ray.worker.memory)))
    default_cpu = min(q.add("1"), max_cpu)
    default_mem = min(q.add("2Gi"), max_mem)
    req_cpu = min(q.add("250m"), default_cpu)
    req_mem = min(q.add("512Mi"), default_mem)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {
            "name": "tenant-limits",
            "namespace": tenant.namespace,
            "labels": tenant_labels(tenant),
        },
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": q.cpu(default_cpu), "memory": q.memory(default_mem)},
                    "defaultRequest": {"cpu": q.cpu(req_cpu), "memory": q.memory(req_mem)},
                    "max": {"cpu": q.cpu(max_cpu), "memory": q.memory(max_mem)},
                }
            ]
        },
    }


def render_service_accounts(tenant: Tenant) -> list[dict[str, Any]]:
    """Ray head and worker identities: no API token, the desk's IAM role."""
    annotations: dict[str, str] = {}
    ident = tenant.spec.cloud_identity
    if ident is not None:
        key = c.IRSA_ANNOTATION if ident.provider == "irsa" else c.POD_IDENTITY_ANNOTATION
        annotations[key] = ident.role_arn
    out = []
    for name in (c.RAY_HEAD_SA, c.RAY_WORKER_SA):
        meta: dict[str, Any] = {
            "name": name,
            "namespace": tenant.namespace,
            "labels": tenant_labels(tenant),
        }
        if annotations:
            meta["annotations"] = dict(annotations)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta,
                "automountServiceAccountToken": False,
            }
        )
    return out
