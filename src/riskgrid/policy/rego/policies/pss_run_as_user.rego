# PSS restricted "Running as Non-root user": runAsUser must not be 0 (pod or container).
package lib.riskgrid.policies.pss_run_as_user

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some p in w.pods
	p.sc.runAsUser == 0
	v := {"msg": "runAsUser must not be 0", "path": array.concat(p.path, ["securityContext", "runAsUser"]), "container": "", "image": ""}
} | {v |
	some c in w.containers
	c.own_sc.runAsUser == 0
	v := {"msg": "runAsUser must not be 0", "path": array.concat(c.path, ["securityContext", "runAsUser"]), "container": c.name, "image": c.image}
}
