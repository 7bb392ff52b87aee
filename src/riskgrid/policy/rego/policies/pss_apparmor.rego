# PSS baseline "AppArmor": the profile may only be RuntimeDefault or Localhost, in the
# securityContext fields and in the legacy per-container annotations.
package lib.riskgrid.policies.pss_apparmor

allowed_types := {"RuntimeDefault", "Localhost"}

annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

# The three checks inline (one call per object instead of four).
violations(w, params) := {v |
	some p in w.pods
	t := p.sc.appArmorProfile.type
	not allowed_types[t]
	v := {"msg": "AppArmor profile type is not allowed", "path": array.concat(p.path, ["securityContext", "appArmorProfile", "type"]), "container": "", "image": "", "value": t}
} | {v |
	some c in w.containers
	t := c.own_sc.appArmorProfile.type
	not allowed_types[t]
	v := {"msg": "AppArmor profile type is not allowed", "path": array.concat(c.path, ["securityContext", "appArmorProfile", "type"]), "container": c.name, "image": c.image, "value": t}
} | {v |
	some p in w.pods
	annotations := object.get(p.meta, "annotations", {})
	some key
	value := annotations[key]
	startswith(key, annotation_prefix)
	not allowed_annotation(value)
	meta_path := array.slice(p.path, 0, count(p.path) - 1)
	v := {"msg": "AppArmor annotation is not allowed", "path": array.concat(meta_path, ["metadata", "annotations", key]), "container": substring(key, count(annotation_prefix), -1), "image": "", "value": value}
}

allowed_annotation(value) if value == ""

allowed_annotation(value) if value == "runtime/default"

allowed_annotation(value) if startswith(value, "localhost/")
