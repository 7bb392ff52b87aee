# Bank rule: capacity is the platform's. Flavors, cohorts, priority classes, NodePools and
# node classes are rendered by the platform (owner label `platform`, managed by riskgrid) and
# never written by a desk or into a desk's namespace; a ClusterQueue is managed by riskgrid
# and never selects every namespace (which would let any desk spend any queue's quota).
package lib.riskgrid.policies.cap_platform_owned

platform_kinds := {"ResourceFlavor", "Cohort", "WorkloadPriorityClass", "NodePool", "EC2NodeClass", "NodeClaim"}

queue_kinds := {"ClusterQueue"}

owner_label := "riskgrid.dev/tenant"

managed_label := "app.kubernetes.io/managed-by"

capacity_kind(kind) if platform_kinds[kind]

capacity_kind(kind) if queue_kinds[kind]

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	capacity_kind(w.kind)
	w.namespace != ""
	w.namespace != object.get(params, "platformNamespace", "riskgrid-system")
	v := {"msg": "capacity object defined in a tenant namespace", "path": ["metadata", "namespace"], "container": "", "image": "", "value": w.namespace}
} | {v |
	platform_kinds[w.kind]
	owner := object.get(w.labels, owner_label, "")
	owner != object.get(params, "platformTenant", "platform")
	v := {"msg": "capacity object is not owned by the platform", "path": ["metadata", "labels", owner_label], "container": "", "image": "", "value": owner}
} | {v |
	capacity_kind(w.kind)
	not object.get(w.labels, managed_label, "") == "riskgrid"
	v := {"msg": "capacity object is not rendered by the platform", "path": ["metadata", "labels", managed_label], "container": "", "image": ""}
} | {v |
	w.kind == "ClusterQueue"
	selector := object.get(object.get(w.object, "spec", {}), "namespaceSelector", null)
	is_object(selector)
	count(object.get(selector, "matchLabels", {})) == 0
	count(object.get(selector, "matchExpressions", [])) == 0
	v := {"msg": "ClusterQueue admits workloads from every namespace", "path": ["spec", "namespaceSelector"], "container": "", "image": ""}
}
