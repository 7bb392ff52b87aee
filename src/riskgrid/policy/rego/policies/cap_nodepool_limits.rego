# Bank rule: every Karpenter NodePool has a CPU limit — the burst ceiling the capacity plan
# set. Without one, a queue misconfiguration or a runaway job launches instances without bound.
package lib.riskgrid.policies.cap_nodepool_limits

violations(w, params) := {v |
	w.kind == "NodePool"
	not has_cpu_limit(w.object)
	v := {"msg": "NodePool has no CPU limit: Karpenter may launch capacity without bound", "path": ["spec", "limits", "cpu"], "container": "", "image": ""}
}

has_cpu_limit(obj) if {
	limit := obj.spec.limits.cpu
	limit != null
	limit != ""
}
