# Bank rule: every EKS add-on is pinned to an exact version (vX.Y.Z-eksbuild.N), so that a
# cluster change is a reviewed change, and the VPC CNI's network policy agent matches the
# platform's choice of enforcement (off when Calico enforces, CIS Amazon EKS 4.3.1 / 5.4.4).
package lib.riskgrid.policies.eks_addons

violations(w, params) := pinned(w) | cni(w, params)

pinned(w) := {v |
	w.kind == "ClusterConfig"
	addons := object.get(w.object, "addons", [])
	some i
	a := addons[i]
	version := object.get(a, "version", "")
	not regex.match(`^v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+$`, version)
	v := {"msg": "add-on version is not pinned", "path": ["addons", i, "version"], "container": "", "image": "", "value": object.get(a, "name", "")}
}

# configurationValues is JSON or YAML text; read the one key without parsing either (the
# value is a string "true"/"false" in the vpc-cni add-on's configuration schema).
cni_policy(a) := "false" if {
	regex.match(`enableNetworkPolicy["']?\s*:\s*["']?false`, object.get(a, "configurationValues", ""))
} else := "true" if {
	regex.match(`enableNetworkPolicy["']?\s*:\s*["']?true`, object.get(a, "configurationValues", ""))
} else := "unset"

wanted(params) := "false" if {
	params.calico == true
} else := "true"

cni(w, params) := {v |
	w.kind == "ClusterConfig"
	addons := object.get(w.object, "addons", [])
	some i
	a := addons[i]
	a.name == "vpc-cni"
	want := wanted(params)
	got := cni_policy(a)
	got != want
	v := {"msg": concat("", ["VPC CNI network policy agent must be ", want, " (it is off exactly when Calico enforces)"]), "path": ["addons", i, "configurationValues"], "container": "", "image": "", "value": got}
}
