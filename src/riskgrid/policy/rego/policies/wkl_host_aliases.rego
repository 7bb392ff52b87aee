# Bank rule: no hostAliases (they redirect names such as the registry or the API server).
package lib.riskgrid.policies.wkl_host_aliases

violations(w, params) := {v |
	some p in w.pods
	count(object.get(p.spec, "hostAliases", [])) > 0
	v := {"msg": "pod overrides name resolution with hostAliases", "path": array.concat(p.path, ["hostAliases"]), "container": "", "image": ""}
}
