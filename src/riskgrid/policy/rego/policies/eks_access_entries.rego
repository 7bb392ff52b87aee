# CIS Amazon EKS 5.5.1: cluster access is managed through EKS access entries (authentication
# mode API), not the aws-auth ConfigMap, and the creator gets no implicit, unreviewed admin.
package lib.riskgrid.policies.eks_access_entries

access(obj) := object.get(obj, "accessConfig", {})

violations(w, params) := {v |
	w.kind == "ClusterConfig"
	mode := object.get(access(w.object), "authenticationMode", "API_AND_CONFIG_MAP")
	mode != "API"
	v := {"msg": "cluster access is not managed by access entries only (aws-auth ConfigMap still honoured)", "path": ["accessConfig", "authenticationMode"], "container": "", "image": "", "value": mode}
} | {v |
	w.kind == "ClusterConfig"
	object.get(access(w.object), "bootstrapClusterCreatorAdminPermissions", true) != false
	v := {"msg": "the cluster creator is granted implicit cluster-admin", "path": ["accessConfig", "bootstrapClusterCreatorAdminPermissions"], "container": "", "image": "", "value": ""}
} | {v |
	w.kind == "ClusterConfig"
	count(object.get(w.object, "iamIdentityMappings", [])) > 0
	v := {"msg": "iamIdentityMappings write the aws-auth ConfigMap", "path": ["iamIdentityMappings"], "container": "", "image": "", "value": ""}
}
