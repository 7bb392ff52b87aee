# IAM guardrail: a workload policy grants only actions some catalogue access level offers
# (parameter `actions`, kept equal to riskgrid.spec.cloud_catalogue by a test), so a
# hand-edited policy cannot add, say, secretsmanager:PutSecretValue to a read-only service.
package lib.riskgrid.policies.iam_catalogue_actions

is_policy(w) if {
	w.kind == "Policy"
	w.apiVersion == "iam.services.k8s.aws/v1alpha1"
}

document(w) := d if {
	d := json.unmarshal(object.get(object.get(w.object, "spec", {}), "policyDocument", "{}"))
} else := {}

as_list(x) := x if is_array(x)

else := [x]

allows(w) := [[n, st] |
	sts := as_list(object.get(document(w), "Statement", []))
	some n
	st := sts[n]
	object.get(st, "Effect", "") == "Allow"
]

violations(w, params) := {v |
	is_policy(w)
	offered := {lower(a) | some a in params.actions}
	some [n, st] in allows(w)
	some a in as_list(object.get(st, "Action", []))
	not lower(a) in offered
	v := {"msg": "action not offered by any catalogue access level", "path": ["spec", "policyDocument", "Statement", n, "Action"], "container": "", "image": "", "value": a}
}
