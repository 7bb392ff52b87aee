"""``validate``: every dangling reference is reported with its file and field path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from riskgrid.spec.errors import SpecError
from riskgrid.threats.loader import load_model
from riskgrid.threats.refs import IMPLEMENTATION_KINDS, VERIFICATION_KINDS, parse_ref
from riskgrid.threats.resolve import bundle_has, routes_have
from riskgrid.threats.validate import validate


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _problems(mini: Path) -> list[str]:
    with pytest.raises(SpecError) as exc:
        validate(mini / "threatmodel", repo_root=mini)
    return [str(p) for p in exc.value.problems]


def test_the_miniature_model_validates(mini):
    v = validate(mini / "threatmodel", repo_root=mini)
    assert [(x.control, x.kind, x.node_id) for x in v.verifications] == [
        ("C-PRE-A", "test", "checks/probe_checks.py::test_passes"),
        ("C-PRE-B", "test", "checks/probe_checks.py::test_fails"),
        ("C-DET-A", "isolation", "checks/probe_checks.py::test_isolation_ok"),
    ]


def test_missing_test_node_is_located(mini):
    def change(d):
        d["controls"][0]["verification"] = ["test: checks/probe_checks.py::test_gone"]

    _edit(mini / "threatmodel" / "controls.yaml", change)
    [problem] = _problems(mini)
    assert problem.startswith(
        f"{mini / 'threatmodel' / 'controls.yaml'}: controls[0].verification[0]"
    )
    assert "does not collect 'checks/probe_checks.py::test_gone'" in problem


def test_missing_test_file_and_bad_import_are_located(mini):
    def change(d):
        d["controls"][1]["verification"] = ["test: checks/nowhere.py::test_x"]
        d["controls"][1]["implementation"] = ["code: riskgrid.threats.metrics:no_such_thing"]

    _edit(mini / "threatmodel" / "controls.yaml", change)
    problems = _problems(mini)
    assert any("controls[1].verification[0]" in p and "not found" in p for p in problems)
    assert any("controls[1].implementation[0]" in p and "cannot import" in p for p in problems)


def test_code_reference_must_name_the_implementing_code(mini):
    """``module:__name__`` (it resolves for any module), a constant or a submodule prove
    nothing about the control: refused, each with its location."""

    def change(d):
        d["controls"][0]["implementation"] = ["code: riskgrid.grid.rng:__name__"]
        d["controls"][1]["implementation"] = ["code: riskgrid.threats.evidence:SCHEMA"]
        d["controls"][2]["implementation"] = ["code: riskgrid.threats:evidence"]

    _edit(mini / "threatmodel" / "controls.yaml", change)
    problems = _problems(mini)
    assert any(
        "controls[0].implementation[0]" in p and "names a module-level attribute" in p
        for p in problems
    ), problems
    assert any("controls[1].implementation[0]" in p and "is a str, not a function" in p
               for p in problems)  # fmt: skip
    assert any("controls[2].implementation[0]" in p and "is a module, not a function" in p
               for p in problems)  # fmt: skip


def test_unknown_control_actor_and_taxonomy_ids(mini):
    def change(d):
        t = d["threats"][0]
        t["controls"][0]["control"] = "C-NOPE"
        t["actors"] = ["A-NOBODY"]
        t["mappings"]["attack"] = ["T1685"]  # exists in later ATT&CK, not in the pinned list
        t["mappings"]["owasp_k8s"] = ["K11"]

    _edit(mini / "threatmodel" / "threats.yaml", change)
    problems = _problems(mini)
    src = str(mini / "threatmodel" / "threats.yaml")
    assert f"{src}: threats[0].controls[0].control: unknown" in problems
    assert f"{src}: threats[0].actors[0]: unknown actor" in problems
    assert f"{src}: threats[0].mappings.attack[0]: 'T1685' is not in Mini ATT&CK 1" in problems
    assert any("threats[0].mappings.owasp_k8s[0]: 'K11'" in p for p in problems)
    # C-PRE-A is still used by TM-003; nothing else is reported
    assert len(problems) == 4


def test_tree_with_cycle_and_unknown_leaf_threat(mini):
    def change(d):
        nodes = d["attack_trees"][0]["nodes"]
        nodes[1]["children"] = ["l1", "g"]  # g → a → g
        nodes[4]["threat"] = "TM-999"

    _edit(mini / "threatmodel" / "trees.yaml", change)
    problems = _problems(mini)
    assert any(p.endswith("attack_trees[0].nodes: has a cycle") for p in problems)
    assert any(p.endswith("attack_trees[0].nodes[4].threat: unknown") for p in problems)


def test_duplicate_ids_across_files(mini):
    extra = {"controls": [{"id": "C-PRE-A", "title": "again", "type": "detective",
                           "layer": "monitoring", "status": "planned"}]}  # fmt: skip
    (mini / "threatmodel" / "zz-extra.yaml").write_text(yaml.safe_dump(extra))
    [problem] = _problems(mini)
    assert "zz-extra.yaml: controls[0].id: duplicate id 'C-PRE-A'" in problem
    assert "controls.yaml" in problem


def test_schema_errors_name_file_and_field(mini):
    def change(d):
        d["threats"][0]["likelihood"] = 6
        d["threats"][1]["stride"] = ["X"]

    _edit(mini / "threatmodel" / "threats.yaml", change)
    problems = _problems(mini)
    src = str(mini / "threatmodel" / "threats.yaml")
    assert any(p.startswith(f"{src}: threats[0].likelihood:") for p in problems)
    assert any(p.startswith(f"{src}: threats[1].stride[0]:") for p in problems)


def test_implemented_control_without_verification_is_rejected(mini):
    def change(d):
        d["controls"][0]["verification"] = []

    _edit(mini / "threatmodel" / "controls.yaml", change)
    [problem] = _problems(mini)
    assert "controls[0]" in problem and "needs at least one implementation and one" in problem


def test_taxonomy_version_must_match_its_pin(mini):
    _edit(mini / "threatmodel" / "taxonomies" / "ms.yaml", lambda d: d.update(version="2"))
    [problem] = _problems(mini)
    assert problem.endswith("version: is '2' but the model pins ms_k8s to '1'")


def test_unknown_policy_or_route_is_a_dangling_reference(mini):
    def change(d):
        d["controls"][0]["implementation"] = [
            "policy: RG-NOT-THERE",
            "api: GET /nowhere",
            "api: GET /healthz",  # a real route of the service: resolves
        ]

    _edit(mini / "threatmodel" / "controls.yaml", change)
    problems = _problems(mini)
    assert any("implementation[0]: policy: RG-NOT-THERE:" in p for p in problems)
    assert any("implementation[1]: api: GET /nowhere:" in p for p in problems)
    own = [p for p in problems if "which the threat model does not define" not in p]
    assert len(own) == 2


@pytest.mark.parametrize(
    ("text", "kinds", "error"),
    [
        ("policy RG-1", IMPLEMENTATION_KINDS, "must be '<kind>: <target>'"),
        ("bundle: Namespace{a}", IMPLEMENTATION_KINDS, "Kind[/name-glob]"),
        ("api: FETCH /x", IMPLEMENTATION_KINDS, "METHOD /path"),
        ("code: riskgrid.threats", IMPLEMENTATION_KINDS, "package.module:attribute"),
        ("test: tests/x.py", VERIFICATION_KINDS, "pytest node id"),
        ("policy-case: RG-1", VERIFICATION_KINDS, "<policy id>/<case name>"),
        ("test: tests/x.py::t", IMPLEMENTATION_KINDS, "kind one of"),
    ],
)
def test_reference_syntax(text, kinds, error):
    with pytest.raises(ValueError, match=None) as exc:
        parse_ref(text, kinds)
    assert error in str(exc.value)


def test_bundle_feature_matching():
    objects = [
        {"kind": "Namespace", "metadata": {"name": "desk-a",
         "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"kind": "NetworkPolicy", "metadata": {"name": "default-deny-all", "namespace": "desk-a"}},
    ]  # fmt: skip
    assert bundle_has(objects, "Namespace{pod-security.kubernetes.io/enforce=restricted}")
    assert not bundle_has(objects, "Namespace{pod-security.kubernetes.io/enforce=baseline}")
    assert bundle_has(objects, "NetworkPolicy/default-deny*")
    assert not bundle_has(objects, "NetworkPolicy/allow-*")
    assert not bundle_has(objects, "ResourceQuota")


def test_api_route_matching():
    routes = {("GET", "/v1/jobs/{job_id}"), ("POST", "/v1/jobs")}
    assert routes_have(routes, "POST /v1/jobs")
    assert not routes_have(routes, "DELETE /v1/jobs")


def test_loader_requires_one_header(mini):
    (mini / "threatmodel" / "model.yaml").unlink()
    with pytest.raises(SpecError, match="exactly one file must hold both"):
        load_model(mini / "threatmodel")


def test_policy_references_resolve_against_the_real_library(mini):
    def change(d):
        d["controls"][0]["implementation"] = ["policy: RG-PSS-002"]
        d["controls"][0]["verification"] = [
            "policy-case: RG-PSS-002/privileged container in a Job",
            "policy-case: RG-PSS-002/no such case",
        ]

    _edit(mini / "threatmodel" / "controls.yaml", change)
    problems = _problems(mini)
    # The case exists in the library but the miniature repository has no policy tests to run it.
    assert any(
        "verification[0]" in p and "no test in tests/policy is parametrised with" in p
        for p in problems
    )
    assert any("verification[1]" in p and "has no test case 'no such case'" in p for p in problems)
    # Using the library obliges the model to define the controls its policies claim.
    assert any(
        p.endswith("controls: RG-PSS-002 names control 'C-ADM-01', which the threat model "
                   "does not define") for p in problems
    )  # fmt: skip
