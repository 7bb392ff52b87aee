# Bank rule: pods do not mount a Kubernetes API token unless the workload declares it needs
# one (annotation riskgrid.dev/api-access: "true" on the object).
package lib.riskgrid.policies.wkl_sa_token

# The test that usually fails first (most pods set false); the annotation read in place, not
# through a helper call (a missing or non-object annotations map leaves it undefined).
violations(w, params) := {v |
	some p in w.pods
	not p.spec.automountServiceAccountToken == false
	not w.annotations["riskgrid.dev/api-access"] == "true"
	v := {"msg": "automountServiceAccountToken must be false", "path": array.concat(p.path, ["automountServiceAccountToken"]), "container": "", "image": ""}
}
