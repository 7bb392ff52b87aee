# CIS Amazon EKS 2.1.1: every control-plane log type (api, audit, authenticator,
# controllerManager, scheduler) goes to CloudWatch. eksctl's "all" and "*" mean every type.
package lib.riskgrid.policies.eks_logging

required := ["api", "audit", "authenticator", "controllerManager", "scheduler"]

enabled(obj) := {t | some t in object.get(object.get(object.get(obj, "cloudWatch", {}), "clusterLogging", {}), "enableTypes", [])}

missing(obj) := [t | some t in required; not enabled(obj)[t]]

violations(w, params) := {v |
	w.kind == "ClusterConfig"
	types := enabled(w.object)
	not types.all
	not types["*"]
	m := missing(w.object)
	count(m) > 0
	v := {"msg": "control-plane log types not sent to CloudWatch", "path": ["cloudWatch", "clusterLogging", "enableTypes"], "container": "", "image": "", "value": concat(", ", m)}
}
