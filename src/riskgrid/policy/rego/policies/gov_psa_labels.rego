# Bank rule: every Namespace enforces a Pod Security Admission level (restricted by default),
# so the API server itself backs the guardrails.
package lib.riskgrid.policies.gov_psa_labels

enforce_label := "pod-security.kubernetes.io/enforce"

violations(w, params) := {v |
	w.kind == "Namespace"
	level := object.get(w.labels, enforce_label, "")
	not level in object.get(params, "levels", ["restricted"])
	v := {"msg": "Namespace does not enforce an allowed Pod Security level", "path": ["metadata", "labels", enforce_label], "container": "", "image": "", "value": level}
}
