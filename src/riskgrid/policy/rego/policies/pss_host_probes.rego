# PSS baseline "Host Probes / Lifecycle Hooks": probes and lifecycle handlers must not set
# `host` (they would let the kubelet reach arbitrary addresses on the pod's behalf).
package lib.riskgrid.policies.pss_host_probes

handlers(ctr) := array.concat(
	[h |
		some probe in ["livenessProbe", "readinessProbe", "startupProbe"]
		is_object(ctr[probe])
		h := {"path": [probe], "h": ctr[probe]}
	],
	[h |
		some hook in ["postStart", "preStop"]
		is_object(ctr.lifecycle[hook])
		h := {"path": ["lifecycle", hook], "h": ctr.lifecycle[hook]}
	],
)

violations(w, params) := {v |
	some c in w.containers
	some h in handlers(c.container)
	some action in ["httpGet", "tcpSocket"]
	host := h.h[action].host
	host != ""
	v := {"msg": "probe or lifecycle handler sets host", "path": array.concat(array.concat(c.path, h.path), [action, "host"]), "container": c.name, "image": c.image, "value": host}
}
