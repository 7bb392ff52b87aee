# PSS baseline "HostProcess": Windows HostProcess containers are forbidden.
package lib.riskgrid.policies.pss_host_process

pod_violations(w) := {v |
	some p in w.pods
	p.sc.windowsOptions.hostProcess == true
	v := {"msg": "pod requests Windows HostProcess", "path": array.concat(p.path, ["securityContext", "windowsOptions", "hostProcess"]), "container": "", "image": ""}
}

container_violations(w) := {v |
	some c in w.containers
	c.own_sc.windowsOptions.hostProcess == true
	v := {"msg": "container requests Windows HostProcess", "path": array.concat(c.path, ["securityContext", "windowsOptions", "hostProcess"]), "container": c.name, "image": c.image}
}

violations(w, params) := pod_violations(w) | container_violations(w)
