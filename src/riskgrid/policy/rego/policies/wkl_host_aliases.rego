# Bank rule: no hostAliases (they redirect names such as the registry or the API server).
package lib.riskgrid.policies.wkl_host_aliases

# A plain reference (this runs for every pod): absent hostAliases make the test undefined, as
# count([]) > 0 was false; `hostAliases: null` is still a type error in count, as before.
violations(w, params) := {v |
	some p in w.pods
	count(p.spec.hostAliases) > 0
	v := {"msg": "pod overrides name resolution with hostAliases", "path": array.concat(p.path, ["hostAliases"]), "container": "", "image": ""}
}
