"""Issue #12 §1: input that would cost the server more than it costs the caller.

Each test is a finding of the hostile-input review, reproduced against a real server on
loopback (or the library function the server calls) and asserted to be refused cleanly.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import yaml
from service_helpers import PLATFORM_ADMINS, LiveServer, dev_settings, job_file, start_server
from service_helpers import tenant_doc as make_tenant

from riskgrid.cli.main import main
from riskgrid.policy.inputs import parse_stream
from riskgrid.service.auth import AuthError, JwksCache
from riskgrid.service.devkeys import ensure_dev_key, key_id
from riskgrid.service.jobfiles import check_tree, decode_files, pack_job
from riskgrid.spec.errors import SpecError
from riskgrid.spec.loading import parse_yaml_documents


def _alias_bomb(n: int) -> str:
    """One anchored map referenced ``n`` times (quadratic work for a naive consumer)."""
    row = "{" + ", ".join(f"k{i}: {i}" for i in range(50)) + "}"
    refs = "\n".join("  - *a" for _ in range(n))
    return f"asOf: 2026-11-20\nbase: &a {row}\nrefs:\n{refs}\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("hostile")
    server = start_server(
        dev_settings(tmp / "state", rate_limit_burst=10_000, runner_enabled=False)
    )
    admin = server.client(server.token("root", PLATFORM_ADMINS))
    for name in ("desk-a", "desk-b"):
        assert admin.post("/v1/tenants", json=make_tenant(name)).status_code == 201
    server.tmp = tmp  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def _submission(srv: LiveServer) -> dict:
    doc, files = pack_job(job_file(srv.tmp, "desk-a"))  # type: ignore[attr-defined]
    return {"job": doc, "files": files}


def _dev(srv: LiveServer):
    return srv.client(srv.token("dana", "desk-a-devs"))


# --- bounded YAML -------------------------------------------------------------------------


def test_yaml_aliases_are_refused_in_spec_files_naming_the_file():
    started = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_yaml_documents(_alias_bomb(4000), "market.yaml")
    assert time.perf_counter() - started < 5  # refused up front, not after expanding
    text = str(info.value)
    assert "market.yaml" in text and "alias" in text


def test_yaml_depth_is_bounded_without_crashing_the_parser():
    with pytest.raises(SpecError, match=r"deep\.yaml: .*nested deeper than 64"):
        parse_yaml_documents("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")


def test_policy_inputs_cap_alias_expansion():
    docs, errors = parse_stream(
        "apiVersion: v1\nkind: ConfigMap\n" + _alias_bomb(40000).replace("asOf", "x"), "cm.yaml"
    )
    assert not docs
    assert errors and "cm.yaml" in errors[0].source and "expand to more than" in errors[0].message


def test_cli_refuses_an_alias_bomb_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "tenant.yaml"
    bad.write_text(_alias_bomb(10))
    job = tmp_path / "job.yaml"
    job.write_text(_alias_bomb(10))
    assert main(["run", str(job), "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert f"{job}" in err and "alias" in err
    assert main(["tenant", "render", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}" in err and "alias" in err


def test_api_refuses_an_alias_bomb_in_uploaded_market_data_with_422(srv):
    body = _submission(srv)
    name = next(k for k in body["files"] if "snapshot" in k)
    body["files"][name] = base64.b64encode(_alias_bomb(4000).encode()).decode()
    started = time.perf_counter()
    r = _dev(srv).post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert time.perf_counter() - started < 5
    assert name in r.json()["detail"] and "alias" in r.json()["detail"]


# --- deep JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 900, 5000])
def test_deeply_nested_json_bodies_are_422(srv, depth):
    body = _submission(srv)
    # json.dumps itself recurses: build the nested text by hand
    inner = '{"x":' * depth + "{}" + "}" * depth
    raw = json.dumps(body).replace('"spec": {', '"spec": {"extra": ' + inner + ", ", 1)
    r = _dev(srv).post(
        "/v1/tenants/desk-a/jobs", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert "nested deeper than" in r.json()["detail"] and r.json()["request_id"]
    r = _dev(srv).post(
        "/v1/policy/check",
        content='{"objects": [' + '{"a":' * depth + "1" + "}" * depth + "]}",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422, r.text


# --- upload paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["d", "d/x"], "both a file and a directory"),
        (["job.yaml/x"], "job.yaml"),
        (["a/b.csv", "A/b.csv"], "differ only in case"),
        (["data.CSV", "data.csv"], "differ only in case"),
        (["files/./a", "files/a"], "relative path"),
    ],
)
def test_colliding_upload_paths_are_refused_before_anything_is_written(
    srv, tmp_path, names, reason
):
    with pytest.raises(SpecError, match=reason):
        check_tree(names)
    with pytest.raises(SpecError):
        decode_files({n: base64.b64encode(b"x").decode() for n in names})
    body = _submission(srv)
    body["files"].update({n: base64.b64encode(b"x").decode() for n in names})
    r = _dev(srv).post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert reason in r.text


# --- numbers that parse but cannot be priced ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("portfolio", "positions", 0, "quantity"), 1e308, "quantity"),
        (("portfolio", "positions", 0, "strike"), 1e308, "strike"),
        (("scenarios", "stress", 0, "shocks", 2, "shift"), 1e308, "shift"),
    ],
)
def test_unpriceable_numbers_are_refused_at_submit(srv, tmp_path, path, value, field):
    src = yaml.safe_load((Path(__file__).parents[2] / "examples/jobs/small.yaml").read_text())
    node = src["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    body = _submission(srv)
    body["job"]["spec"]["portfolio"] = json.loads(json.dumps(src["spec"]["portfolio"], default=str))
    body["job"]["spec"]["scenarios"] = src["spec"]["scenarios"]
    r = _dev(srv).post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and "less than or equal" in r.json()["detail"]


# --- tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("exp", ["9999999999", 1e30, 2**62, True])
def test_absurd_or_string_exp_claims_are_refused(srv, exp):
    key = ensure_dev_key(srv.settings.dev_dir)
    now = int(time.time())
    claims = {
        "iss": srv.settings.issuer,
        "aud": srv.settings.audience,
        "sub": "dana",
        "groups": ["desk-a-devs"],
        "iat": now,
        "exp": exp,
    }
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": key_id(key)})
    r = srv.client(token).get("/v1/me")
    assert r.status_code == 401, r.text
    assert "exp" in r.json()["detail"]


def test_malformed_jwks_is_an_error_and_cached_keys_keep_working(srv, tmp_path):
    good = json.loads((srv.settings.dev_dir / "jwks.json").read_text())
    path = tmp_path / "jwks.json"
    for bad in ("[]", '{"keys": 5}', '{"keys": [1, "x"]}', "null"):
        path.write_text(bad)
        cache = JwksCache(str(path), min_refetch_seconds=0)
        with pytest.raises(AuthError, match="signing keys unavailable"):
            cache.key("k1")
    path.write_text(json.dumps(good))
    cache = JwksCache(str(path), min_refetch_seconds=0)
    kid = good["keys"][0]["kid"]
    assert cache.key(kid) is not None
    path.write_text("[]")  # the IdP starts serving garbage
    with pytest.raises(AuthError, match="unknown key"):
        cache.key("other")
    assert cache.key(kid) is not None  # the good key is still cached


def test_malformed_jwks_on_the_server_gives_401_not_500(tmp_path):
    srv = start_server(dev_settings(tmp_path / "state", jwks_min_refetch_seconds=0))
    try:
        token = srv.token("dana", "desk-a-devs")
        assert srv.client(token).get("/v1/me").status_code == 200
        (srv.settings.dev_dir / "jwks.json").write_text("[]")
        header = jwt.get_unverified_header(token)
        forged = jwt.encode(
            jwt.decode(token, options={"verify_signature": False}),
            ensure_dev_key(srv.settings.dev_dir),
            algorithm="ES256",
            headers={"kid": header["kid"] + "x"},
        )
        r = srv.client(forged).get("/v1/me")
        assert r.status_code == 401 and "unknown key" in r.json()["detail"]
        assert srv.client(token).get("/v1/me").status_code == 200
    finally:
        srv.stop()


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["riskgrid.dev/Tenant", "RiskGrid.dev/tenant", "riskgrid.dev/owner", "Kubernetes.io/x"]
)
def test_reserved_label_keys_are_refused_in_any_case(srv, key):
    body = _submission(srv)
    body["job"]["metadata"]["labels"][key] = "desk-b"
    r = _dev(srv).post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["violations"][0]["policy_id"] == "RG-ADM-003"
    assert key in r.json()["detail"]


# --- framework errors, OPTIONS, OpenAPI ---------------------------------------------------


def test_framework_errors_carry_the_app_error_body(srv):
    c = _dev(srv)
    for r, status in (
        (c.get("/nowhere"), 404),
        (c.delete("/v1/me"), 405),
        (
            c.post(
                "/v1/policy/check",
                content=b"\xff\xfe",
                headers={"content-type": "application/json; charset=x-nope"},
            ),
            400,
        ),
    ):
        assert r.status_code in (status, 422), r.text
        body = r.json()
        assert set(body) >= {"detail", "request_id"}, body
        assert body["request_id"] == r.headers["x-request-id"]
    assert c.delete("/v1/me").headers["allow"] == "GET, OPTIONS"


def test_options_answers_with_allow(srv):
    r = srv.client().options("/v1/tenants/desk-a/jobs")
    assert r.status_code == 204
    assert r.headers["allow"] == "OPTIONS, POST"
    assert srv.client().options("/nowhere").status_code == 404


def test_openapi_lists_the_400_and_429_responses_sent(srv):
    spec = srv.client().get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "400" in codes, (method, path)
            if path.startswith("/v1/"):
                assert {"401", "429"} <= codes, (method, path)
                assert "Retry-After" in op["responses"]["429"].get("headers", {}), (method, path)


# --- content-addressed uploads ------------------------------------------------------------


def test_resubmission_references_stored_files_by_hash_per_tenant(srv):
    from riskgrid.client import Client
    from riskgrid.service.jobfiles import content_hash

    body = _submission(srv)
    digests = {rel: content_hash(b64) for rel, b64 in body["files"].items()}
    dev = _dev(srv)
    assert dev.post("/v1/tenants/desk-a/jobs", json=body).status_code == 201
    r = dev.post("/v1/tenants/desk-a/blobs/missing", json={"sha256": sorted(digests.values())})
    assert r.status_code == 200 and r.json()["missing"] == []
    # the same job again: hashes only, no file is sent
    r = dev.post("/v1/tenants/desk-a/jobs", json={"job": body["job"], "refs": digests})
    assert r.status_code == 201, r.text
    # another tenant cannot reference (or learn about) desk-a's files
    other = srv.client(srv.token("bo", "desk-b-devs"))
    r = other.post("/v1/tenants/desk-b/blobs/missing", json={"sha256": sorted(digests.values())})
    assert sorted(r.json()["missing"]) == sorted(set(digests.values()))
    job_b = {**body["job"], "metadata": {**body["job"]["metadata"], "labels": {}}}
    r = other.post("/v1/tenants/desk-b/jobs", json={"job": job_b, "refs": digests})
    assert r.status_code == 422 and "no such file uploaded by this tenant" in r.text
    # references and uploads are one tree: a ref may not collide with an upload
    name = next(iter(digests))
    clash = {"job": body["job"], "files": {name.upper(): body["files"][name]}, "refs": digests}
    assert dev.post("/v1/tenants/desk-a/jobs", json=clash).status_code == 422
    # the Python client uses the protocol: everything is known, nothing is uploaded
    client = Client(srv.url, srv.token("dana", "desk-a-devs"), tenant="desk-a")
    assert client.submit(job_file(srv.tmp, "desk-a")).data["state"] == "queued"  # type: ignore[attr-defined]


def test_resubmission_over_stored_files_is_a_verdict_cache_hit_not_a_revalidation(srv):
    """The same job over the same (referenced) files is loaded and admitted once: the second
    submission is a cache hit, and a changed job is not."""
    from riskgrid.service.jobfiles import content_hash

    verdicts = srv.app.state.services.verdicts  # type: ignore[attr-defined]
    body = _submission(srv)
    body["job"]["metadata"]["name"] = "cache-probe"
    refs = {rel: content_hash(b64) for rel, b64 in body["files"].items()}
    dev = _dev(srv)
    hits, misses = verdicts.hits, verdicts.misses
    assert dev.post("/v1/tenants/desk-a/jobs", json=body).status_code == 201
    assert (verdicts.hits, verdicts.misses) == (hits, misses + 1)
    r = dev.post("/v1/tenants/desk-a/jobs", json={"job": body["job"], "refs": refs})
    assert r.status_code == 201, r.text
    assert (verdicts.hits, verdicts.misses) == (hits + 1, misses + 1)
    changed = {**body["job"], "metadata": {**body["job"]["metadata"], "name": "cache-probe-2"}}
    assert (
        dev.post("/v1/tenants/desk-a/jobs", json={"job": changed, "refs": refs}).status_code == 201
    )
    assert (verdicts.hits, verdicts.misses) == (hits + 1, misses + 2)
