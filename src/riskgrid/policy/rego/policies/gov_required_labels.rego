# Bank rule: tenant-owned objects carry the ownership labels (default riskgrid.dev/tenant and
# riskgrid.dev/cost-centre) that chargeback, audit and network isolation rely on. Applies to
# Namespaces and every workload kind (pod templates are not checked: controllers copy labels).
package lib.riskgrid.policies.gov_required_labels

# Namespaces and workloads (objects with pod templates, i.e. a first pod: the same test as
# lib.riskgrid.workload.is_workload, without its call); the label test is inline (no helper
# call per label). One `else` chain, workloads first (they are most of the objects), with the
# comprehension written into each branch: a shared helper would cost a call per object.
violations(w, params) := {v |
	some key in object.get(params, "labels", [])
	not w.labels[key] != ""
	v := {"msg": "object is missing a required label", "path": ["metadata", "labels", key], "container": "", "image": "", "value": key}
} if {
	w.pods[0]
} else := {v |
	some key in object.get(params, "labels", [])
	not w.labels[key] != ""
	v := {"msg": "object is missing a required label", "path": ["metadata", "labels", key], "container": "", "image": "", "value": key}
} if {
	w.kind == "Namespace"
} else := set()
