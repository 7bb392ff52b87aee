# Bank rule: no container-runtime socket (docker, containerd, CRI-O) is mounted; owning the
# socket is owning the node.
package lib.riskgrid.policies.wkl_runtime_socket

# The sockets and runtime directories (the rule is about these ten paths):
#   /var/run/docker.sock, /run/docker.sock, /var/run/docker, /var/run/containerd,
#   /run/containerd, /var/run/crio, /run/crio, /var/run/cri-dockerd.sock, /var/lib/docker,
#   /var/lib/containerd
# A mount of a socket itself, of any directory above it, or of anything inside one exposes it.
# Written out as two literal tables, so a mount costs a set lookup and one prefix builtin
# instead of a loop over the ten paths with string slicing (with that loop the policy cost twice
# as much on the benchmark corpus, where 4% of pods mount a socket); the tables are checked
# against the ten paths in tests/policy/test_policy_runtime_socket.py.

# Every path that is a socket or a directory above one ("" is `/` once its slash is trimmed).
socket_ancestors := {
	"", "/run", "/var", "/var/lib", "/var/run",
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/docker", "/var/run/containerd",
	"/run/containerd", "/var/run/crio", "/run/crio", "/var/run/cri-dockerd.sock",
	"/var/lib/docker", "/var/lib/containerd",
}

# Each of the ten paths with a slash after it: anything under one of them.
socket_subpaths := [
	"/var/run/docker.sock/", "/run/docker.sock/", "/var/run/docker/", "/var/run/containerd/",
	"/run/containerd/", "/var/run/crio/", "/run/crio/", "/var/run/cri-dockerd.sock/",
	"/var/lib/docker/", "/var/lib/containerd/",
]

exposes(path) if trim_suffix(path, "/") in socket_ancestors

exposes(path) if strings.any_prefix_match(path, socket_subpaths)

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
