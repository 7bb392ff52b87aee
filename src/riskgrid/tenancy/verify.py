"""Prove a set of bundles before anything is applied.

Three checks over the same objects, each failure naming the object, the rule and the path:

1. **schema** — every object against the Kubernetes OpenAPI schema or its CRD
   (:mod:`riskgrid.tenancy.schemas`);
2. **policy** — every object against the Rego guardrail library, with no exceptions
   (:func:`riskgrid.policy.check.check_objects`);
3. **network** — the connectivity matrix of all tenants plus the platform
   (:func:`riskgrid.netpol.analysis.connectivity`) and the isolation assertions
   (:func:`riskgrid.netpol.assertions.check_tenant_isolation`): no path between pods of
   different tenants, no path to the instance metadata service, egress only to each tenant's
   allow-list plus DNS;
4. **cloud** — the tenants' rendered IAM (ACK ``Policy``/``Role`` from ``ServiceAccess``): no two
   tenants' policies reach a common resource (:mod:`riskgrid.tenancy.iam_reach`), and every
   role trusts only EKS Pod Identity for its own namespace. The IAM guardrails themselves
   (``RG-AWS-…``) run in the policy check, like every other rule.

For the network check the analysis synthesises the Ray pods KubeRay will create from each
RayCluster and assumes kube-dns; this module adds a representative riskgrid API pod in the
platform namespace, so that the matrix has every endpoint the guarantees talk about.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.ordering import object_ref
from riskgrid.tenancy.schemas import validate_objects

Check = Literal["schema", "policy", "network", "cloud"]
ALL_CHECKS: tuple[Check, ...] = ("schema", "policy", "network", "cloud")


@dataclass(frozen=True)
class VerifyProblem:
    """One broken guarantee: which check, which object, which rule, where."""

    check: Check
    object: str
    rule: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.object}: {self.path}" if self.path else self.object
        return f"[{self.check}] {where}: {self.message} ({self.rule})"

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "object": self.object,
            "rule": self.rule,
            "path": self.path,
            "message": self.message,
        }


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`. ``ok`` only when every check ran and nothing failed."""

    objects: int
    checks: tuple[Check, ...]
    problems: list[VerifyProblem] = field(default_factory=list)
    #: Ordered tenant pairs (a → b, a ≠ b) whose isolation was analysed, and how many held.
    tenant_pairs_checked: int = 0
    tenant_pairs_passed: int = 0
    failing_pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def isolation_pass_rate(self) -> float | None:
        if not self.tenant_pairs_checked:
            return None
        return self.tenant_pairs_passed / self.tenant_pairs_checked

    def by_check(self, check: Check) -> list[VerifyProblem]:
        return [p for p in self.problems if p.check == check]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "objects": self.objects,
            "checks": list(self.checks),
            "problems": [p.to_dict() for p in self.problems],
            "tenantPairs": {
                "checked": self.tenant_pairs_checked,
                "passed": self.tenant_pairs_passed,
                "failing": [list(p) for p in self.failing_pairs],
            },
        }


# --------------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------------


def _schema_problems(objects: list[dict[str, Any]]) -> list[VerifyProblem]:
    return [
        VerifyProblem("schema", p.object, f"schema: {p.schema}", p.path, p.message)
        for p in validate_objects(objects)
    ]


# --------------------------------------------------------------------------------------------
# policy
# --------------------------------------------------------------------------------------------


def policy_config_for(tenant: Tenant | None, extra: Mapping[str, Any] | None = None) -> Any:
    """The policy library's configuration for one tenant's objects: its allowed registries.

    Parameterising the library per tenant is not an exception: every policy still runs; the
    tenant's own spec says which repositories are "allowed" for its images.
    """
    from riskgrid.policy.config import PolicyConfig

    params: dict[str, dict[str, Any]] = {}
    if tenant is not None:
        params["RG-IMG-001"] = {"repositories": list(tenant.spec.images.allowed)}
    # e.g. the image gate's verdicts for RG-IMG-005 (riskgrid.supply.setup.rego_parameters)
    params.update(extra or {})
    return PolicyConfig.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyConfig",
            "metadata": {"name": f"tenant-{tenant.name}" if tenant else "platform"},
            "spec": {"parameters": params},
        }
    )


