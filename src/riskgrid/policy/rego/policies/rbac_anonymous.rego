# Bank rule: nothing is bound to system:anonymous or system:unauthenticated (and, when
# params.disallowAuthenticated, system:authenticated), except roles in params.allowedRoles.
package lib.riskgrid.policies.rbac_anonymous

violations(w, params) := {v |
	w.kind in {"RoleBinding", "ClusterRoleBinding"}
	role := object.get(object.get(w.object, "roleRef", {}), "name", "")
	not role in object.get(params, "allowedRoles", [])
	# A plain reference (w.object is always an object): no `subjects` (undefined) finds nothing,
	# as iterating [] did.
	subjects := w.object.subjects
	some i
	subject := subjects[i]
	name := object.get(subject, "name", "")
	startswith(name, "system:") # every forbidden name does: most subjects stop here
	name in forbidden(params)
	v := {"msg": "binding grants a role to an anonymous or unauthenticated subject", "path": ["subjects", i, "name"], "container": "", "image": "", "value": subject.name}
}

forbidden(params) := {"system:anonymous", "system:unauthenticated", "system:authenticated"} if {
	params.disallowAuthenticated == true
}

default forbidden(_) := {"system:anonymous", "system:unauthenticated"}
