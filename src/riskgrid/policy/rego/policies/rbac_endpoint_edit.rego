# CVE-2021-25740: the aggregated edit role must not grant write access to Endpoints.
package lib.riskgrid.policies.rbac_endpoint_edit

violations(w, params) := {v |
	w.kind == "ClusterRole"
	w.name == "system:aggregate-to-edit"
	rules := object.get(w.object, "rules", [])
	some i
	rule := rules[i]
	some resource in object.get(rule, "resources", [])
	resource in {"endpoints", "*"}
	some verb in object.get(rule, "verbs", [])
	verb in {"create", "update", "patch", "*"}
	v := {"msg": "system:aggregate-to-edit grants write access to Endpoints", "path": ["rules", i], "container": "", "image": "", "value": verb}
}
