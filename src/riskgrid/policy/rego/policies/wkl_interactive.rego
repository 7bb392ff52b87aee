# Bank rule: no interactive containers (stdin/tty) — batch and service workloads never need
# them, and they are how an attached shell survives.
package lib.riskgrid.policies.wkl_interactive

violations(w, params) := {v |
	some c in w.containers
	c.type != "ephemeralContainers"
	some field in ["stdin", "tty"]
	c.container[field] == true
	v := {"msg": "container is interactive", "path": array.concat(c.path, [field]), "container": c.name, "image": c.image}
}
