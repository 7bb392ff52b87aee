# Bank rule: no interactive containers (stdin/tty) — batch and service workloads never need
# them, and they are how an attached shell survives.
package lib.riskgrid.policies.wkl_interactive

# One comprehension per field, its test first: a container that sets neither costs two failed
# references, not a container-type test and a loop over a field list.
violations(w, params) := {v |
	some c in w.containers
	c.container.stdin == true
	c.type != "ephemeralContainers"
	v := {"msg": "container is interactive", "path": array.concat(c.path, ["stdin"]), "container": c.name, "image": c.image}
} | {v |
	some c in w.containers
	c.container.tty == true
	c.type != "ephemeralContainers"
	v := {"msg": "container is interactive", "path": array.concat(c.path, ["tty"]), "container": c.name, "image": c.image}
}
