# Bank rule: no mutable `latest` tag and no untagged image (which means latest), unless the
# image is pinned by digest.
package lib.riskgrid.policies.img_tags


violations(w, params) := {v |
	some c in w.containers
	ref := c.ref
	bad_tag(ref, object.get(params, "tags", ["latest"]))
	v := {"msg": "image uses a mutable or missing tag", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": ref.tag}
}

bad_tag(ref, denied) if ref.tag in denied

bad_tag(ref, _) if {
	ref.tag == ""
	ref.digest == ""
}
