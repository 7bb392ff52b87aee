# Bank rule: workloads run under a dedicated ServiceAccount, never `default`.
package lib.riskgrid.policies.wkl_default_sa

# The cheap test first, one lookup: a pod that names a ServiceAccount other than "" or
# "default" passes there (most do). Only the rest pay for the exact reading, where the legacy
# `serviceAccount` fills in for an absent `serviceAccountName`.
violations(w, params) := {v |
	some p in w.pods
	object.get(p.spec, "serviceAccountName", "default") in {"", "default"}
	object.get(p.spec, "serviceAccountName", object.get(p.spec, "serviceAccount", "default")) in {"", "default"}
	v := {"msg": "pod runs as the default ServiceAccount", "path": array.concat(p.path, ["serviceAccountName"]), "container": "", "image": ""}
}
