# CIS Amazon EKS 5.2.1 (dedicated identities for workloads): pods get AWS credentials from EKS
# Pod Identity (the agent add-on) or IRSA (the cluster's OIDC provider), never from the node role.
package lib.riskgrid.policies.eks_workload_identity

addon_names(obj) := {a.name | some a in object.get(obj, "addons", [])}

violations(w, params) := {v |
	w.kind == "ClusterConfig"
	not addon_names(w.object)["eks-pod-identity-agent"]
	object.get(object.get(w.object, "iam", {}), "withOIDC", false) != true
	v := {"msg": "no workload identity: neither the EKS Pod Identity agent nor an OIDC provider for IRSA", "path": ["addons"], "container": "", "image": "", "value": ""}
}
