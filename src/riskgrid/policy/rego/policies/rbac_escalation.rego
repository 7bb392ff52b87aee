# Bank rule: Roles grant no privilege-escalation verbs (bind, escalate, impersonate) and no
# write access to node proxy, CSR approval or admission webhook configuration.
package lib.riskgrid.policies.rbac_escalation

escalation_verbs := {"bind", "escalate", "impersonate"}

sensitive_resources := {
	"nodes/proxy", "certificatesigningrequests/approval",
	"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
	"validatingadmissionpolicies", "validatingadmissionpolicybindings",
}

write_verbs := {"create", "update", "patch", "delete", "deletecollection", "*", "get"}

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	w.kind in {"Role", "ClusterRole"}
	not startswith(w.name, "system:")
	rules := object.get(w.object, "rules", [])
	some i
	rule := rules[i]
	some verb in object.get(rule, "verbs", [])
	escalation_verbs[verb]
	v := {"msg": "RBAC rule grants a privilege-escalation verb", "path": ["rules", i, "verbs"], "container": "", "image": "", "value": verb}
} | {v |
	w.kind in {"Role", "ClusterRole"}
	not startswith(w.name, "system:")
	rules := object.get(w.object, "rules", [])
	some i
	rule := rules[i]
	some resource in object.get(rule, "resources", [])
	sensitive_resources[resource]
	some verb in object.get(rule, "verbs", [])
	write_verbs[verb]
	v := {"msg": "RBAC rule grants access to a node/CSR/admission-control resource", "path": ["rules", i, "resources"], "container": "", "image": "", "value": resource}
}
