"""Names, labels and versions every rendered bundle shares.

One place, so that the renderers, the platform bundle, the Calico selectors and the verifier
can never disagree about what a label is called.
"""

from __future__ import annotations

#: Kubernetes minor version the bundles target and are schema-validated against
#: (kubernetes-validate ships the OpenAPI schemas offline). EKS supports it as of 2026.
KUBERNETES_VERSION = "1.33"
#: Pod Security Admission policy version pinned on every tenant namespace, so that a cluster
#: upgrade cannot silently change what "restricted" means for a desk.
PSA_VERSION = f"v{KUBERNETES_VERSION}"

#: Who owns an object (chargeback, audit). The platform's own objects carry
#: ``PLATFORM_TENANT`` so that the bank's "every object has an owner" rule holds for them too.
TENANT_LABEL = "riskgrid.dev/tenant"
#: Marks a namespace as a tenant namespace for network isolation. Separate from the owner
#: label so that the platform namespace, which has an owner, is not mistaken for a tenant.
ISOLATION_LABEL = "riskgrid.dev/isolation"
ISOLATION_TENANT = "tenant"
PLATFORM_TENANT = "platform"
PLATFORM_COST_CENTRE = "platform"
COST_CENTRE_LABEL = "riskgrid.dev/cost-centre"
CLASSIFICATION_LABEL = "riskgrid.dev/data-classification"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "riskgrid"
PART_OF_LABEL = "app.kubernetes.io/part-of"
#: Set by the API server on every namespace (Kubernetes >= 1.22); tenants cannot forge it.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

PLATFORM_NAMESPACE = "riskgrid-system"
PLATFORM_API_LABELS = {"app.kubernetes.io/name": "riskgrid-api"}
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}

#: The Calico tier that holds the isolation policies. Calico's own `default` tier (where
#: Kubernetes NetworkPolicies land) has order 1,000,000; lower orders are evaluated first.
TIER_NAME = "riskgrid-isolation"
TIER_ORDER = 100

KUEUE_COHORT = "riskgrid"
KUEUE_CPU_FLAVOR = "riskgrid-cpu"
KUEUE_GPU_FLAVOR = "riskgrid-gpu"
LOCAL_QUEUE = "ray"
GPU_RESOURCE = "nvidia.com/gpu"

RAY_CLUSTER_NAME = "ray"
RAY_HEAD_SA = "ray-head"
RAY_WORKER_SA = "ray-worker"
RAY_AUTOSCALER_ROLE = "ray-autoscaler"

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
#: EKS Pod Identity associates roles through the EKS API, not an annotation; riskgrid records
#: the intended role here so that the association step can be generated and audited.
POD_IDENTITY_ANNOTATION = "riskgrid.dev/pod-identity-role-arn"

#: Instance metadata service addresses (IPv4 and the Nitro IPv6 endpoint).
METADATA_CIDRS = ("169.254.169.254/32", "fd00:ec2::254/128")
