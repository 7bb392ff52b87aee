# Bank rule: tenant-owned objects carry the ownership labels (default riskgrid.dev/tenant and
# riskgrid.dev/cost-centre) that chargeback, audit and network isolation rely on. Applies to
# Namespaces and every workload kind (pod templates are not checked: controllers copy labels).
package lib.riskgrid.policies.gov_required_labels

import data.lib.riskgrid.workload

violations(w, params) := {v |
	applies(w)
	some key in object.get(params, "labels", [])
	not non_empty(w.labels, key)
	v := {"msg": "object is missing a required label", "path": ["metadata", "labels", key], "container": "", "image": "", "value": key}
}

applies(w) if w.kind == "Namespace"

applies(w) if workload.is_workload(w)

non_empty(labels, key) if labels[key] != ""