def _policy_problems(
    tenants: Sequence[Tenant],
    objects: list[dict[str, Any]],
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[VerifyProblem]:
    from riskgrid.policy.check import check_objects

    by_owner: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        owner = ((obj.get("metadata") or {}).get("labels") or {}).get(c.TENANT_LABEL, "")
        by_owner.setdefault(owner, []).append(obj)
    known = {t.name: t for t in tenants}
    out: list[VerifyProblem] = []
    for owner in sorted(by_owner):
        # Objects of an unknown owner are checked with the platform's (default) parameters.
        # check_objects only reads the objects (it serialises them for the Rego engine)
        config = policy_config_for(known.get(owner), (params or {}).get(owner))
        report = check_objects(by_owner[owner], config=config)
        for v in report.violations:
            path = v.path
            if v.container and v.container not in path:
                path = f"{path} (container {v.container})"
            message = f"{v.message} — {v.hint}" if v.hint else v.message
            out.append(
                VerifyProblem("policy", v.object_ref, f"policy: {v.policy_id}", path, message)
            )
        for err in report.errors:
            # Unknown kinds are still checked by the library; only real input errors count.
            if "still checked" in err.message:
                continue
            out.append(
                VerifyProblem(
                    "policy", f"{err.source}[{err.document}]", "policy: input", "", err.message
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------------------------


def synthetic_pods() -> list[dict[str, Any]]:
    """Endpoints the guarantees talk about that no bundle creates: the riskgrid API pod in
    the platform namespace (the only client of a Ray head).

    Ray head and worker pods are synthesised from each RayCluster by the network analysis
    itself (:mod:`riskgrid.netpol.workloads`, with the labels KubeRay puts on them), and it
    assumes kube-dns in ``kube-system``.
    """
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "riskgrid-api",
                "namespace": c.PLATFORM_NAMESPACE,
                "labels": dict(c.PLATFORM_API_LABELS),
            },
            "spec": {"containers": [{"name": "api", "ports": [{"containerPort": 8443}]}]},
        }
    ]


def allowed_egress(tenant: Tenant) -> list[str]:
    """The tenant's allow-list as ``CIDR:PORT[-END]/PROTO`` strings, for the assertions."""
    out: list[str] = []
    for rule in tenant.spec.egress:
        for cidr in rule.cidrs:
            for p in rule.ports:
                port = str(p.port) if p.end_port is None else f"{p.port}-{p.end_port}"
                out.append(f"{cidr}:{port}/{p.protocol}")
    return out


def _namespace_of(endpoint: str) -> str:
    """Namespace of a matrix endpoint name (``ns/pod`` or ``ns/pod (+2 alike)``)."""
    return endpoint.split("/", 1)[0] if "/" in endpoint else ""


def network_findings(
    tenants: Sequence[Tenant], objects: list[dict[str, Any]]
) -> tuple[list[Any], dict[str, set[str]]]:
    """Run the connectivity analysis and the isolation assertions; raw findings + tenancy."""
    from riskgrid.netpol.analysis import connectivity
    from riskgrid.netpol.assertions import check_tenant_isolation

    world = [*copy.deepcopy(objects), *synthetic_pods()]
    matrix = connectivity(world, sources=[object_ref(o) for o in world])
    tenancy = {t.name: {t.namespace} for t in tenants}
    egress = {t.name: allowed_egress(t) for t in tenants}
    return list(check_tenant_isolation(matrix, tenancy, egress)), tenancy


def _network(
    tenants: Sequence[Tenant], objects: list[dict[str, Any]]
) -> tuple[list[VerifyProblem], int, int, list[tuple[str, str]]]:
    findings, tenancy = network_findings(tenants, objects)
    owner = {ns: name for name, nss in tenancy.items() for ns in nss}
    failing: set[tuple[str, str]] = set()
    problems: list[VerifyProblem] = []
    for f in findings:
        if f.kind == "cross-tenant":
            failing.add((f.tenant, owner.get(_namespace_of(f.destination), "?")))
        via = ", ".join(f.policies) if f.policies else "no policy selects it (open by default)"
        problems.append(
            VerifyProblem(
                "network",
                f"{f.source} -> {f.destination}",
                f"netpol: {f.kind}",
                f"ports {f.ports}",
                f"{f.message}; let through by: {via}",
            )
        )
    names = sorted(tenancy)
    pairs = list(itertools.permutations(names, 2))
    passed = sum(1 for p in pairs if p not in failing)
    return problems, len(pairs), passed, sorted(failing)


# --------------------------------------------------------------------------------------------
# cloud
# --------------------------------------------------------------------------------------------


