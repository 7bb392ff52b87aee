# PSS restricted "/proc Mount Type": procMount must be Default, even in a user namespace.
package lib.riskgrid.policies.pss_proc_mount_restricted

violations(w, params) := {v |
	some c in w.containers
	mount := c.own_sc.procMount
	is_string(mount)
	mount != "Default"
	v := {"msg": "procMount must be Default", "path": array.concat(c.path, ["securityContext", "procMount"]), "container": c.name, "image": c.image, "value": mount}
}
