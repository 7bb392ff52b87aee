# IAM guardrail: every Allow statement is bound to the network path and the workload: the
# request must come through the service's VPC endpoint (aws:SourceVpce) from a Pod Identity
# session of this namespace (aws:PrincipalTag/kubernetes-namespace).
package lib.riskgrid.policies.iam_context

is_policy(w) if {
	w.kind == "Policy"
	w.apiVersion == "iam.services.k8s.aws/v1alpha1"
}

document(w) := d if {
	d := json.unmarshal(object.get(object.get(w.object, "spec", {}), "policyDocument", "{}"))
} else := {}

as_list(x) := x if is_array(x)

else := [x]

# [statement index, statement] of every Allow statement.
allows(w) := [[n, st] |
	sts := as_list(object.get(document(w), "Statement", []))
	some n
	st := sts[n]
	object.get(st, "Effect", "") == "Allow"
]

doc_path(n, field) := ["spec", "policyDocument", "Statement", n, field]

equals(st) := object.get(object.get(st, "Condition", {}), "StringEquals", {})

violations(w, params) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	object.get(equals(st), "aws:SourceVpce", "") == ""
	v := {"msg": "statement not limited to a VPC endpoint (aws:SourceVpce)", "path": doc_path(n, "Condition"), "container": "", "image": "", "value": ""}
} | {v |
	is_policy(w)
	some [n, st] in allows(w)
	object.get(equals(st), "aws:PrincipalTag/kubernetes-namespace", "") != w.namespace
	v := {"msg": "statement not limited to this namespace's Pod Identity sessions", "path": doc_path(n, "Condition"), "container": "", "image": "", "value": w.namespace}
}
