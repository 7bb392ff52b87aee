# PSS baseline "/proc Mount Type": procMount must be Default unless the pod uses a user
# namespace (hostUsers: false), where Unmasked is allowed at baseline.
package lib.riskgrid.policies.pss_proc_mount

# The test that usually fails first (procMount is rarely set); the pod's hostUsers only then.
violations(w, params) := {v |
	some c in w.containers
	mount := c.own_sc.procMount
	is_string(mount)
	mount != "Default"
	not object.get(w.pods[c.pod].spec, "hostUsers", true) == false
	v := {"msg": "procMount must be Default for pods sharing the host user namespace", "path": array.concat(c.path, ["securityContext", "procMount"]), "container": c.name, "image": c.image, "value": mount}
}
