# PSS baseline "Privileged Containers": securityContext.privileged must be unset or false.
package lib.riskgrid.policies.pss_privileged

violations(w, params) := {v |
	some c in w.containers
	c.own_sc.privileged == true
	v := {"msg": "container runs privileged", "path": array.concat(c.path, ["securityContext", "privileged"]), "container": c.name, "image": c.image}
}
