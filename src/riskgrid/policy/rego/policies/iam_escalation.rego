# IAM guardrail: a tenant workload's policy grants no IAM, STS or Organizations action — no
# iam:PassRole or sts:AssumeRole into another role, no policy editing, no new credentials.
package lib.riskgrid.policies.iam_escalation

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

violations(w, params) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	some a in as_list(object.get(st, "Action", []))
	prefix := lower(split(a, ":")[0])
	prefix in {"iam", "sts", "organizations", "*"}
	v := {"msg": "identity action in a workload policy (role chaining or privilege escalation)", "path": doc_path(n, "Action"), "container": "", "image": "", "value": a}
}
