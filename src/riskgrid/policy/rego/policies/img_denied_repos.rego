# Bank rule: images never come from deny-listed registries/repositories (e.g. the frozen
# k8s.gcr.io), with the same segment-exact matching as the allow-list.
package lib.riskgrid.policies.img_denied_repos

import data.lib.riskgrid.images

# The deny-list is parsed once per object, not once per container (`under` inlined). Entries
# and image references both have at least one segment, so comparing the first ones is implied
# by the slice comparison: it only stops sooner.
violations(w, params) := vs if {
	entries := object.get(params, "repositories", [])
	prefixes := [p | some entry in entries; p := images.parse_prefix(entry)]
	vs := {v |
		some c in w.containers
		segments := c.ref.segments
		some k
		p := prefixes[k]
		p[0] == segments[0] # the registries first: two references, and most images stop here
		array.slice(segments, 0, count(p)) == p
		entry := entries[k]
		v := {"msg": "image is from a denied registry/repository", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": entry}
	}
}
