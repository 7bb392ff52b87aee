# Bank rule: images come only from allowed registries/repositories. Matching is exact on the
# registry host and on whole path segments, so "registry.example.com" never admits
# "registry.example.com.evil.io" and "reg/team" never admits "reg/team-evil".
package lib.riskgrid.policies.img_allowed_repos

import data.lib.riskgrid.images

# The allow-list is parsed once per object, and each image is compared by slicing (`under`
# inlined): this runs for every container of every workload.
violations(w, params) := vs if {
	prefixes := [p | some entry in object.get(params, "repositories", []); p := images.parse_prefix(entry)]
	vs := {v |
		some c in w.containers
		segments := c.ref.segments
		matches := [p | some p in prefixes; array.slice(segments, 0, count(p)) == p]
		matches == [] # an array: comparing with [] is cheaper than a count() call
		v := {"msg": "image is not from an allowed registry/repository", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
	}
}
