# Bank rule: Services set no externalIPs outside params.allowedIPs (CVE-2020-8554).
package lib.riskgrid.policies.net_external_ips

violations(w, params) := {v |
	w.kind == "Service"
	ips := object.get(w.object.spec, "externalIPs", [])
	some i
	ip := ips[i]
	not ip in object.get(params, "allowedIPs", [])
	v := {"msg": "Service sets an external IP", "path": ["spec", "externalIPs", i], "container": "", "image": "", "value": ip}
}
