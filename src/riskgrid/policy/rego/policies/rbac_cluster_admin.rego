# Bank rule: no binding grants cluster-admin (or another role in params.roles) to anyone but
# the platform's own subjects (params.allowedSubjects, "Kind:name").
package lib.riskgrid.policies.rbac_cluster_admin

violations(w, params) := {v |
	w.kind in {"RoleBinding", "ClusterRoleBinding"}
	role := object.get(object.get(w.object, "roleRef", {}), "name", "")
	role in object.get(params, "roles", ["cluster-admin"])
	subjects := object.get(w.object, "subjects", [])
	some i
	subject := subjects[i]
	not allowed_subject(subject, object.get(params, "allowedSubjects", []))
	v := {"msg": "binding grants a cluster-admin-equivalent role", "path": ["subjects", i], "container": "", "image": "", "value": role}
}

allowed_subject(subject, allowed) if {
	some entry in allowed
	sep := indexof(entry, ":")
	substring(entry, 0, sep) == object.get(subject, "kind", "")
	substring(entry, sep + 1, -1) == object.get(subject, "name", "")
}
