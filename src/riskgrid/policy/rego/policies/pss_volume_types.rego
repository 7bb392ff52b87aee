# PSS restricted "Volume Types": only configMap, csi, downwardAPI, emptyDir, ephemeral,
# image, persistentVolumeClaim, projected and secret volumes.
package lib.riskgrid.policies.pss_volume_types

allowed := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

# Plain references, not object.get (this runs for every pod): `p.spec` is always an object,
# and an absent list leaves the loop empty either way.
violations(w, params) := {v |
	some p in w.pods
	vols := p.spec.volumes
	some i
	some field
	source := vols[i][field]
	field != "name"
	source != null
	not allowed[field]
	v := {"msg": "volume type is not allowed", "path": array.concat(p.path, ["volumes", i, field]), "container": "", "image": "", "value": field}
}
