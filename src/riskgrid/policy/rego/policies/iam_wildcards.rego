# IAM guardrail: no wildcard actions (or NotAction), no "*" resource (or NotResource), and no
# wildcard in the region or account of a resource ARN — each reaches what nobody reviewed.
package lib.riskgrid.policies.iam_wildcards

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

violations(w, params) := actions(w) | resources(w) | fields(w)

actions(w) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	some a in as_list(object.get(st, "Action", []))
	contains(a, "*")
	v := {"msg": "wildcard action", "path": doc_path(n, "Action"), "container": "", "image": "", "value": a}
} | {v |
	is_policy(w)
	some [n, st] in allows(w)
	some f in ["NotAction", "NotResource"]
	object.get(st, f, null) != null
	v := {"msg": "NotAction/NotResource allow everything but a list", "path": doc_path(n, f), "container": "", "image": "", "value": ""}
}

resources(w) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	some r in as_list(object.get(st, "Resource", []))
	r == "*"
	v := {"msg": "resource is every resource", "path": doc_path(n, "Resource"), "container": "", "image": "", "value": r}
}

fields(w) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	some r in as_list(object.get(st, "Resource", []))
	parts := split(r, ":")
	count(parts) >= 6
	some k in [3, 4]
	regex.match(`[*?]`, parts[k])
	v := {"msg": "wildcard in the region or account of a resource ARN", "path": doc_path(n, "Resource"), "container": "", "image": "", "value": r}
}
