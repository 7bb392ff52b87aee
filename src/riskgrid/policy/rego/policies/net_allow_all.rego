# Bank rule: no NetworkPolicy rule that allows everything (an empty peer rule `{}` on a
# policy), which silently cancels the tenant's default deny.
package lib.riskgrid.policies.net_allow_all

# One body per direction with its peer field written in (no loop over the two directions, no
# helper call or field lookup per rule): this runs for every NetworkPolicy, and nearly every
# rule stops at its first test.
violations(w, params) := {v |
	w.kind == "NetworkPolicy"
	rules := object.get(w.object.spec, "ingress", [])
	some i
	rule := rules[i]
	count(object.get(rule, "from", [])) == 0
	count(object.get(rule, "ports", [])) == 0
	v := {"msg": "NetworkPolicy rule allows all peers on all ports", "path": ["spec", "ingress", i], "container": "", "image": "", "value": "ingress"}
} | {v |
	w.kind == "NetworkPolicy"
	rules := object.get(w.object.spec, "egress", [])
	some i
	rule := rules[i]
	count(object.get(rule, "to", [])) == 0
	count(object.get(rule, "ports", [])) == 0
	v := {"msg": "NetworkPolicy rule allows all peers on all ports", "path": ["spec", "egress", i], "container": "", "image": "", "value": "egress"}
}
