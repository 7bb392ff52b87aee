# PSS restricted "Capabilities": drop ALL, and add nothing but NET_BIND_SERVICE
# (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_capabilities_restricted

# The checks inline: one call per object, not one per check. Plain references first, the test
# that usually fails (most containers drop ALL and add nothing), so the common container costs
# a reference and an `in`. Errors stay as they were: for a non-Windows container whose
# `capabilities` is not an object, the exact test (object.get) of the first comprehension is a
# type error — it was one in both comprehensions before, and one error fails the whole call.
violations(w, params) := {v |
	some c in w.containers
	not "ALL" in c.own_sc.capabilities.drop
	not c.windows
	not "ALL" in object.get(c.own_sc.capabilities, "drop", [])
	v := {"msg": "capabilities must drop ALL", "path": array.concat(c.path, ["securityContext", "capabilities", "drop"]), "container": c.name, "image": c.image}
} | {v |
	some c in w.containers
	some i
	cap := c.own_sc.capabilities.add[i]
	cap != "NET_BIND_SERVICE"
	not c.windows
	v := {"msg": "only NET_BIND_SERVICE may be added", "path": array.concat(c.path, ["securityContext", "capabilities", "add", i]), "container": c.name, "image": c.image, "value": cap}
}
