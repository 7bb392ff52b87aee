"""Gatekeeper export: schema-valid templates whose Rego, fed as Gatekeeper feeds it, decides
every policy case exactly as the in-process check does; the OPA bundle is loadable."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import regorus
import yaml

from riskgrid.policy import cases
from riskgrid.policy.export import export_gatekeeper, export_opa_bundle, gatekeeper_objects
from riskgrid.policy.library import load_library

VENDORED_CRD = Path(__file__).parent / "fixtures" / "gatekeeper" / "constrainttemplates.yaml"
LIB = load_library()
OBJECTS = gatekeeper_objects(today=dt.date(2026, 11, 26))
TEMPLATES = {
    o["metadata"]["annotations"]["riskgrid.dev/policy-id"]: o
    for o in OBJECTS
    if o["kind"] == "ConstraintTemplate"
}
CONSTRAINTS = {
    o["metadata"]["name"].upper(): o for o in OBJECTS if o["kind"] != "ConstraintTemplate"
}


def template_schema() -> dict:
    docs = [d for d in yaml.safe_load_all(VENDORED_CRD.read_text()) if d]
    crd = next(
        d for d in docs if d["metadata"]["name"] == "constrainttemplates.templates.gatekeeper.sh"
    )
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def test_every_policy_exported_and_schema_valid():
    schema = template_schema()
    assert set(TEMPLATES) == set(LIB.ids) == set(CONSTRAINTS)
    for t in TEMPLATES.values():
        jsonschema.validate(t, schema)
        code = t["spec"]["targets"][0]["code"][0]
        assert code["engine"] == "Rego" and code["source"]["version"] == "v1"
        assert t["metadata"]["name"] == t["spec"]["crd"]["spec"]["names"]["kind"].lower()


def test_enforcement_and_match():
    assert CONSTRAINTS["RG-PSS-002"]["spec"]["enforcementAction"] == "deny"
    assert CONSTRAINTS["RG-WKL-002"]["spec"]["enforcementAction"] == "warn"
    assert CONSTRAINTS["RG-WKL-007"]["spec"]["enforcementAction"] == "dryrun"
    tenant = CONSTRAINTS["RG-NET-001"]["spec"]["match"]["namespaceSelector"]
    assert tenant == {"matchExpressions": [{"key": "riskgrid.dev/tenant", "operator": "Exists"}]}


def provider_from_table(table: dict) -> Callable[[dict], dict]:
    """Gatekeeper's ``external_data`` answering from a verdict table, in the shape Gatekeeper
    hands to Rego (``responses``: [key, value] pairs). The real provider is exercised in
    tests/supply/test_supply_provider.py; here the table is the case's."""

    def call(request: dict) -> dict:
        responses = []
        for key in request["keys"]:
            digest = key.partition("@")[2]
            if digest in table:
                responses.append([key, {"digest": digest, **table[digest]}])
        return {"responses": responses, "errors": [], "status_code": 200, "system_error": ""}

    return call


def gatekeeper_engine(template: dict, table: dict | None = None) -> regorus.Engine:
    source = template["spec"]["targets"][0]["code"][0]["source"]
    engine = regorus.Engine()
    if "external_data(" in source["rego"]:
        engine.add_extension("external_data", 1, provider_from_table(table or {}))
    for i, lib in enumerate(source["libs"]):
        engine.add_policy(f"lib{i}.rego", lib)
    engine.add_policy("main.rego", source["rego"])
    return engine


@pytest.mark.parametrize("policy", list(LIB), ids=lambda p: p.id)
def test_exported_rego_decides_like_the_library(policy):
    template = TEMPLATES[policy.id]
    package = template["metadata"]["name"]
    for case in policy.cases:
        obj = cases.build(case.spec)
        params = {**policy.params(case.params), "exemptions": []}
        # a table-driven policy gets its table from the provider in Gatekeeper, not from the
        # Constraint's parameters
        engine = gatekeeper_engine(template, params.pop("images", None))
        engine.set_input({"review": {"object": obj, "operation": "CREATE"}, "parameters": params})
        found = json.loads(engine.eval_rule_as_json(f"data.{package}.violation"))
        assert bool(found) == (case.expect == "deny"), case.name
        if found:
            assert all(m["msg"].startswith(policy.id) for m in found)


def test_exported_exemption_is_scoped_and_expires():
    policy = LIB.get("RG-PSS-002")
    engine = gatekeeper_engine(TEMPLATES[policy.id])
    obj = cases.build(
        {
            "container": {"securityContext": {"privileged": True}},
            "init": {"securityContext": {"privileged": True}},
        }
    )

    def containers(exemptions):
        engine.set_input({"review": {"object": obj}, "parameters": {"exemptions": exemptions}})
        out = json.loads(engine.eval_rule_as_json("data.rgpss002.violation"))
        return sorted(v["details"]["container"] for v in out)

    assert containers([]) == ["init", "pricer"]
    live = {"name": "x", "namespace": "desk-rates", "container": "init", "expires": "2200-01-01"}
    assert containers([live]) == ["pricer"]
    assert containers([{**live, "expires": "2020-01-01"}]) == ["init", "pricer"]
    assert containers([{**live, "namespace": "desk-fx"}]) == ["init", "pricer"]


def test_export_writes_directory_atomically(tmp_path):
    out = tmp_path / "gk"
    files = export_gatekeeper(out)
    assert len(files) == 2 * len(LIB)
    assert (out / "templates" / "rgpss001.yaml").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_opa_bundle_evaluates(tmp_path):
    out = tmp_path / "bundle"
    export_opa_bundle(out)
    manifest = json.loads((out / ".manifest").read_text())
    assert manifest["roots"] == ["lib/riskgrid", "riskgrid"]
    engine = regorus.Engine()
    for rego in sorted(out.rglob("*.rego")):
        engine.add_policy(str(rego), rego.read_text())
    engine.add_data(json.loads((out / "data.json").read_text()))
    bad = cases.build({"container": {"securityContext": {"privileged": True}}})
    engine.set_input({"objects": [cases.build({}), bad]})
    rows = json.loads(engine.eval_rule_as_json("data.riskgrid.batch.results"))
    assert {(r[0], r[1]) for r in rows} == {(1, "RG-PSS-002")}