def _trust_problems(objects: list[dict[str, Any]]) -> list[VerifyProblem]:
    """Every ACK Role trusts only ``pods.eks.amazonaws.com``, tagged with its own namespace."""
    import json

    from riskgrid.tenancy.cloud import ACK_IAM, POD_IDENTITY_PRINCIPAL

    out: list[VerifyProblem] = []
    for o in objects:
        if o.get("kind") != "Role" or o.get("apiVersion") != ACK_IAM:
            continue
        meta = o.get("metadata") or {}
        ns = meta.get("namespace", "")
        try:
            doc = json.loads((o.get("spec") or {}).get("assumeRolePolicyDocument", ""))
            statements = doc["Statement"]
        except (ValueError, KeyError, TypeError):
            statements = None
        if not isinstance(statements, list):
            out.append(
                VerifyProblem("cloud", object_ref(o), "cloud: trust", "spec", "no trust policy")
            )
            continue
        for i, st in enumerate(statements):
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            where = f"spec.assumeRolePolicyDocument.Statement[{i}]"
            if st.get("Principal") != {"Service": POD_IDENTITY_PRINCIPAL}:
                out.append(
                    VerifyProblem("cloud", object_ref(o), "cloud: trust", f"{where}.Principal",
                                  f"trusts {st.get('Principal')!r}, not EKS Pod Identity only")
                )  # fmt: skip
            tagged = ((st.get("Condition") or {}).get("StringEquals") or {}).get(
                "aws:RequestTag/kubernetes-namespace"
            )
            if tagged != ns:
                out.append(
                    VerifyProblem("cloud", object_ref(o), "cloud: trust", f"{where}.Condition",
                                  f"assumable from namespace {tagged!r}, not only {ns!r}")
                )  # fmt: skip
    return out


def _cloud_problems(objects: list[dict[str, Any]]) -> list[VerifyProblem]:
    from riskgrid.tenancy.iam_reach import cross_tenant_reach

    out = [
        VerifyProblem("cloud", r.policy, "cloud: cross-tenant", r.statement, str(r))
        for r in cross_tenant_reach(objects)
    ]
    return out + _trust_problems(objects)


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------


def verify(
    tenants: Sequence[Tenant],
    objects: list[dict[str, Any]],
    *,
    checks: Sequence[Check] = ALL_CHECKS,
    policy_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> VerifyReport:
    """Check ``objects`` (tenant bundles *and* the platform bundle) for ``tenants``.

    ``policy_params`` adds policy parameters per tenant name (the image gate's verdicts).

    The network check needs the platform's Calico tier among ``objects``; a policy naming a
    tier that is not there is bad input (:class:`~riskgrid.spec.errors.SpecError`).
    :func:`verify_tenants` renders both and verifies them in one call.
    """
    report = VerifyReport(objects=len(objects), checks=tuple(checks))
    if "schema" in checks:
        report.problems.extend(_schema_problems(objects))
    if "policy" in checks:
        report.problems.extend(_policy_problems(tenants, objects, policy_params))
    if "network" in checks:
        problems, checked, passed, failing = _network(tenants, objects)
        report.problems.extend(problems)
        report.tenant_pairs_checked = checked
        report.tenant_pairs_passed = passed
        report.failing_pairs = failing
    if "cloud" in checks:
        report.problems.extend(_cloud_problems(objects))
    return report


def without_tier(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` minus the Calico isolation tier and every policy in it.

    Used to show what the tier buys: the same bundles, isolated by namespaced policy alone.
    """

    def in_tier(o: dict[str, Any]) -> bool:
        if o.get("kind") == "Tier" and o["metadata"]["name"] == c.TIER_NAME:
            return True
        return o.get("kind") in ("GlobalNetworkPolicy", "NetworkPolicy") and (
            o.get("spec", {}).get("tier") == c.TIER_NAME
        )

    return [o for o in objects if not in_tier(o)]


def verify_tenants(
    tenants: Sequence[Tenant],
    *,
    extra: Sequence[dict[str, Any]] = (),
    gatekeeper: bool = True,
    checks: Sequence[Check] = ALL_CHECKS,
) -> VerifyReport:
    """Render the platform and every tenant's bundle (plus ``extra`` objects) and verify them."""
    from riskgrid.tenancy.platform import render_platform
    from riskgrid.tenancy.render import render_tenants

    objects = [
        *render_platform(tenants, gatekeeper=gatekeeper),
        *render_tenants(list(tenants)),
        *extra,
    ]
    return verify(tenants, objects, checks=checks)
