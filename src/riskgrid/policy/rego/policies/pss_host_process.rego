# PSS baseline "HostProcess": Windows HostProcess containers are forbidden.
package lib.riskgrid.policies.pss_host_process

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some p in w.pods
	p.sc.windowsOptions.hostProcess == true
	v := {"msg": "pod requests Windows HostProcess", "path": array.concat(p.path, ["securityContext", "windowsOptions", "hostProcess"]), "container": "", "image": ""}
} | {v |
	some c in w.containers
	c.own_sc.windowsOptions.hostProcess == true
	v := {"msg": "container requests Windows HostProcess", "path": array.concat(c.path, ["securityContext", "windowsOptions", "hostProcess"]), "container": c.name, "image": c.image}
}
