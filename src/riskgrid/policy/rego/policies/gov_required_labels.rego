# Bank rule: tenant-owned objects carry the ownership labels (default riskgrid.dev/tenant and
# riskgrid.dev/cost-centre) that chargeback, audit and network isolation rely on. Applies to
# Namespaces and every workload kind (pod templates are not checked: controllers copy labels).
package lib.riskgrid.policies.gov_required_labels

import data.lib.riskgrid.workload

# Namespaces and workloads (objects with pod templates); the label test is inline (no helper
# call per label).
violations(w, params) := {v |
	some key in object.get(params, "labels", [])
	not w.labels[key] != ""
	v := {"msg": "object is missing a required label", "path": ["metadata", "labels", key], "container": "", "image": "", "value": key}
} if {
	applies(w)
} else := set()

# One `else` chain (two definitions would both be evaluated for every workload).
applies(w) := true if w.kind == "Namespace"

else := workload.is_workload(w)
