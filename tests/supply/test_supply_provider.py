"""The gate as a Gatekeeper external data provider: a real HTTP server on loopback, called by
the exported RG-IMG-005 ConstraintTemplate evaluated with regorus (``external_data`` wired to
an HTTP POST, translated the way Gatekeeper translates a ProviderResponse for Rego).

Not a real Gatekeeper: the translation below follows Gatekeeper's documented behaviour."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import regorus
import uvicorn
import yaml
from registry_proc import free_port
from supply_helpers import release, trust_policy

from riskgrid.policy import cases
from riskgrid.policy.export import constraint_template
from riskgrid.policy.library import load_library
from riskgrid.supply.gate import Gate
from riskgrid.supply.provider import API_VERSION, provider_app


@pytest.fixture(scope="module")
def provider(registry, keys) -> Iterator[str]:
    gate = Gate(trust_policy(registry.host, keys))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(provider_app(gate), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "provider did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/validate"
    server.should_exit = True
    thread.join(30)
    gate.close()


def _ask(url: str, keys: list[str]) -> httpx.Response:
    body = {"apiVersion": API_VERSION, "kind": "ProviderRequest", "request": {"keys": keys}}
    return httpx.post(url, json=body, timeout=30)


def gatekeeper_external_data(url: str):
    """``external_data`` as Gatekeeper gives it to Rego: items with an error go to ``errors``,
    the others to ``responses``; a failed call sets ``system_error``."""

    def call(request: dict) -> dict:
        resp = _ask(url, request["keys"])
        body = resp.json()["response"]
        return {
            "responses": [[i["key"], i["value"]] for i in body["items"] if not i["error"]],
            "errors": [[i["key"], i["error"]] for i in body["items"] if i["error"]],
            "status_code": resp.status_code,
            "system_error": body["systemError"],
        }

    return call


def test_provider_contract_items_errors_and_system_error(provider, registry, keys):
    good = release(registry.host, "riskgrid/provider-good", "1", keys)
    image = f"{registry.host}/riskgrid/provider-good@{good}"
    unsigned = release(registry.host, "riskgrid/provider-bad", "1", keys, with_signature=False)
    bad_image = f"{registry.host}/riskgrid/provider-bad@{unsigned}"
    resp = _ask(provider, [image, bad_image, "not an image"])
    assert resp.status_code == 200
    body = resp.json()
    assert body["kind"] == "ProviderResponse" and body["response"]["idempotent"] is True
    items = {i["key"]: i for i in body["response"]["items"]}
    ok = items[image]
    assert ok["error"] == "" and ok["value"]["verified"] is True and ok["value"]["isSuccess"]
    assert ok["value"]["digest"] == good
    refused = items[bad_image]
    assert refused["error"] == "" and refused["value"]["verified"] is False
    assert refused["value"]["digest"] == unsigned
    assert refused["value"]["reasons"][0].startswith("signature: no provenance signature")
    assert "rule reference" in items["not an image"]["error"]
    garbage = httpx.post(provider, content=b"{not json", timeout=30)
    assert garbage.status_code == 400
    assert "malformed ProviderRequest" in garbage.json()["response"]["systemError"]


def test_exported_constraint_template_refuses_unverified_images_through_the_provider(
    provider, registry, keys
):
    policy = load_library().get("RG-IMG-005")
    source = constraint_template(policy)["spec"]["targets"][0]["code"][0]["source"]
    engine = regorus.Engine()
    engine.add_extension("external_data", 1, gatekeeper_external_data(provider))
    for i, lib in enumerate(source["libs"]):
        engine.add_policy(f"lib{i}.rego", lib)
    engine.add_policy("main.rego", source["rego"])

    good = release(registry.host, "riskgrid/admit-good", "1", keys)
    bad = release(registry.host, "riskgrid/admit-bad", "1", keys, with_sbom=False)
    verdicts = {}
    for name, image in (
        ("good", f"{registry.host}/riskgrid/admit-good@{good}"),
        ("bad", f"{registry.host}/riskgrid/admit-bad@{bad}"),
    ):
        obj = cases.build({"kind": "RayCluster", "container": {"image": image}})
        review = {"review": {"object": obj, "operation": "CREATE"}}
        engine.set_input({**review, "parameters": {"enforce": True, "exemptions": []}})
        verdicts[name] = yaml.safe_load(engine.eval_rule_as_json("data.rgimg005.violation"))
    assert verdicts["good"] == []
    assert verdicts["bad"], "a RayCluster on an image without an SBOM must be refused"
    assert all("RG-IMG-005 RayCluster/" in v["msg"] for v in verdicts["bad"])
    assert all("sbom: no CycloneDX SBOM attestation" in v["msg"] for v in verdicts["bad"])
