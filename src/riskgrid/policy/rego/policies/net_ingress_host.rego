# Bank rule: Ingress rules name an explicit host (no empty or wildcard host that would capture
# other tenants' traffic) and, unless params.requireTls is false, every host is covered by TLS.
package lib.riskgrid.policies.net_ingress_host

wildcard(host) if host == ""

wildcard(host) if contains(host, "*")

tls_host(spec, host) if {
	some entry in object.get(spec, "tls", [])
	host in object.get(entry, "hosts", [])
}

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	w.kind == "Ingress"
	rules := object.get(w.object.spec, "rules", [])
	some i
	rule := rules[i]
	host := object.get(rule, "host", "")
	wildcard(host)
	v := {"msg": "Ingress rule has an empty or wildcard host", "path": ["spec", "rules", i, "host"], "container": "", "image": "", "value": host}
} | {v |
	w.kind == "Ingress"
	rules := object.get(w.object.spec, "rules", [])
	some i
	rule := rules[i]
	host := object.get(rule, "host", "")
	object.get(params, "requireTls", true) == true
	not wildcard(host)
	not tls_host(w.object.spec, host)
	v := {"msg": "Ingress host is not covered by TLS", "path": ["spec", "rules", i, "host"], "container": "", "image": "", "value": host}
} | {v |
	w.kind == "Ingress"
	is_object(w.object.spec.defaultBackend)
	v := {"msg": "Ingress defaultBackend catches every host", "path": ["spec", "defaultBackend"], "container": "", "image": ""}
}
