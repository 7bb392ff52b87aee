# PSS baseline "Host Namespaces": hostNetwork, hostPID and hostIPC must be unset or false.
package lib.riskgrid.policies.pss_host_namespaces

violations(w, params) := {v |
	some p in w.pods
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	p.spec[field] == true
	v := {"msg": "pod shares a host namespace", "path": array.concat(p.path, [field]), "container": "", "image": "", "value": field}
}
