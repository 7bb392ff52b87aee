# PSS restricted "Privilege Escalation": allowPrivilegeEscalation must be false
# (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_privilege_escalation


violations(w, params) := {v |
	some c in w.containers
	not c.windows
	not c.own_sc.allowPrivilegeEscalation == false
	v := {"msg": "allowPrivilegeEscalation must be false", "path": array.concat(c.path, ["securityContext", "allowPrivilegeEscalation"]), "container": c.name, "image": c.image}
}
