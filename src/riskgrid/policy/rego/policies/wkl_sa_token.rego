# Bank rule: pods do not mount a Kubernetes API token unless the workload declares it needs
# one (annotation riskgrid.dev/api-access: "true" on the object).
package lib.riskgrid.policies.wkl_sa_token

violations(w, params) := {v |
	not declared(w)
	some p in w.pods
	not p.spec.automountServiceAccountToken == false
	v := {"msg": "automountServiceAccountToken must be false", "path": array.concat(p.path, ["automountServiceAccountToken"]), "container": "", "image": ""}
}

declared(w) if w.annotations["riskgrid.dev/api-access"] == "true"
