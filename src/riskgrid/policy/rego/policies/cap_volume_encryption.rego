# Bank rule: data at rest on burst nodes and EBS volumes is encrypted. An EC2NodeClass declares
# its volumes (otherwise they come unencrypted from the AMI's snapshot unless the account
# happens to encrypt by default) and every EBS mapping sets encrypted: true; an EBS CSI
# StorageClass sets parameters.encrypted: "true".
package lib.riskgrid.policies.cap_volume_encryption

ebs_csi := {"ebs.csi.aws.com", "kubernetes.io/aws-ebs"}

mappings(w) := object.get(object.get(w.object, "spec", {}), "blockDeviceMappings", [])

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	w.kind == "EC2NodeClass"
	count(mappings(w)) == 0
	v := {"msg": "EC2NodeClass declares no block devices, so its volumes are not known to be encrypted", "path": ["spec", "blockDeviceMappings"], "container": "", "image": ""}
} | {v |
	w.kind == "EC2NodeClass"
	some i
	m := mappings(w)[i]
	not object.get(object.get(m, "ebs", {}), "encrypted", false) == true
	v := {"msg": "EBS volume is not encrypted", "path": ["spec", "blockDeviceMappings", i, "ebs", "encrypted"], "container": "", "image": ""}
} | {v |
	w.kind == "StorageClass"
	ebs_csi[object.get(w.object, "provisioner", "")]
	not lower(object.get(object.get(w.object, "parameters", {}), "encrypted", "false")) == "true"
	v := {"msg": "EBS StorageClass does not encrypt its volumes", "path": ["parameters", "encrypted"], "container": "", "image": ""}
}
