# Bank rule: containers run with a read-only root filesystem.
package lib.riskgrid.policies.wkl_read_only_root

violations(w, params) := {v |
	some c in w.containers
	not c.own_sc.readOnlyRootFilesystem == true
	v := {"msg": "readOnlyRootFilesystem must be true", "path": array.concat(c.path, ["securityContext", "readOnlyRootFilesystem"]), "container": c.name, "image": c.image}
}
