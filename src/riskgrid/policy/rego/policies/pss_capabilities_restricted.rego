# PSS restricted "Capabilities": drop ALL, and add nothing but NET_BIND_SERVICE
# (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_capabilities_restricted

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some c in w.containers
	not c.windows
	drops := object.get(object.get(c.own_sc, "capabilities", {}), "drop", [])
	not "ALL" in drops
	v := {"msg": "capabilities must drop ALL", "path": array.concat(c.path, ["securityContext", "capabilities", "drop"]), "container": c.name, "image": c.image}
} | {v |
	some c in w.containers
	not c.windows
	added := object.get(object.get(c.own_sc, "capabilities", {}), "add", [])
	some i
	cap := added[i]
	cap != "NET_BIND_SERVICE"
	v := {"msg": "only NET_BIND_SERVICE may be added", "path": array.concat(c.path, ["securityContext", "capabilities", "add", i]), "container": c.name, "image": c.image, "value": cap}
}
