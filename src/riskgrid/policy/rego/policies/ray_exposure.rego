# Bank rule: a Ray cluster's dashboard / job API (CVE-2023-48022: unauthenticated remote job
# submission) requires token auth and is never exposed beyond its namespace: no NodePort or
# LoadBalancer head service, no operator-made Ingress, and no Service or Ingress of another
# shape pointing at the dashboard (8265) or client (10001) ports from outside ClusterIP.
package lib.riskgrid.policies.ray_exposure

ray_ports := {8265, 10001, "dashboard", "client"}

clusters(w) := [{"spec": w.object.spec, "path": ["spec"]}] if {
	w.kind == "RayCluster"
} else := [{"spec": w.object.spec.rayClusterSpec, "path": ["spec", "rayClusterSpec"]}] if {
	w.kind == "RayJob"
	is_object(w.object.spec.rayClusterSpec)
} else := [{"spec": w.object.spec.rayClusterConfig, "path": ["spec", "rayClusterConfig"]}] if {
	w.kind == "RayService"
	is_object(w.object.spec.rayClusterConfig)
} else := []

# Services and Ingresses (most of the objects this applies to) only run their own check; the
# Ray kinds run one body per concern, written inline (each helper call costs as much as the
# check itself). `clusters` is computed once. The Service check — a non-ClusterIP Service
# that selects Ray head pods or targets a Ray port — is the first branch itself, not a call:
# Services are the commonest objects here, and nearly all stop at their type.
violations(w, params) := {v |
	t := object.get(w.object.spec, "type", "ClusterIP")
	t != "ClusterIP"
	targets_ray(w.object.spec)
	v := {"msg": "Service exposes the Ray dashboard/job API", "path": ["spec", "type"], "container": "", "image": "", "value": t}
} if {
	w.kind == "Service"
} else := ingress_backend_violations(w) if {
	w.kind == "Ingress"
} else := vs if {
	cs := clusters(w)
	vs := {v |
		some c in cs
		not c.spec.authOptions.mode == "token"
		v := {"msg": "Ray cluster does not require token authentication", "path": array.concat(c.path, ["authOptions", "mode"]), "container": "", "image": ""}
	} | {v |
		some c in cs
		t := object.get(c.spec.headGroupSpec, "serviceType", "ClusterIP")
		t != "ClusterIP"
		v := {"msg": "Ray head service is exposed outside the cluster", "path": array.concat(c.path, ["headGroupSpec", "serviceType"]), "container": "", "image": "", "value": t}
	} | {v |
		some c in cs
		c.spec.headGroupSpec.enableIngress == true
		v := {"msg": "Ray head has an Ingress", "path": array.concat(c.path, ["headGroupSpec", "enableIngress"]), "container": "", "image": ""}
	}
}

targets_ray(spec) if object.get(spec, "selector", {})["ray.io/node-type"] == "head"

targets_ray(spec) if {
	some port in object.get(spec, "ports", [])
	some field in ["port", "targetPort"]
	ray_ports[port[field]]
}

ingress_backend_violations(w) := {v |
	rules := object.get(w.object.spec, "rules", [])
	some i
	rule := rules[i]
	paths := object.get(object.get(rule, "http", {}), "paths", [])
	some j
	path := paths[j]
	port := path.backend.service.port
	ray_port(port)
	v := {"msg": "Ingress routes to the Ray dashboard/job API", "path": ["spec", "rules", i, "http", "paths", j, "backend"], "container": "", "image": ""}
} if w.kind == "Ingress"

else := set()

ray_port(port) if ray_ports[port.number]

ray_port(port) if ray_ports[port.name]
