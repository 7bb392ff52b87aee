# Bank rule: no root group — runAsGroup, fsGroup and supplementalGroups must not be 0.
package lib.riskgrid.policies.wkl_root_groups

# The three checks inline (one call per object instead of four); `p.sc.supplementalGroups`
# by plain reference (`p.sc` is always an object; absent groups leave the loop empty).
violations(w, params) := {v |
	some p in w.pods
	some field in ["runAsGroup", "fsGroup"]
	p.sc[field] == 0
	v := {"msg": "pod uses the root group", "path": array.concat(p.path, ["securityContext", field]), "container": "", "image": ""}
} | {v |
	some p in w.pods
	groups := p.sc.supplementalGroups
	some i
	groups[i] == 0
	v := {"msg": "pod adds the root group", "path": array.concat(p.path, ["securityContext", "supplementalGroups", i]), "container": "", "image": ""}
} | {v |
	some c in w.containers
	c.own_sc.runAsGroup == 0
	v := {"msg": "container runs with the root group", "path": array.concat(c.path, ["securityContext", "runAsGroup"]), "container": c.name, "image": c.image}
}
