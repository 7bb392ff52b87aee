# PSS baseline "/proc Mount Type": procMount must be Default unless the pod uses a user
# namespace (hostUsers: false), where Unmasked is allowed at baseline.
package lib.riskgrid.policies.pss_proc_mount

violations(w, params) := {v |
	some c in w.containers
	pod := w.pods[c.pod]
	not object.get(pod.spec, "hostUsers", true) == false
	mount := c.own_sc.procMount
	is_string(mount)
	mount != "Default"
	v := {"msg": "procMount must be Default for pods sharing the host user namespace", "path": array.concat(c.path, ["securityContext", "procMount"]), "container": c.name, "image": c.image, "value": mount}
}
