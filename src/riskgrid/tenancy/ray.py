"""The desk's KubeRay ``RayCluster``, hardened, and the ports Ray listens on.

Ray picks most of its ports at random unless told otherwise (see the `ray start` reference:
https://docs.ray.io/en/latest/cluster/cli.html and "Port Service Discovery" in the Ray
internals docs). Random ports cannot be named in a NetworkPolicy, so every port is pinned
through ``rayStartParams`` and the same table drives the NetworkPolicies in
:mod:`riskgrid.tenancy.network`.

The head runs without a Kubernetes API token: the in-tree autoscaler is off, and scaling
between ``minReplicas`` and ``maxReplicas`` is done from the platform namespace. The head is
the most exposed component of a Ray cluster (its job API was CVE-2023-48022), so it holds no
cluster credentials and needs no egress to the API server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.tenant import NodeResources, Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy import quantities as q
from riskgrid.tenancy.labels import tenant_labels


@dataclass(frozen=True)
class RayPort:
    name: str
    port: int
    end_port: int | None = None
    #: The `ray start` flag that pins it (None: fixed by the flag's default, e.g. --port).
    flag: str | None = None
    head_only: bool = False


#: Every port a Ray node listens on, pinned. GCS, dashboard (which serves the job submission
#: API) and the Ray client server live on the head only.
RAY_PORTS: tuple[RayPort, ...] = (
    RayPort("gcs", 6379, flag="port", head_only=True),
    RayPort("dashboard", 8265, flag="dashboard-port", head_only=True),
    RayPort("client", 10001, flag="ray-client-server-port", head_only=True),
    RayPort("object-manager", 8076, flag="object-manager-port"),
    RayPort("node-manager", 8077, flag="node-manager-port"),
    RayPort("metrics-agent", 8078, flag="dashboard-agent-grpc-port"),
    RayPort("runtime-env", 8079, flag="runtime-env-agent-port"),
    RayPort("metrics", 8080, flag="metrics-export-port"),
    RayPort("agent-http", 52365, flag="dashboard-agent-listen-port"),
    # Core worker processes: one port each; Ray's default range is 10002-19999.
    RayPort("workers", 10002, end_port=10999),
)
#: Ports the platform namespace may reach on the head: Ray client and the job API.
PLATFORM_PORTS = ("client", "dashboard")

_MIN_WORKER_PORT = next(p for p in RAY_PORTS if p.name == "workers")


def start_params(*, head: bool, resources: NodeResources) -> dict[str, str]:
    """``rayStartParams`` (all strings, as KubeRay wants) that pin every port."""
    params: dict[str, str] = {}
    for p in RAY_PORTS:
        if p.flag and (head or not p.head_only) and p.flag != "port":
            params[p.flag] = str(p.port)
    params["min-worker-port"] = str(_MIN_WORKER_PORT.port)
    params["max-worker-port"] = str(_MIN_WORKER_PORT.end_port)
    # Ray's own scheduler must see the container's limits, not the node's cores.
    params["num-cpus"] = str(max(1, int(q.add(resources.cpu))))
    if resources.gpu:
        params["num-gpus"] = q.canonical(resources.gpu, "count") or "0"
    if head:
        params["dashboard-host"] = "0.0.0.0"  # reachable by the platform, gated by NetworkPolicy
    return params


def _resources(r: NodeResources) -> dict[str, Any]:
    # requests == limits: Guaranteed QoS, and Kueue accounts exactly what the pod can use.
    values: dict[str, str] = {
        "cpu": q.canonical(str(r.cpu), "cpu") or "0",
        "memory": q.canonical(str(r.memory), "memory") or "0",
    }
    if r.gpu:
        values[c.GPU_RESOURCE] = q.canonical(str(r.gpu), "count") or "0"
    return {"requests": dict(values), "limits": dict(values)}


_CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
_POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    # The rayproject images' `ray` user; set explicitly so runAsNonRoot is provable up front.
    "runAsUser": 1000,
    "runAsGroup": 100,
    "fsGroup": 100,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _shm_size(resources: NodeResources) -> str:
    """30% of the container's memory (Ray's default object store share), in whole MiB."""
    mib = int(q.add(str(resources.memory)) * 3 / 10 / 2**20)
    return f"{max(mib, 64)}Mi"


def _pod_template(
    tenant: Tenant, *, head: bool, resources: NodeResources, ports: list[dict[str, Any]]
) -> dict[str, Any]:
    component = "ray-head" if head else "ray-worker"
    labels = {**tenant_labels(tenant), "app.kubernetes.io/component": component}
    volumes = [
        # Read-only root filesystem: Ray writes its session files under /tmp/ray...
        {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
        # ...and its object store lives in shared memory.
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": _shm_size(resources)}},
    ]
    container: dict[str, Any] = {
        "name": component,
        "image": tenant.spec.ray.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": _resources(resources),
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
        "env": [
            {"name": "RAY_USAGE_STATS_ENABLED", "value": "0"},
            {"name": "RAY_LOG_TO_STDERR", "value": "1"},
        ],
    }
    if ports:
        container["ports"] = ports
    return {
        "metadata": {"labels": labels},
        "spec": {
            "serviceAccountName": c.RAY_HEAD_SA if head else c.RAY_WORKER_SA,
            # Neither node talks to the Kubernetes API (see module docstring).
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": copy.deepcopy(_POD_SECURITY),
            "containers": [container],
            "volumes": volumes,
        },
    }


def render_raycluster(tenant: Tenant) -> dict[str, Any]:
    """The desk's RayCluster: token auth, TLS, non-root, read-only, no capabilities."""
    ray = tenant.spec.ray
    head_ports = [
        {"name": p.name, "containerPort": p.port, "protocol": "TCP"}
        for p in RAY_PORTS
        if p.head_only
    ]
    labels = {**tenant_labels(tenant), "kueue.x-k8s.io/queue-name": c.LOCAL_QUEUE}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": c.RAY_CLUSTER_NAME, "namespace": tenant.namespace, "labels": labels},
        "spec": {
            "rayVersion": ray.ray_version,
            # KubeRay generates the token into a Secret and injects it; no literal token here.
            "authOptions": {"mode": "token"},
            "tlsOptions": {"enabled": True},
            "enableInTreeAutoscaling": False,
            "headGroupSpec": {
                "serviceType": "ClusterIP",
                "rayStartParams": start_params(head=True, resources=ray.head),
                "template": _pod_template(tenant, head=True, resources=ray.head, ports=head_ports),
            },
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": ray.min_workers,
                    "minReplicas": ray.min_workers,
                    "maxReplicas": ray.max_workers,
                    "rayStartParams": start_params(head=False, resources=ray.worker),
                    "template": _pod_template(tenant, head=False, resources=ray.worker, ports=[]),
                }
            ],
        },
    }
