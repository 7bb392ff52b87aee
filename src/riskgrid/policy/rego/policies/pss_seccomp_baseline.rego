# PSS baseline "Seccomp": the profile must never be Unconfined (pod or container).
package lib.riskgrid.policies.pss_seccomp_baseline

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some p in w.pods
	p.sc.seccompProfile.type == "Unconfined"
	v := {"msg": "seccomp profile is Unconfined", "path": array.concat(p.path, ["securityContext", "seccompProfile", "type"]), "container": "", "image": ""}
} | {v |
	some c in w.containers
	c.own_sc.seccompProfile.type == "Unconfined"
	v := {"msg": "seccomp profile is Unconfined", "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]), "container": c.name, "image": c.image}
}
