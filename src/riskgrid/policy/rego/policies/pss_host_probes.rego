# PSS baseline "Host Probes / Lifecycle Hooks": probes and lifecycle handlers must not set
# `host` (they would let the kubelet reach arbitrary addresses on the pod's behalf).
package lib.riskgrid.policies.pss_host_probes

# One comprehension per handler family, the handler read in place: no list of handlers is
# built per container (this runs for every container of every workload). `lifecycle` is read
# before the hooks are iterated: most containers have none, and the loop then never starts.
violations(w, params) := {v |
	some c in w.containers
	some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
	handler := c.container[probe]
	is_object(handler)
	some action in ["httpGet", "tcpSocket"]
	host := handler[action].host
	host != ""
	v := {"msg": "probe or lifecycle handler sets host", "path": array.concat(c.path, [probe, action, "host"]), "container": c.name, "image": c.image, "value": host}
} | {v |
	some c in w.containers
	hooks := c.container.lifecycle
	some hook in ["postStart", "preStop"]
	handler := hooks[hook]
	is_object(handler)
	some action in ["httpGet", "tcpSocket"]
	host := handler[action].host
	host != ""
	v := {"msg": "probe or lifecycle handler sets host", "path": array.concat(c.path, ["lifecycle", hook, action, "host"]), "container": c.name, "image": c.image, "value": host}
}
