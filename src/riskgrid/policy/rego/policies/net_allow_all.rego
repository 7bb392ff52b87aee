# Bank rule: no NetworkPolicy rule that allows everything (an empty peer rule `{}` on a
# policy), which silently cancels the tenant's default deny.
package lib.riskgrid.policies.net_allow_all

violations(w, params) := {v |
	w.kind == "NetworkPolicy"
	some direction in ["ingress", "egress"]
	rules := object.get(w.object.spec, direction, [])
	some i
	rule := rules[i]
	open_rule(rule, direction)
	v := {"msg": "NetworkPolicy rule allows all peers on all ports", "path": ["spec", direction, i], "container": "", "image": "", "value": direction}
}

peer_field := {"ingress": "from", "egress": "to"}

open_rule(rule, direction) if {
	count(object.get(rule, peer_field[direction], [])) == 0
	count(object.get(rule, "ports", [])) == 0
}
