# Bank rule: nothing is deployed to the `default` namespace.
package lib.riskgrid.policies.gov_default_namespace

violations(w, params) := {v |
	w.namespace == "default"
	v := {"msg": "object is in the default namespace", "path": ["metadata", "namespace"], "container": "", "image": ""}
}
