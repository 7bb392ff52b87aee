# Bank rule: workloads run under a dedicated ServiceAccount, never `default`.
package lib.riskgrid.policies.wkl_default_sa

violations(w, params) := {v |
	some p in w.pods
	sa := object.get(p.spec, "serviceAccountName", object.get(p.spec, "serviceAccount", "default"))
	sa in {"", "default"}
	v := {"msg": "pod runs as the default ServiceAccount", "path": array.concat(p.path, ["serviceAccountName"]), "container": "", "image": ""}
}
