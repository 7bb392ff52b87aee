# CIS Amazon EKS 5.3.1: Kubernetes Secrets are envelope-encrypted with a customer-managed KMS
# key (a key ARN, not an alias: an alias can be re-pointed to another key after the fact).
package lib.riskgrid.policies.eks_secrets_kms

key(obj) := object.get(object.get(obj, "secretsEncryption", {}), "keyARN", "")

violations(w, params) := {v |
	w.kind == "ClusterConfig"
	k := key(w.object)
	not regex.match(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$`, k)
	v := {"msg": "Secrets are not envelope-encrypted with a customer-managed KMS key ARN", "path": ["secretsEncryption", "keyARN"], "container": "", "image": "", "value": k}
}
