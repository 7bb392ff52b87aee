# Bank rule: Secrets reach containers as files, never as environment variables (env vars
# leak through crash dumps, /proc and child processes).
package lib.riskgrid.policies.wkl_secret_env

# The checks inline: one call per object, not one per check.
violations(w, params) := {v |
	some c in w.containers
	env := object.get(c.container, "env", [])
	some i
	entry := env[i]
	ref := entry.valueFrom.secretKeyRef
	v := {"msg": "environment variable is read from a Secret", "path": array.concat(c.path, ["env", i, "valueFrom", "secretKeyRef"]), "container": c.name, "image": c.image, "value": object.get(ref, "name", "")}
} | {v |
	some c in w.containers
	sources := object.get(c.container, "envFrom", [])
	some i
	source := sources[i]
	ref := source.secretRef
	v := {"msg": "environment is loaded from a Secret", "path": array.concat(c.path, ["envFrom", i, "secretRef"]), "container": c.name, "image": c.image, "value": object.get(ref, "name", "")}
}
