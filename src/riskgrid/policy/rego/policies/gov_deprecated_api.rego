# Bank rule: no object uses an API version removed from current Kubernetes releases.
package lib.riskgrid.policies.gov_deprecated_api

removed := {
	"extensions/v1beta1", "apps/v1beta1", "apps/v1beta2",
	"batch/v1beta1", "policy/v1beta1", "networking.k8s.io/v1beta1",
	"rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1alpha1",
	"autoscaling/v2beta1", "autoscaling/v2beta2", "storage.k8s.io/v1beta1",
	"admissionregistration.k8s.io/v1beta1", "apiextensions.k8s.io/v1beta1",
	"flowcontrol.apiserver.k8s.io/v1beta1", "flowcontrol.apiserver.k8s.io/v1beta2",
	"flowcontrol.apiserver.k8s.io/v1beta3", "discovery.k8s.io/v1beta1", "events.k8s.io/v1beta1",
	"node.k8s.io/v1beta1", "coordination.k8s.io/v1beta1", "certificates.k8s.io/v1beta1",
	"authentication.k8s.io/v1beta1", "authorization.k8s.io/v1beta1",
	"apiregistration.k8s.io/v1beta1", "scheduling.k8s.io/v1beta1",
}

violations(w, params) := {v |
	removed[w.apiVersion]
	v := {"msg": "API version has been removed from Kubernetes", "path": ["apiVersion"], "container": "", "image": "", "value": w.apiVersion}
}
