# PSS restricted "Seccomp": RuntimeDefault or Localhost must be set on the pod or on every
# container (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_seccomp_restricted

# The three checks inline (one call per object instead of four). In each, the test that usually
# fails comes first; `not windows` only for the rare candidate. The allowed types a set literal,
# not a rule: every pod sets a type, and a rule reference is looked up again each time.
violations(w, params) := {v |
	some p in w.pods
	t := p.sc.seccompProfile.type
	not t in {"RuntimeDefault", "Localhost"}
	not p.windows
	v := {"msg": "seccomp profile must be RuntimeDefault or Localhost", "path": array.concat(p.path, ["securityContext", "seccompProfile", "type"]), "container": "", "image": "", "value": t}
} | {v |
	some c in w.containers
	t := c.own_sc.seccompProfile.type
	not t in {"RuntimeDefault", "Localhost"}
	not c.windows
	v := {"msg": "seccomp profile must be RuntimeDefault or Localhost", "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]), "container": c.name, "image": c.image, "value": t}
} | {v |
	some c in w.containers
	not w.pods[c.pod].sc.seccompProfile.type
	not c.own_sc.seccompProfile.type
	not c.windows
	v := {"msg": "seccomp profile must be set on the pod or the container", "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]), "container": c.name, "image": c.image}
}
