# Bank rule: no mutable `latest` tag and no untagged image (which means latest), unless the
# image is pinned by digest.
package lib.riskgrid.policies.img_tags

# The denied tags are read once per object, not once per container, and the two tests are two
# bodies written inline (no helper call per container). An image that fails both gives the
# same violation twice, which the set holds once.
violations(w, params) := vs if {
	denied := object.get(params, "tags", ["latest"])
	vs := {v |
		some c in w.containers
		ref := c.ref
		ref.tag in denied
		v := {"msg": "image uses a mutable or missing tag", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": ref.tag}
	} | {v |
		some c in w.containers
		ref := c.ref
		ref.tag == ""
		ref.digest == ""
		v := {"msg": "image uses a mutable or missing tag", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": ref.tag}
	}
}
