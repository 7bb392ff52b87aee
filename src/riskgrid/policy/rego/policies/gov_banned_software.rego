# Bank rule: no Helm v2 Tiller and no Kubernetes Dashboard (both long-standing cluster
# takeover routes), and no SSH daemon port in containers.
package lib.riskgrid.policies.gov_banned_software

import data.lib.riskgrid.images

banned_repositories := [
	["ghcr.io", "helm", "tiller"], ["gcr.io", "kubernetes-helm", "tiller"],
	["docker.io", "kubernetesui", "dashboard"], ["k8s.gcr.io", "kubernetes-dashboard-amd64"],
	["registry.k8s.io", "kubernetes-dashboard-amd64"],
]

# The banned repositories by registry (a rule: computed once per query, not per container).
banned_by_registry := {registry: repos |
	some b in banned_repositories
	registry := b[0]
	repos := [r | some r in banned_repositories; r[0] == registry]
}

# One body, no helper calls per container (this runs for every workload): only the entries of
# the image's own registry are compared, and `under` is inlined as the slice comparison it is
# (a slice past the end is shorter, so never equal). Plain references, not `object.get` with
# an empty default: a registry without banned entries, or a container without `ports`, makes
# the reference undefined, which skips the container just as iterating `[]` did (a container
# is always an object here: normalisation reads it with `object.get`).
violations(w, params) := {v |
	some c in w.containers
	segments := c.ref.segments
	some banned in banned_by_registry[segments[0]]
	array.slice(segments, 0, count(banned)) == banned
	v := {"msg": "image is Tiller or the Kubernetes Dashboard", "path": array.concat(c.path, ["image"]), "container": c.name, "image": c.image, "value": c.image}
} | {v |
	some c in w.containers
	ports := c.container.ports
	some i
	ports[i].containerPort == 22
	v := {"msg": "container exposes an SSH port", "path": array.concat(c.path, ["ports", i, "containerPort"]), "container": c.name, "image": c.image}
}
