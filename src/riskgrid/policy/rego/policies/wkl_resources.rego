# Bank rule: every container declares the requests and limits the platform schedules and
# bills by (default: cpu and memory requests, memory limit).
package lib.riskgrid.policies.wkl_resources

# Absent, null or empty: not declared. A path lookup (never a type error, whatever sits on the
# path), not a helper function, and the set a literal, not a rule: this runs for every resource
# of every container, and a rule reference is looked up again each time (~0.7 µs in regorus).
# (Not the reference `c.container.resources[section][resource]`: with two variables in it,
# regorus made the whole policy ~3.5x slower, 78 instead of 21 µs per workload.)
# The lists by reference, `params[section]`: params is the policy's parameter object (its
# schema: an object of string lists), and an absent list leaves the loop empty, as [] did.
violations(w, params) := {v |
	some c in w.containers
	c.type != "ephemeralContainers"
	some section in ["requests", "limits"]
	some resource in params[section]
	object.get(c.container, ["resources", section, resource], null) in {null, ""}
	v := {"msg": "container does not declare a required resource", "path": array.concat(c.path, ["resources", section, resource]), "container": c.name, "image": c.image, "value": resource}
}
