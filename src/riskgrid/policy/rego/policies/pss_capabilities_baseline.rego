# PSS baseline "Capabilities": only the container runtime's default set may be added.
package lib.riskgrid.policies.pss_capabilities_baseline

allowed := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

# `c.own_sc.capabilities` by reference (own_sc is always an object; absent capabilities make
# the list undefined, as [] did), the list by object.get: a non-object `capabilities` stays the
# type error it was.
violations(w, params) := {v |
	some c in w.containers
	added := object.get(c.own_sc.capabilities, "add", [])
	some i
	cap := added[i]
	not allowed[cap]
	v := {"msg": "container adds a capability outside the baseline set", "path": array.concat(c.path, ["securityContext", "capabilities", "add", i]), "container": c.name, "image": c.image, "value": cap}
}
