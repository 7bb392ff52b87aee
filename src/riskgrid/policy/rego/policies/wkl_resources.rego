# Bank rule: every container declares the requests and limits the platform schedules and
# bills by (default: cpu and memory requests, memory limit).
package lib.riskgrid.policies.wkl_resources

violations(w, params) := {v |
	some c in w.containers
	c.type != "ephemeralContainers"
	some section in ["requests", "limits"]
	some resource in object.get(params, section, [])
	object.get(c.container, ["resources", section, resource], null) in missing
	v := {"msg": "container does not declare a required resource", "path": array.concat(c.path, ["resources", section, resource]), "container": c.name, "image": c.image, "value": resource}
}

# Absent, null or empty: not declared. (A path lookup, not a helper function: this runs for
# every resource of every container.)
missing := {null, ""}
