"""Every policy: metadata complete, its own cases pass (regorus), both engines agree."""

from __future__ import annotations

import pytest

from riskgrid.policy import cases
from riskgrid.policy.engine import Dispatch, make_engine
from riskgrid.policy.library import SEVERITIES, load_library
from riskgrid.policy.report import format_path

LIB = load_library()
ALL_CASES = [(p, c) for p in LIB for c in p.cases]


def case_id(pc) -> str:
    p, c = pc
    return f"{p.id}:{c.name}"


def evaluate(engine, policy, case):
    obj = cases.build(case.spec)
    return [
        v
        for _, pid, v in engine.evaluate([obj], {policy.id: policy.params(case.params)})
        if pid == policy.id
    ]


def test_library_shape():
    assert len(LIB) >= 40
    assert len(set(LIB.ids)) == len(LIB)
    for p in LIB:
        assert p.severity in SEVERITIES
        assert p.rationale and p.remediation and p.controls and p.kinds
        assert p.rego_path.exists()
        assert not p.validate_params(p.params()), p.id
        allow = [c for c in p.cases if c.expect == "allow"]
        deny = [c for c in p.cases if c.expect == "deny"]
        assert len(allow) >= 1 and len(deny) >= 2, p.id


def test_pod_policies_cover_controllers_and_init_ephemeral():
    pod_policies = [p for p in LIB if "Deployment" in p.kinds]
    for p in pod_policies:
        deny_kinds = {c.spec.get("kind", "Deployment") for c in p.cases if c.expect == "deny"}
        assert deny_kinds - {"Pod"}, f"{p.id} has no controller-kind deny case"
    with_init = sum(any("init" in c.spec for c in p.cases) for p in pod_policies)
    with_ephemeral = sum(any("ephemeral" in c.spec for c in p.cases) for p in pod_policies)
    assert with_init >= 18 and with_ephemeral >= 10


def test_catalogue_coverage_at_least_40_rows():
    rows = {r for p in LIB for r in p.catalogue}
    assert len(rows) >= 40
    assert rows <= set(range(1, 122))


@pytest.fixture(scope="module")
def regorus_engine():
    return make_engine("regorus", LIB.engine_key())


@pytest.mark.parametrize("pc", ALL_CASES, ids=case_id)
def test_case_regorus(regorus_engine, pc):
    policy, case = pc
    found = evaluate(regorus_engine, policy, case)
    if case.expect == "allow":
        assert found == []
        return
    assert found, "expected a violation"
    rendered = [{"path": format_path(v["path"]), "container": v["container"]} for v in found]
    for want in case.violations:
        assert any(all(r[k] == val for k, val in want.items()) for r in rendered), (want, rendered)


@pytest.mark.parametrize("policy", list(LIB), ids=lambda p: p.id)
def test_regopy_agrees_with_regorus(regorus_engine, policy):
    """The same cases through rego-cpp give exactly the same violations (portability)."""
    regopy_engine = make_engine("regopy", ((policy.id, policy.slug),))
    objects = [cases.build(c.spec) for c in policy.cases]
    # A policy that is off by default (RG-IMG-005 until the image gate has run) is compared
    # with the parameters of its first deny case, so that both engines have work to do.
    first_deny = next((c.params for c in policy.cases if c.expect == "deny" and c.params), None)
    params = {
        policy.id: policy.params(first_deny if policy.params().get("enforce") is False else None)
    }
    ours = [r for r in regorus_engine.evaluate(objects, params) if r[1] == policy.id]
    theirs = regopy_engine.evaluate(objects, params)
    assert theirs == ours
    assert ours  # the deny cases really produce something


@pytest.mark.parametrize("kind", cases.WORKLOAD_KINDS)
def test_hardened_workload_is_clean_under_every_policy(regorus_engine, kind):
    obj = cases.build({"kind": kind}, name="hardened")
    params = {p.id: p.params() for p in LIB}
    assert regorus_engine.evaluate([obj], params) == []


