# Bank rule: images never come from deny-listed registries/repositories (e.g. the frozen
# k8s.gcr.io), with the same segment-exact matching as the allow-list.
package lib.riskgrid.policies.img_denied_repos

import data.lib.riskgrid.images

violations(w, params) := {v |
	some c in w.containers
	ref := c.ref
	some entry in object.get(params, "repositories", [])
	images.under(ref.segments, images.parse_prefix(entry))
	v := {"msg": "image is from a denied registry/repository", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": entry}
}
