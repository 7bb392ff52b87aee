# Bank rule: images are pinned by digest, so what runs is exactly what was scanned and signed.
package lib.riskgrid.policies.img_digest

# The digest test written inline as one comparison (a sha256 prefix and 71 characters), not a
# helper call under `not`: this runs for every container of every workload, and most pass.
# (`ref.digest` is always a string: normalisation's images.parse makes it.)
violations(w, params) := {v |
	some c in w.containers
	d := c.ref.digest
	not [startswith(d, "sha256:"), count(d)] == [true, 71]
	v := {"msg": "image is not pinned by a sha256 digest", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
}
