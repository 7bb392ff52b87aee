"""The API resources a snapshot reads: what the policies and the network analysis need.

Calico objects are read through the Calico API server (``projectcalico.org/v3``, the API the
tier policies are written in); Kueue at ``v1beta2``, the version riskgrid renders.
Secrets are deliberately absent: no policy or analysis needs their data, and a snapshot must
never hold credentials (D-#16.2). ConfigMaps are absent for the same reason (they often do).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    api_version: str  # "v1", "apps/v1", "projectcalico.org/v3"
    kind: str
    plural: str
    namespaced: bool
    #: Served only where the CRD is installed: 404 means "not installed", not an error.
    optional: bool = False

    @property
    def path(self) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{base}/{self.plural}"

    @property
    def key(self) -> str:
        """File stem in a snapshot: unique even where two groups share a kind name."""
        group = self.api_version.replace("/", "_")
        return f"{group}_{self.plural}"


RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "Namespace", "namespaces", False),
    Resource("v1", "Pod", "pods", True),
    Resource("v1", "Service", "services", True),
    Resource("v1", "Endpoints", "endpoints", True),
    Resource("v1", "ServiceAccount", "serviceaccounts", True),
    Resource("v1", "ResourceQuota", "resourcequotas", True),
    Resource("v1", "LimitRange", "limitranges", True),
    Resource("apps/v1", "Deployment", "deployments", True),
    Resource("apps/v1", "ReplicaSet", "replicasets", True),
    Resource("apps/v1", "StatefulSet", "statefulsets", True),
    Resource("apps/v1", "DaemonSet", "daemonsets", True),
    Resource("batch/v1", "Job", "jobs", True),
    Resource("batch/v1", "CronJob", "cronjobs", True),
    Resource("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    Resource("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("projectcalico.org/v3", "Tier", "tiers", False, True),
    Resource("projectcalico.org/v3", "GlobalNetworkPolicy", "globalnetworkpolicies", False, True),
    Resource("projectcalico.org/v3", "NetworkPolicy", "networkpolicies", True, True),
    Resource("projectcalico.org/v3", "GlobalNetworkSet", "globalnetworksets", False, True),
    Resource("projectcalico.org/v3", "NetworkSet", "networksets", True, True),
    Resource("kueue.x-k8s.io/v1beta2", "ClusterQueue", "clusterqueues", False, True),
    Resource("kueue.x-k8s.io/v1beta2", "LocalQueue", "localqueues", True, True),
    Resource("kueue.x-k8s.io/v1beta2", "ResourceFlavor", "resourceflavors", False, True),
    Resource("ray.io/v1", "RayCluster", "rayclusters", True, True),
    Resource("ray.io/v1", "RayJob", "rayjobs", True, True),
)

BY_KEY = {r.key: r for r in RESOURCES}
#: (apiVersion, kind) pairs a snapshot may hold.
KNOWN = {(r.api_version, r.kind) for r in RESOURCES}
#: Kinds a snapshot never holds, whatever the input says.
FORBIDDEN_KINDS = frozenset({"Secret"})
