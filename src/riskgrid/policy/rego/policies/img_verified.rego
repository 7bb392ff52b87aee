# Bank rule: every image runs only at a digest the supply-chain gate verified (signature by a
# trusted key, SBOM without banned components, a fresh scan without unaccepted findings).
# The gate's verdicts are external data, keyed by digest: params.images[digest] in riskgrid
# (riskgrid.supply.gate.external_data); in Gatekeeper the same table comes from an external
# data provider (docs/supply-chain.md). With enforce off (the default) the policy is silent,
# so checks that ran no gate are unchanged.
package lib.riskgrid.policies.img_verified

violations(w, params) := {v |
	object.get(params, "enforce", false) == true
	table := object.get(params, "images", {})
	some c in w.containers
	not verified(table, c.ref.digest)
	# concat, not sprintf: rego-cpp quotes a %s argument that is itself a rule's string value
	v := {"msg": concat("", ["image was not verified by the supply-chain gate: ", why(table, c.ref.digest)]), "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
}

verified(table, digest) if table[digest].verified == true

why(table, digest) := concat("; ", table[digest].reasons) if {
	count(object.get(table[digest], "reasons", [])) > 0
}

else := "no verdict for this digest (not verified, or the image is not pinned by digest)"
