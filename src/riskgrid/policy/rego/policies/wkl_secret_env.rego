# Bank rule: Secrets reach containers as files, never as environment variables (env vars
# leak through crash dumps, /proc and child processes).
package lib.riskgrid.policies.wkl_secret_env

# The checks inline: one call per object, not one per check. Plain references to the lists,
# not object.get (this runs for every container): `c.container` is always an object, and an
# absent list leaves the loop empty either way.
violations(w, params) := {v |
	some c in w.containers
	env := c.container.env
	some i
	entry := env[i]
	ref := entry.valueFrom.secretKeyRef
	v := {"msg": "environment variable is read from a Secret", "path": array.concat(c.path, ["env", i, "valueFrom", "secretKeyRef"]), "container": c.name, "image": c.image, "value": object.get(ref, "name", "")}
} | {v |
	some c in w.containers
	sources := c.container.envFrom
	some i
	source := sources[i]
	ref := source.secretRef
	v := {"msg": "environment is loaded from a Secret", "path": array.concat(c.path, ["envFrom", i, "secretRef"]), "container": c.name, "image": c.image, "value": object.get(ref, "name", "")}
}
