# Bank rule: no container-runtime socket (docker, containerd, CRI-O) is mounted; owning the
# socket is owning the node.
package lib.riskgrid.policies.wkl_runtime_socket

socket_paths := [
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/docker",
	"/var/run/containerd", "/run/containerd", "/var/run/crio", "/run/crio",
	"/var/run/cri-dockerd.sock", "/var/lib/docker", "/var/lib/containerd",
]

# A mount of the socket itself, of any directory above it, or of anything inside a runtime
# directory exposes it.
exposes(path) if {
	some socket in socket_paths
	clean := trim_suffix(path, "/")
	is_ancestor_or_self(clean, socket)
}

exposes(path) if {
	some socket in socket_paths
	is_ancestor_or_self(socket, path)
}

is_ancestor_or_self(dir, target) if dir == target

is_ancestor_or_self(dir, target) if {
	startswith(target, dir)
	substring(target, count(dir), 1) == "/"
}

is_ancestor_or_self(dir, target) if dir == ""

# Plain references, not object.get (this runs for every pod): `p.spec` is always an object,
# and an absent list leaves the loop empty either way.
violations(w, params) := {v |
	some p in w.pods
	vols := p.spec.volumes
	some i
	vol := vols[i]
	host_path := vol.hostPath.path
	exposes(host_path)
	v := {"msg": "volume mounts the container runtime socket", "path": array.concat(p.path, ["volumes", i, "hostPath", "path"]), "container": "", "image": "", "value": host_path}
}
