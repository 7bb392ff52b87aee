# PSS baseline "HostPath Volumes": hostPath volumes are forbidden.
package lib.riskgrid.policies.pss_host_path

# Plain references, not object.get (this runs for every pod): `p.spec` is always an object,
# and an absent list leaves the loop empty either way.
violations(w, params) := {v |
	some p in w.pods
	vols := p.spec.volumes
	some i
	vol := vols[i]
	vol.hostPath != null
	v := {"msg": "pod mounts a hostPath volume", "path": array.concat(p.path, ["volumes", i, "hostPath"]), "container": "", "image": "", "value": object.get(vol.hostPath, "path", "")}
}
