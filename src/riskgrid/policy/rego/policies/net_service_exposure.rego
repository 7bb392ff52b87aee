# Bank rule: tenant Services are ClusterIP only — no NodePort, LoadBalancer or ExternalName
# (types listed in params.types).
package lib.riskgrid.policies.net_service_exposure

violations(w, params) := {v |
	w.kind == "Service"
	t := object.get(w.object.spec, "type", "ClusterIP")
	t in object.get(params, "types", ["NodePort", "LoadBalancer", "ExternalName"])
	v := {"msg": "Service type exposes the workload outside the cluster network policy", "path": ["spec", "type"], "container": "", "image": "", "value": t}
}
