# PSS restricted "Privilege Escalation": allowPrivilegeEscalation must be false
# (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_privilege_escalation

# The test that usually fails first (most containers set it false), `not c.windows` after.
violations(w, params) := {v |
	some c in w.containers
	not c.own_sc.allowPrivilegeEscalation == false
	not c.windows
	v := {"msg": "allowPrivilegeEscalation must be false", "path": array.concat(c.path, ["securityContext", "allowPrivilegeEscalation"]), "container": c.name, "image": c.image}
}
