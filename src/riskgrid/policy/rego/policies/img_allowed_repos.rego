# Bank rule: images come only from allowed registries/repositories. Matching is exact on the
# registry host and on whole path segments, so "registry.example.com" never admits
# "registry.example.com.evil.io" and "reg/team" never admits "reg/team-evil".
package lib.riskgrid.policies.img_allowed_repos

import data.lib.riskgrid.images

violations(w, params) := {v |
	some c in w.containers
	ref := c.ref
	not allowed(ref, object.get(params, "repositories", []))
	v := {"msg": "image is not from an allowed registry/repository", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
}

allowed(ref, repositories) if {
	some entry in repositories
	images.under(ref.segments, images.parse_prefix(entry))
}