def test_violation_names_object_container_and_path(regorus_engine):
    obj = cases.build({"kind": "CronJob", "ephemeral": {"securityContext": {"privileged": True}}})
    found = [v for _, pid, v in regorus_engine.evaluate([obj], {}) if pid == "RG-PSS-002"]
    assert found == [
        {
            "msg": "container runs privileged",
            "path": [
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
                "ephemeralContainers",
                0,
                "securityContext",
                "privileged",
            ],
            "container": "debug",
            "image": cases.IMAGE,
        }
    ]


def test_container_security_context_overrides_pod():
    """runAsNonRoot false on the pod, true on every container: allowed (as Kubernetes does)."""
    eng = make_engine("regorus", (("RG-PSS-103", "pss_run_as_non_root"),))
    obj = cases.build(
        {
            "pod": {"securityContext": {"runAsNonRoot": None}},
            "container": {"securityContext": {"runAsNonRoot": True}},
            "init": {"securityContext": {"runAsNonRoot": True}},
        }
    )
    assert eng.evaluate([obj], {}) == []
    obj2 = cases.build(
        {
            "pod": {"securityContext": {"runAsNonRoot": None}},
            "container": {"securityContext": {"runAsNonRoot": True}},
            "init": {},
        }
    )
    assert [v["container"] for _, _, v in eng.evaluate([obj2], {})] == ["init"]


def test_kind_prefilter_changes_nothing(regorus_engine):
    """The driver's per-policy kind filter (metadata `kinds`) only skips objects for which the
    policy reports nothing anyway: every case of every policy, with and without it."""
    unfiltered = make_engine("regorus", tuple((p.id, p.slug) for p in LIB))
    objects = [cases.build(c.spec) for _, c in ALL_CASES]
    params = {p.id: p.params() for p in LIB}
    assert regorus_engine.evaluate(objects, params) == unfiltered.evaluate(objects, params)


def test_batch_and_one_by_one_agree(regorus_engine):
    """A batch (one query, every object normalised once, policies dispatched by kind) makes
    the same decisions as one query per object."""
    objects = [cases.build(c.spec) for _, c in ALL_CASES]
    assert len(objects) > 100
    params = {p.id: p.params() for p in LIB}
    batch = regorus_engine.evaluate(objects, params)
    one_by_one = [
        (i, pid, v)
        for i, obj in enumerate(objects)
        for _, pid, v in regorus_engine.evaluate([obj], params)
    ]
    assert batch == one_by_one
    assert len(batch) > 100


def test_chunked_queries_keep_batch_indices(regorus_engine, monkeypatch):
    """A batch longer than the engine's chunk goes as several queries; each chunk's object
    indices are shifted back to the batch's, so the decisions equal one whole query's."""
    objects = [cases.build(c.spec) for _, c in ALL_CASES]
    params = {p.id: p.params() for p in LIB}
    whole = regorus_engine.evaluate(objects, params)
    monkeypatch.setattr(type(regorus_engine), "CHUNK", 7)
    chunked = regorus_engine.evaluate(objects, params)
    assert chunked == whole
    assert max(i for i, _, _ in chunked) > 7  # violations past the first chunk


def test_dispatch_sends_each_policy_only_its_kinds():
    """`input.by_policy`: a policy sees the objects of its metadata kinds (``*``: all), and an
    object of an unknown kind only reaches the ``*`` policies."""
    d = Dispatch([("A", "a", ("Pod", "Deployment")), ("B", "b", ("*",)), ("C", "c")])
    objs = [{"kind": "Deployment"}, {"kind": "Service"}, {"kind": "Pod"}, {"kind": "Deploymnet"}]
    assert d.by_policy(objs) == {"A": [0, 2], "B": [0, 1, 2, 3], "C": [0, 1, 2, 3]}
    assert d.by_policy([]) == {}
