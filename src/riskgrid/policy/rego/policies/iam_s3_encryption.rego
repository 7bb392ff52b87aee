# IAM guardrail: S3 writes are allowed only with SSE-KMS requested
# (s3:x-amz-server-side-encryption = aws:kms), so no result lands unencrypted or under an
# AWS-owned key.
package lib.riskgrid.policies.iam_s3_encryption

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

writes := {"s3:putobject", "s3:*", "*", "s3:put*"}

sse(st) := object.get(object.get(object.get(st, "Condition", {}), "StringEquals", {}), "s3:x-amz-server-side-encryption", "")

violations(w, params) := {v |
	is_policy(w)
	some [n, st] in allows(w)
	some a in as_list(object.get(st, "Action", []))
	lower(a) in writes
	sse(st) != "aws:kms"
	v := {"msg": "S3 write without an SSE-KMS condition", "path": doc_path(n, "Condition"), "container": "", "image": "", "value": a}
}
