# PSS restricted "Seccomp": RuntimeDefault or Localhost must be set on the pod or on every
# container (not checked for Windows pods, as in PSS).
package lib.riskgrid.policies.pss_seccomp_restricted

allowed := {"RuntimeDefault", "Localhost"}

# The three checks inline (one call per object instead of four). In each, the test that usually
# fails comes first; `not windows` only for the rare candidate.
violations(w, params) := {v |
	some p in w.pods
	t := p.sc.seccompProfile.type
	not allowed[t]
	not p.windows
	v := {"msg": "seccomp profile must be RuntimeDefault or Localhost", "path": array.concat(p.path, ["securityContext", "seccompProfile", "type"]), "container": "", "image": "", "value": t}
} | {v |
	some c in w.containers
	t := c.own_sc.seccompProfile.type
	not allowed[t]
	not c.windows
	v := {"msg": "seccomp profile must be RuntimeDefault or Localhost", "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]), "container": c.name, "image": c.image, "value": t}
} | {v |
	some c in w.containers
	not w.pods[c.pod].sc.seccompProfile.type
	not c.own_sc.seccompProfile.type
	not c.windows
	v := {"msg": "seccomp profile must be set on the pod or the container", "path": array.concat(c.path, ["securityContext", "seccompProfile", "type"]), "container": c.name, "image": c.image}
}
