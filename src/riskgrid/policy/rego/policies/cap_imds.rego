# Bank rule: burst nodes answer only IMDSv2 (session tokens) with a response hop limit of 1,
# so that a pod — one network hop further than the node — can never read the node role's
# credentials from the instance metadata service. Karpenter v1's defaults are exactly this;
# an EC2NodeClass that writes anything weaker is denied.
package lib.riskgrid.policies.cap_imds

metadata_options(w) := object.get(object.get(w.object, "spec", {}), "metadataOptions", {})

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	w.kind == "EC2NodeClass"
	tokens := object.get(metadata_options(w), "httpTokens", "required")
	tokens != "required"
	v := {"msg": "EC2NodeClass allows IMDSv1 (httpTokens must be required)", "path": ["spec", "metadataOptions", "httpTokens"], "container": "", "image": "", "value": tokens}
} | {v |
	w.kind == "EC2NodeClass"
	hops := object.get(metadata_options(w), "httpPutResponseHopLimit", 1)
	hops > 1
	v := {"msg": "EC2NodeClass lets pods reach the instance metadata service (hop limit above 1)", "path": ["spec", "metadataOptions", "httpPutResponseHopLimit"], "container": "", "image": "", "value": hops}
}
