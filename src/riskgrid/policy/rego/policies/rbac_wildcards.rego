# Bank rule: Roles and ClusterRoles name their verbs, resources and API groups — no "*"
# (system: roles and params.exemptRoles excepted).
package lib.riskgrid.policies.rbac_wildcards

violations(w, params) := {v |
	w.kind in {"Role", "ClusterRole"}
	not startswith(w.name, "system:")
	not w.name in object.get(params, "exemptRoles", [])
	rules := object.get(w.object, "rules", [])
	some i
	rule := rules[i]
	some field in ["verbs", "resources", "apiGroups"]
	"*" in object.get(rule, field, [])
	v := {"msg": "RBAC rule uses a wildcard", "path": ["rules", i, field], "container": "", "image": "", "value": field}
}
