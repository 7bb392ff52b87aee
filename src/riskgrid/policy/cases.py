"""Build policy test-case objects from short specs.

Cases in ``metadata/*.yaml`` describe *differences* from a hardened workload that passes every
policy with default parameters: ``kind`` (where the pod template sits), ``pod`` / ``container``
/ ``init`` / ``ephemeral`` / ``metadata`` / ``podMetadata`` / ``spec`` (the object's own
spec, after wrapping) patches (deep-merged; ``null``
deletes a key), or a literal ``object``. The same builder feeds the test suite, the export's
self-test and the benchmark corpus.
"""

from __future__ import annotations

import copy
from typing import Any

DIGEST = "sha256:" + "3f" * 32
IMAGE = f"registry.riskgrid.example/riskgrid/pricer:1.4.2@{DIGEST}"
NAMESPACE = "desk-rates"
LABELS = {"riskgrid.dev/tenant": "rates", "riskgrid.dev/cost-centre": "cc-4711"}

HARDENED_CONTAINER: dict[str, Any] = {
    "name": "pricer",
    "image": IMAGE,
    "resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
}

HARDENED_POD: dict[str, Any] = {
    "serviceAccountName": "riskgrid-worker",
    "automountServiceAccountToken": False,
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [HARDENED_CONTAINER],
}

API_VERSIONS = {
    "Pod": "v1",
    "PodTemplate": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "RayCluster": "ray.io/v1",
    "RayJob": "ray.io/v1",
}
WORKLOAD_KINDS = tuple(API_VERSIONS)


def merge(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` into a copy of ``base``; ``None`` in the patch deletes the key."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The pod spec a case describes: hardened base + container/init/ephemeral/pod patches."""
    main = merge(HARDENED_CONTAINER, spec.get("container", {}))
    pod: dict[str, Any] = merge(
        HARDENED_POD, {k: v for k, v in spec.get("pod", {}).items() if k != "containers"}
    )
    pod["containers"] = [main, *spec.get("pod", {}).get("containers", [])]
    if "init" in spec:
        pod["initContainers"] = [merge({**HARDENED_CONTAINER, "name": "init"}, spec["init"])]
    if "ephemeral" in spec:
        debug = {k: v for k, v in HARDENED_CONTAINER.items() if k != "resources"}
        pod["ephemeralContainers"] = [merge({**debug, "name": "debug"}, spec["ephemeral"])]
    return pod


def wrap(kind: str, name: str, pod: dict[str, Any], pod_meta: dict[str, Any]) -> dict[str, Any]:
    """Put a pod spec where ``kind`` keeps its pod template."""
    template = {"metadata": pod_meta, "spec": pod}
    selector = {"matchLabels": {"app": name}}
    if kind == "Pod":
        return {"spec": pod}
    if kind == "PodTemplate":
        return {"template": template}
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}:
        return {"spec": {"selector": selector, "template": template}}
    if kind == "ReplicationController":
        return {"spec": {"selector": {"app": name}, "template": template}}
    if kind == "Job":
        return {"spec": {"template": merge(template, {"spec": {"restartPolicy": "Never"}})}}
    if kind == "CronJob":
        job = {"template": merge(template, {"spec": {"restartPolicy": "Never"}})}
        return {"spec": {"schedule": "0 6 * * 1-5", "jobTemplate": {"spec": job}}}
    if kind in {"RayCluster", "RayJob"}:
        cluster = {
            "rayVersion": "2.40.0",
            "authOptions": {"mode": "token"},
            "headGroupSpec": {"rayStartParams": {}, "template": template},
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": 2,
                    "minReplicas": 0,
                    "maxReplicas": 8,
                    "rayStartParams": {},
                    "template": template,
                }
            ],
        }
        if kind == "RayCluster":
            return {"spec": cluster}
        return {"spec": {"entrypoint": "python -m riskgrid.worker", "rayClusterSpec": cluster}}
    raise ValueError(f"not a workload kind: {kind}")


def build(spec: dict[str, Any], name: str = "case") -> dict[str, Any]:
    """The Kubernetes object a case spec describes."""
    if "object" in spec:
        return copy.deepcopy(spec["object"])
    kind = spec.get("kind", "Deployment")
    pod_meta = merge({"labels": {**LABELS, "app": name}}, spec.get("podMetadata", {}))
    meta = merge(
        {"name": name, "namespace": spec.get("namespace", NAMESPACE), "labels": dict(LABELS)},
        spec.get("metadata", {}),
    )
    obj = {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": meta}
    obj.update(wrap(kind, name, pod_spec(spec), pod_meta))
    if kind == "Pod":
        obj["metadata"] = merge(meta, spec.get("podMetadata", {}))
    if "spec" in spec:
        obj["spec"] = merge(obj["spec"], spec["spec"])
    return obj
