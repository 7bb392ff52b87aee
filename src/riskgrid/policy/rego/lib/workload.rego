# Field paths are arrays of segments (["spec", "containers", 0, "image"]); Python renders them.
# Policies build no strings with sprintf or concat: rego-cpp (regopy) re-quotes policy-literal
# and concat-built strings formatted with %s, so text would differ by engine.
#
# Workload normalisation: any Kubernetes object → the pod specs and containers it carries.
#
# Every pod-level policy reads `w.pods` and `w.containers` from `normalise(obj)` instead of
# knowing where each kind keeps its pod template. The same module is bundled as a Gatekeeper
# `lib` into every exported ConstraintTemplate, so in-process and in-cluster decisions share it.
package lib.riskgrid.workload

import data.lib.riskgrid.images

# Kinds whose pod template sits at spec.template.
template_kinds := {
	"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
	"ReplicationController", "Job",
}

# Container lists of a pod spec, in the order violations are reported.
container_fields := ["initContainers", "containers", "ephemeralContainers"]

# Security-context fields a container inherits from the pod when it leaves them unset.
inherited_fields := [
	"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions",
	"seccompProfile", "appArmorProfile", "windowsOptions",
]

# Kinds that carry pod templates; every other kind normalises to no pods without trying each
# kind's template rule (most objects of a bundle are Services, RBAC, policies...).
workload_kinds := template_kinds | {
	"Pod", "CronJob", "PodTemplate", "RayCluster", "RayJob", "RayService",
}

metadata(obj) := object_or_empty(object.get(obj, "metadata", {}))

# `field: null` means unset in Kubernetes: read it as an empty object, never as a type error
# (an error would stop a local check, and in Gatekeeper make the rule undefined — a pass).
object_or_empty(x) := x if is_object(x)

else := {}

# Each pod template of the object: {"path", "spec", "meta"} (meta = the pod's own metadata).
# One `else` chain, commonest kinds first: a function's separate definitions would all be
# evaluated for every object.
pod_templates(obj) := [template_at(obj.spec.template, ["spec", "template"])] if {
	template_kinds[obj.kind]
} else := [{"path": ["spec"], "spec": obj.spec, "meta": metadata(obj)}] if {
	obj.kind == "Pod"
	is_object(obj.spec)
} else := [template_at(obj.spec.jobTemplate.spec.template, ["spec", "jobTemplate", "spec", "template"])] if {
	obj.kind == "CronJob"
} else := ray_templates(obj.spec, ["spec"]) if {
	obj.kind == "RayCluster"
} else := array.concat(
	ray_templates(object.get(obj.spec, "rayClusterSpec", {}), ["spec", "rayClusterSpec"]),
	submitter_templates(obj.spec),
) if {
	obj.kind == "RayJob"
} else := ray_templates(object.get(obj.spec, "rayClusterConfig", {}), ["spec", "rayClusterConfig"]) if {
	obj.kind == "RayService"
} else := [template_at(obj.template, ["template"])] if {
	obj.kind == "PodTemplate"
} else := []

template_at(tpl, path) := {
	"path": array.concat(path, ["spec"]),
	"spec": object.get(t, "spec", {}),
	"meta": object.get(t, "metadata", {}),
} if {
	t := object_or_empty(tpl)
}

# Comprehension heads are always a plain variable computed in the body: rego-cpp evaluates a
# call or literal in the head without the enclosing function's arguments.
ray_templates(cluster, path) := array.concat(head, workers) if {
	head_path := array.concat(path, ["headGroupSpec", "template"])
	workers_path := array.concat(path, ["workerGroupSpecs"])
	head := [t |
		is_object(object.get(cluster, "headGroupSpec", null))
		t := template_at(cluster.headGroupSpec.template, head_path)
	]
	groups := object.get(cluster, "workerGroupSpecs", [])
	workers := [t |
		some i
		group := groups[i]
		t := template_at(group.template, array.concat(workers_path, [i, "template"]))
	]
}

submitter_templates(spec) := [template_at(spec.submitterPodTemplate, ["spec", "submitterPodTemplate"])] if {
	is_object(object.get(spec, "submitterPodTemplate", null))
}

default submitter_templates(_) := []

# Pod templates with the pod-level security context resolved. `inherited` is the part of the
# pod's security context that its containers inherit (below), taken once per pod rather than
# once per container. (An object literal and an inline `==`, not `object.union` and a helper
# call: this runs for every pod template.)
pods(obj) := [p |
	some t in pod_templates(obj)
	spec := t.spec
	is_object(spec)
	sc := object_or_empty(object.get(spec, "securityContext", {}))
	windows := object.get(spec, ["os", "name"], "") == "windows"
	p := {
		"path": t.path,
		"spec": spec,
		"meta": t.meta,
		"sc": sc,
		"inherited": object.filter(sc, inherited_fields),
		"windows": windows,
	}
]

# Every container of every pod template, with where it sits and its effective security context.
# (Index iteration, not `some i, x in`: rego-cpp rejects two-variable `some` in comprehensions.)
containers(obj, pod_list) := [c |
	some pi
	p := pod_list[pi]
	some field in container_fields
	ctrs := object.get(p.spec, field, [])
	some i
	ctr := ctrs[i]
	own := object_or_empty(object.get(ctr, "securityContext", {}))
	image := object.get(ctr, "image", "")
	c := {
		"pod": pi,
		"type": field,
		"name": object.get(ctr, "name", ""),
		"image": image,
		"ref": images.parse(image),
		"windows": p.windows,
		"path": array.concat(p.path, [field, i]),
		"container": ctr,
		"own_sc": own,
		# The effective security context: the container's own settings win, and the pod's
		# inherited fields fill the gaps with whole values. The two key sets are disjoint on
		# purpose: object.union merges nested objects, Kubernetes does not.
		"sc": object.union(own, object.remove(p.inherited, own)),
	}
]


kind_of(obj) := object.get(obj, "kind", "")

# The normalised view every policy receives. Metadata is read by path (null-safe, no call);
# objects of non-workload kinds skip the pod and container walk altogether.
normalise(obj) := w if {
	kind := object.get(obj, "kind", "")
	workload_kinds[kind]
	pod_list := pods(obj)
	w := {
		"kind": kind,
		"apiVersion": object.get(obj, "apiVersion", ""),
		"name": object.get(obj, ["metadata", "name"], ""),
		"namespace": object.get(obj, ["metadata", "namespace"], ""),
		"labels": object.get(obj, ["metadata", "labels"], {}),
		"annotations": object.get(obj, ["metadata", "annotations"], {}),
		"object": obj,
		"pods": pod_list,
		"containers": containers(obj, pod_list),
	}
} else := w if {
	w := {
		"kind": object.get(obj, "kind", ""),
		"apiVersion": object.get(obj, "apiVersion", ""),
		"name": object.get(obj, ["metadata", "name"], ""),
		"namespace": object.get(obj, ["metadata", "namespace"], ""),
		"labels": object.get(obj, ["metadata", "labels"], {}),
		"annotations": object.get(obj, ["metadata", "annotations"], {}),
		"object": obj,
		"pods": [],
		"containers": [],
	}
}

is_workload(w) if count(w.pods) > 0
