# Bank rule: images are pinned by digest, so what runs is exactly what was scanned and signed.
package lib.riskgrid.policies.img_digest

import data.lib.riskgrid.images

violations(w, params) := {v |
	some c in w.containers
	ref := c.ref
	not images.valid_digest(ref.digest)
	v := {"msg": "image is not pinned by a sha256 digest", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
}
