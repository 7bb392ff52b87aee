# PSS baseline "SELinux": type only container_t/container_init_t/container_kvm_t/
# container_engine_t; user and role must be unset.
package lib.riskgrid.policies.pss_selinux

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# Every place a seLinuxOptions may be set (the pod and each container), checked where it is
# found: most workloads set none, so the common call is two loops whose first test fails — no
# list of places is built and concatenated, and the checks are only called where options are
# set. (The head is the plain `v` that `some v in checks(...)` binds in the body, as rego-cpp
# needs.)
violations(w, params) := {v |
	some p in w.pods
	opts := p.sc.seLinuxOptions
	is_object(opts)
	some v in checks(opts, array.concat(p.path, ["securityContext", "seLinuxOptions"]), "", "")
} | {v |
	some c in w.containers
	opts := c.own_sc.seLinuxOptions
	is_object(opts)
	some v in checks(opts, array.concat(c.path, ["securityContext", "seLinuxOptions"]), c.name, c.image)
}

# Both checks of one seLinuxOptions object found at `path`.
checks(opts, path, container, image) := {v |
	t := object.get(opts, "type", "")
	not allowed_types[t]
	v := {"msg": "SELinux type is not allowed", "path": array.concat(path, ["type"]), "container": container, "image": image, "value": t}
} | {v |
	some field in ["user", "role"]
	object.get(opts, field, "") != ""
	v := {"msg": "SELinux user or role must not be set", "path": array.concat(path, [field]), "container": container, "image": image, "value": opts[field]}
}
