# CIS Amazon EKS 5.4.1 / 5.4.2: the API endpoint is private; a public endpoint is either off or
# limited to listed networks, never 0.0.0.0/0 (which is what EKS uses when none are listed).
package lib.riskgrid.policies.eks_endpoint

vpc(obj) := object.get(obj, "vpc", {})

endpoints(obj) := object.get(vpc(obj), "clusterEndpoints", {})

open_cidrs(obj) := [c | some c in object.get(vpc(obj), "publicAccessCIDRs", []); c in {"0.0.0.0/0", "::/0"}]

violations(w, params) := private_violations(w) | public_violations(w) | open_violations(w)

private_violations(w) := {v |
	w.kind == "ClusterConfig"
	object.get(endpoints(w.object), "privateAccess", false) != true
	v := {"msg": "the private API endpoint is not enabled", "path": ["vpc", "clusterEndpoints", "privateAccess"], "container": "", "image": "", "value": ""}
}

public_violations(w) := {v |
	w.kind == "ClusterConfig"
	object.get(endpoints(w.object), "publicAccess", true) == true
	count(object.get(vpc(w.object), "publicAccessCIDRs", [])) == 0
	v := {"msg": "the public API endpoint is open to the internet (no publicAccessCIDRs)", "path": ["vpc", "clusterEndpoints", "publicAccess"], "container": "", "image": "", "value": ""}
}

open_violations(w) := {v |
	w.kind == "ClusterConfig"
	object.get(endpoints(w.object), "publicAccess", true) == true
	some c in open_cidrs(w.object)
	v := {"msg": "the public API endpoint allows every address", "path": ["vpc", "publicAccessCIDRs"], "container": "", "image": "", "value": c}
}
