"""Representative pods for workloads, from their pod templates.

Every replica of a workload carries the same labels and ports, so one representative pod per
template is exact for network analysis. A RayCluster gets one pod for its head group and one
per worker group, with the labels the KubeRay operator puts on the pods it creates (the
operator's labels are what tenant NetworkPolicies select on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskgrid.netpol.atoms import IpRange, parse_cidr
from riskgrid.netpol.model import ContainerPort, Pod

#: kind → path from ``spec`` to the pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("template",),
    "StatefulSet": ("template",),
    "DaemonSet": ("template",),
    "ReplicaSet": ("template",),
    "ReplicationController": ("template",),
    "Job": ("template",),
    "CronJob": ("jobTemplate", "spec", "template"),
}
RAY_KINDS = ("RayCluster", "RayJob")


class WorkloadError(ValueError):
    """A workload whose template cannot be read; ``loc`` is the field path."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _mapping(value: Any, loc: tuple[str | int, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise WorkloadError(loc, "must be a mapping")
    return value


def container_ports(pod_spec: Mapping[str, Any], loc: tuple[str | int, ...]) -> list[ContainerPort]:
    """Ports declared by the containers (init containers cannot serve, so they are skipped)."""
    out: list[ContainerPort] = []
    containers = pod_spec.get("containers") or []
    if not isinstance(containers, list):
        raise WorkloadError((*loc, "containers"), "must be a list")
    for ci, container in enumerate(containers):
        cloc = (*loc, "containers", ci)
        container = _mapping(container, cloc)
        for pi, port in enumerate(container.get("ports") or []):
            ploc = (*cloc, "ports", pi)
            port = _mapping(port, ploc)
            number = port.get("containerPort")
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
                raise WorkloadError((*ploc, "containerPort"), "must be an integer in 1..65535")
            protocol = port.get("protocol", "TCP")
            if protocol not in ("TCP", "UDP", "SCTP"):
                raise WorkloadError((*ploc, "protocol"), "must be TCP, UDP or SCTP")
            name = port.get("name")
            if name is not None and not isinstance(name, str):
                raise WorkloadError((*ploc, "name"), "must be a string")
            out.append(ContainerPort(number, protocol, name))
    return out


def _template_pod(
    template: Any, loc: tuple[str | int, ...], namespace: str, name: str, kind: str, source: str
) -> Pod:
    template = _mapping(template, loc)
    meta = _mapping(template.get("metadata"), (*loc, "metadata"))
    labels = _mapping(meta.get("labels"), (*loc, "metadata", "labels"))
    spec = _mapping(template.get("spec"), (*loc, "spec"))
    ports = container_ports(spec, (*loc, "spec"))
    return Pod(
        namespace=namespace,
        name=name,
        labels={str(k): str(v) for k, v in labels.items()},
        ports=tuple(ports),
        kind=kind,
        source=source,
    )


def _ray_pods(
    cluster_name: str,
    spec: Mapping[str, Any],
    loc: tuple[str | int, ...],
    ns: str,
    kind: str,
    source: str,
) -> list[Pod]:
    pods: list[Pod] = []
    common = {
        "ray.io/cluster": cluster_name,
        "ray.io/is-ray-node": "yes",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }
    head = _mapping(spec.get("headGroupSpec"), (*loc, "headGroupSpec"))
    if "template" not in head:
        raise WorkloadError((*loc, "headGroupSpec", "template"), "required")
    pod = _template_pod(
        head["template"],
        (*loc, "headGroupSpec", "template"),
        ns,
        f"{cluster_name}-head",
        kind,
        source,
    )
    labels = {
        **pod.labels,
        **common,
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
        "ray.io/identifier": f"{cluster_name}-head",
    }
    pods.append(Pod(ns, pod.name, labels, pod.ports, kind, source))
    groups = spec.get("workerGroupSpecs") or []
    if not isinstance(groups, list):
        raise WorkloadError((*loc, "workerGroupSpecs"), "must be a list")
    for gi, group in enumerate(groups):
        gloc = (*loc, "workerGroupSpecs", gi)
        group = _mapping(group, gloc)
        group_name = str(group.get("groupName") or f"group-{gi}")
        if "template" not in group:
            raise WorkloadError((*gloc, "template"), "required")
        pod = _template_pod(
            group["template"],
            (*gloc, "template"),
            ns,
            f"{cluster_name}-worker-{group_name}",
            kind,
            source,
        )
        labels = {
            **pod.labels,
            **common,
            "ray.io/node-type": "worker",
            "ray.io/group": group_name,
            "ray.io/identifier": f"{cluster_name}-worker",
        }
        pods.append(Pod(ns, pod.name, labels, pod.ports, kind, source))
    return pods


