# PSS restricted "Running as Non-root": runAsNonRoot must be true on the pod or on every
# container, and no container may set it to false.
package lib.riskgrid.policies.pss_run_as_non_root

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some p in w.pods
	p.sc.runAsNonRoot == false
	v := {"msg": "runAsNonRoot must not be false", "path": array.concat(p.path, ["securityContext", "runAsNonRoot"]), "container": "", "image": ""}
} | {v |
	some c in w.containers
	c.own_sc.runAsNonRoot == false
	v := {"msg": "runAsNonRoot must not be false", "path": array.concat(c.path, ["securityContext", "runAsNonRoot"]), "container": c.name, "image": c.image}
} | {v |
	some c in w.containers
	not w.pods[c.pod].sc.runAsNonRoot == true
	not c.own_sc.runAsNonRoot == true
	not c.own_sc.runAsNonRoot == false
	v := {"msg": "runAsNonRoot must be true on the pod or the container", "path": array.concat(c.path, ["securityContext", "runAsNonRoot"]), "container": c.name, "image": c.image}
}
