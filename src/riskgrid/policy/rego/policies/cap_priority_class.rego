# Bank rule: a desk may only use the Kueue WorkloadPriorityClasses the capacity plan grants it
# (end-of-day regulatory priority preempts other desks' work, so it is granted, not assumed),
# and no desk pod claims a system-critical PriorityClass.
package lib.riskgrid.policies.cap_priority_class

priority_label := "kueue.x-k8s.io/priority-class"

allowed_class(params, _, c) if {
	some a in object.get(params, "allowed", [])
	a == c
}

allowed_class(params, ns, c) if {
	some a in object.get(object.get(params, "namespaces", {}), ns, [])
	a == c
}

# The three checks inline (one call per object instead of four).
violations(w, params) := {v |
	# priority_label written in: a literal costs nothing, a rule reference a lookup per object.
	c := object.get(w.labels, "kueue.x-k8s.io/priority-class", "")
	c != ""
	not allowed_class(params, w.namespace, c)
	v := {"msg": "workload priority class not granted to this namespace", "path": ["metadata", "labels", priority_label], "container": "", "image": "", "value": c}
} | {v |
	w.kind == "Workload"
	spec := object.get(w.object, "spec", {})
	object.get(spec, "priorityClassSource", "") == "kueue.x-k8s.io/workloadpriorityclass"
	c := object.get(spec, "priorityClassName", "")
	not allowed_class(params, w.namespace, c)
	v := {"msg": "workload priority class not granted to this namespace", "path": ["spec", "priorityClassName"], "container": "", "image": "", "value": c}
} | {v |
	# A plain reference: a pod spec is always an object here, and a missing name (undefined)
	# skips the pod just as "" failed the prefix test.
	some pod in w.pods
	c := pod.spec.priorityClassName
	startswith(c, "system-")
	path := array.concat(pod.path, ["priorityClassName"])
	v := {"msg": "pod claims a system-critical priority class", "path": path, "container": "", "image": "", "value": c}
}
