# IAM guardrail: every resource is inside the owning tenant's prefix (label riskgrid.dev/tenant)
# — S3 BUCKET/<tenant>/…, SQS <tenant>_…, Secrets Manager riskgrid/<tenant>/…, KMS keys only
# through an alias alias/riskgrid/<tenant>/… — so no statement names another tenant's ARNs, and
# services outside the catalogue are refused.
package lib.riskgrid.policies.iam_tenant_scope

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

tenant(w) := object.get(w.labels, "riskgrid.dev/tenant", "")

cond(st, op, key) := as_list(object.get(object.get(object.get(st, "Condition", {}), op, {}), key, []))

# True when the resource r of statement st stays inside tenant t.
inside(r, st, t) if {
	startswith(r, "arn:aws:s3:::")
	rest := substring(r, 13, -1)
	contains(rest, "/")
	key := substring(rest, indexof(rest, "/") + 1, -1)
	startswith(key, concat("", [t, "/"]))
}

inside(r, st, t) if {
	startswith(r, "arn:aws:s3:::")
	not contains(substring(r, 13, -1), "/")
	prefixes := cond(st, "StringLike", "s3:prefix")
	count(prefixes) > 0
	every p in prefixes { startswith(p, concat("", [t, "/"])) }
}

inside(r, st, t) if {
	parts := split(r, ":")
	parts[2] == "sqs"
	startswith(parts[5], concat("", [t, "_"]))
}

inside(r, st, t) if {
	parts := split(r, ":")
	parts[2] == "secretsmanager"
	startswith(concat(":", array.slice(parts, 5, count(parts))), concat("", ["secret:riskgrid/", t, "/"]))
}

inside(r, st, t) if {
	parts := split(r, ":")
	parts[2] == "kms"
	startswith(parts[5], "key/")
	not contains(parts[5], "*")
	aliases := cond(st, "ForAnyValue:StringEquals", "kms:ResourceAliases")
	count(aliases) > 0
	every a in aliases { startswith(a, concat("", ["alias/riskgrid/", t, "/"])) }
}

violations(w, params) := {v |
	is_policy(w)
	t := tenant(w)
	some [n, st] in allows(w)
	some r in as_list(object.get(st, "Resource", []))
	not inside(r, st, t)
	v := {"msg": "resource outside the tenant's prefix (another tenant's, or not a catalogue service)", "path": doc_path(n, "Resource"), "container": "", "image": "", "value": r}
}
