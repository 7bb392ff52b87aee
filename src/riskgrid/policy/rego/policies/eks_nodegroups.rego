# Node groups of the baseline: CIS Amazon EKS 5.4.3 (nodes in private subnets) and the bank's
# node rules — IMDSv1 off and pods cut off from IMDS (eksctl then writes hop limit 1 into the
# launch template), root volumes encrypted, no SSH, a hardened container-optimised AMI family.
package lib.riskgrid.policies.eks_nodegroups

groups(obj) := [[f, i, g] |
	some f in ["managedNodeGroups", "nodeGroups"]
	list := object.get(obj, f, [])
	some i
	g := list[i]
]

# field, the value it must have, and what is wrong when it has not.
required := [
	["privateNetworking", "node group is not in private subnets (nodes get public addresses)"],
	["disableIMDSv1", "node group answers IMDSv1 (httpTokens must be required)"],
	["disablePodIMDS", "pods on the node group can reach the instance metadata service (hop limit above 1)"],
	["volumeEncrypted", "node group root volumes are not encrypted"],
]

violations(w, params) := flags(w) | ssh(w) | ami(w, params)

flags(w) := {v |
	w.kind == "ClusterConfig"
	some [f, i, g] in groups(w.object)
	some [field, msg] in required
	object.get(g, field, false) != true
	v := {"msg": msg, "path": [f, i, field], "container": "", "image": "", "value": object.get(g, "name", "")}
}

ssh(w) := {v |
	w.kind == "ClusterConfig"
	some [f, i, g] in groups(w.object)
	object.get(object.get(g, "ssh", {}), "allow", false) != false
	v := {"msg": "SSH access to nodes is enabled", "path": [f, i, "ssh", "allow"], "container": "", "image": "", "value": object.get(g, "name", "")}
}

ami(w, params) := {v |
	w.kind == "ClusterConfig"
	some [f, i, g] in groups(w.object)
	family := object.get(g, "amiFamily", "AmazonLinux2023")
	not family in {x | some x in params.amiFamilies}
	v := {"msg": "node group AMI family is not a hardened, container-optimised one", "path": [f, i, "amiFamily"], "container": "", "image": "", "value": family}
}
