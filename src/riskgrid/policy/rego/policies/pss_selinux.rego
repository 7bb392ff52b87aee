# PSS baseline "SELinux": type only container_t/container_init_t/container_kvm_t/
# container_engine_t; user and role must be unset.
package lib.riskgrid.policies.pss_selinux

allowed_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# Every place a seLinuxOptions may be set: the pod and each container.
places(w) := array.concat(
	[pl |
		some p in w.pods
		is_object(p.sc.seLinuxOptions)
		pl := {"path": array.concat(p.path, ["securityContext", "seLinuxOptions"]), "opts": p.sc.seLinuxOptions, "container": "", "image": ""}
	],
	[pl |
		some c in w.containers
		is_object(c.own_sc.seLinuxOptions)
		pl := {"path": array.concat(c.path, ["securityContext", "seLinuxOptions"]), "opts": c.own_sc.seLinuxOptions, "container": c.name, "image": c.image}
	],
)

# `places` once per object, both checks inline.
violations(w, params) := vs if {
	pls := places(w)
	vs := {v |
		some pl in pls
		t := object.get(pl.opts, "type", "")
		not allowed_types[t]
		v := {"msg": "SELinux type is not allowed", "path": array.concat(pl.path, ["type"]), "container": pl.container, "image": pl.image, "value": t}
	} | {v |
		some pl in pls
		some field in ["user", "role"]
		object.get(pl.opts, field, "") != ""
		v := {"msg": "SELinux user or role must not be set", "path": array.concat(pl.path, [field]), "container": pl.container, "image": pl.image, "value": pl.opts[field]}
	}
}