def pod_addresses(status: Any) -> tuple[IpRange, ...] | None:
    """``status.podIPs`` (or ``status.podIP``) as /32 or /128 ranges; ``None`` when unset."""
    status = _mapping(status, ("status",))
    raw: list[tuple[tuple[str | int, ...], Any]] = []
    ips = status.get("podIPs")
    if ips:
        if not isinstance(ips, list):
            raise WorkloadError(("status", "podIPs"), "must be a list")
        for i, entry in enumerate(ips):
            entry = _mapping(entry, ("status", "podIPs", i))
            raw.append((("status", "podIPs", i, "ip"), entry.get("ip")))
    elif status.get("podIP"):
        raw.append((("status", "podIP"), status.get("podIP")))
    if not raw:
        return None
    out = []
    for loc, text in raw:
        if not isinstance(text, str) or "/" in text:
            raise WorkloadError(loc, f"{text!r} is not an IP address")
        try:
            out.append(parse_cidr(text))
        except ValueError as exc:
            raise WorkloadError(loc, str(exc)) from None
    return tuple(sorted(set(out)))


def pods_for(obj: Mapping[str, Any], namespace: str, source: str) -> list[Pod] | None:
    """The representative pods of ``obj``, or ``None`` when the kind runs no pods."""
    kind = obj.get("kind")
    meta = _mapping(obj.get("metadata"), ("metadata",))
    name = str(meta.get("name") or "")
    spec = _mapping(obj.get("spec"), ("spec",))
    if kind == "Pod":
        labels = _mapping(meta.get("labels"), ("metadata", "labels"))
        if spec.get("hostNetwork") is True:
            # A host-network pod uses the node's address; NetworkPolicy does not apply to it.
            raise WorkloadError(("spec", "hostNetwork"), "host-network pods are not modelled")
        return [
            Pod(
                namespace,
                name,
                {str(k): str(v) for k, v in labels.items()},
                tuple(container_ports(spec, ("spec",))),
                "Pod",
                source,
                pod_addresses(obj.get("status")),
            )
        ]
    if kind in TEMPLATE_PATHS:
        path = TEMPLATE_PATHS[kind]
        node: Any = spec
        loc: tuple[str | int, ...] = ("spec",)
        for part in path:
            node = _mapping(node, loc).get(part)
            loc = (*loc, part)
        if node is None:
            raise WorkloadError(loc, "required")
        template_spec = _mapping(_mapping(node, loc).get("spec"), (*loc, "spec"))
        if template_spec.get("hostNetwork") is True:
            raise WorkloadError((*loc, "spec", "hostNetwork"), "host-network pods are not modelled")
        return [_template_pod(node, loc, namespace, name, kind, source)]
    if kind == "RayCluster" and str(obj.get("apiVersion", "")).startswith("ray.io/"):
        return _ray_pods(name, spec, ("spec",), namespace, kind, source)
    if kind == "RayJob" and str(obj.get("apiVersion", "")).startswith("ray.io/"):
        cluster_spec = spec.get("rayClusterSpec")
        if cluster_spec is None:
            return []  # runs on an existing cluster (clusterSelector)
        return _ray_pods(
            name,
            _mapping(cluster_spec, ("spec", "rayClusterSpec")),
            ("spec", "rayClusterSpec"),
            namespace,
            kind,
            source,
        )
    return None
