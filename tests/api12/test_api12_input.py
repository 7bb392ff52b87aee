"""Issue #12 §1, black-box: input that costs the server more than it costs the caller.

Each test drives a real ``riskgrid serve`` (or the ``riskgrid`` CLI) in its own process and
imports nothing of riskgrid, so ``scripts/failed_before.py`` runs it against the source
before the #12 hardening too (docs/api-hardening.md has the table).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from api12_server import Server, b64, cli, serve, serve_with_tenants, submission


def alias_bomb(n: int) -> str:
    """One anchored map referenced ``n`` times (quadratic work for a naive consumer)."""
    row = "{" + ", ".join(f"k{i}: {i}" for i in range(50)) + "}"
    refs = "\n".join("  - *a" for _ in range(n))
    return f"asOf: 2026-11-20\nbase: &a {row}\nrefs:\n{refs}\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = serve_with_tenants(
        tmp_path_factory.mktemp("api12-input") / "state",
        ("desk-a", "desk-b"),
        RISKGRID_RATE_LIMIT_BURST="100000",
        RISKGRID_RATE_LIMIT_PER_SECOND="1000",
    )
    try:
        yield server
    finally:
        server.stop()


def test_blackbox_alias_bomb_upload_is_422_naming_the_file(srv: Server) -> None:
    body = submission()
    name = next(k for k in body["files"] if "snapshot" in k)
    body["files"][name] = b64(alias_bomb(2000))
    with srv.dev() as dev:
        r = dev.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert name in r.json()["detail"] and "alias" in r.json()["detail"], r.text


def test_blackbox_alias_bomb_in_cli_files_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    """A job whose market snapshot is an alias bomb, and a tenant file that is one."""
    body = submission()
    snapshot, tenant = tmp_path / "snap.yaml", tmp_path / "tenant.yaml"
    snapshot.write_text(alias_bomb(2000))
    tenant.write_text(alias_bomb(2000))
    history = next(k for k in body["files"] if "history" in k)
    (tmp_path / "history.csv").write_bytes(base64.b64decode(body["files"][history]))
    body["job"]["spec"]["marketData"] = {"snapshot": "snap.yaml", "history": "history.csv"}
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(body["job"], sort_keys=False))
    for args, named in (
        (["run", str(job), "--out", str(tmp_path / "res")], snapshot),
        (["tenant", "render", str(tenant), "--out", str(tmp_path / "out")], tenant),
    ):
        out = cli(*args)
        err = out.stderr.replace(str(tmp_path), "TMP")  # (the test's own name says "alias")
        assert out.returncode == 2, (out.returncode, err[-800:])
        assert f"TMP/{named.name}" in err and "alias" in err, err[-800:]


@pytest.mark.parametrize("route", ["submit", "policy-check"])
def test_blackbox_deep_json_is_422_not_500(srv: Server, route: str) -> None:
    inner = '{"x":' * 900 + "{}" + "}" * 900  # json.dumps itself recurses: by hand
    if route == "submit":
        raw = json.dumps(submission()).replace('"spec": {', '"spec": {"extra": ' + inner + ", ", 1)
        path = "/v1/tenants/desk-a/jobs"
    else:
        raw, path = '{"objects": [' + inner + "]}", "/v1/policy/check"
    with srv.dev() as dev:
        r = dev.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "nested deeper than" in r.json()["detail"] and r.json()["request_id"], r.text


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["d", "d/x"], "both a file and a directory"),
        (["job.yaml/x"], "job.yaml"),
        (["a/b.csv", "A/b.csv"], "differ only in case"),
        (["data.CSV", "data.csv"], "differ only in case"),
        (["files/./a", "files/a"], "relative path"),
    ],
    ids=["file-and-dir", "under-job-yaml", "dir-case", "file-case", "dot-segment"],
)
def test_blackbox_colliding_upload_paths_are_422(
    srv: Server, names: list[str], reason: str
) -> None:
    body = submission()
    body["files"].update({n: b64("x") for n in names})
    with srv.dev() as dev:
        r = dev.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"], r.text


@pytest.mark.parametrize(
    ("where", "field"),
    [("quantity", "quantity"), ("strike", "strike"), ("shift", "shift")],
)
def test_blackbox_unpriceable_numbers_are_422_at_submit(
    srv: Server, where: str, field: str
) -> None:
    body = submission(name=f"huge-{where}")
    spec = body["job"]["spec"]
    if where == "shift":
        spec["scenarios"]["stress"][0]["shocks"][2]["shift"] = 1e308
    else:
        spec["portfolio"]["positions"][0][where] = 1e308
    with srv.dev() as dev:
        r = dev.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and "less than or equal" in r.json()["detail"], r.text


@pytest.mark.parametrize(
    "exp", ["9999999999", 1e30, 2**62, True], ids=["string", "1e30", "2e62", "bool"]
)
def test_blackbox_absurd_or_string_exp_is_401(srv: Server, exp: object) -> None:
    claims = srv.claims("dana", "desk-a-devs") | {"exp": exp}
    with srv.client(srv.sign(claims)) as c:
        r = c.get("/v1/me")
    assert r.status_code == 401, r.text
    assert "exp" in r.json()["detail"], r.text


def test_blackbox_malformed_jwks_is_401_not_500(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text("[]")
    server = serve(tmp_path / "state", RISKGRID_OIDC_JWKS=str(jwks))
    try:
        for kid in (None, "unknown-kid"):
            token = server.sign(server.claims("dana", "desk-a-devs"), kid=kid)
            with server.client(token) as c:
                r = c.get("/v1/me")
            assert r.status_code in (401, 503), r.text
            assert "signing keys unavailable" in r.json()["detail"], r.text
    finally:
        server.stop()


def test_blackbox_garbage_jwks_after_good_keys_is_401_and_cached_keys_keep_working(
    tmp_path: Path,
) -> None:
    """The identity provider starts serving ``[]``: a token with an unknown key id is refused
    (401, not 500) and tokens signed with the cached good key still work."""
    state = tmp_path / "state"
    made = cli("dev", "token", "--user", "setup", "--state-dir", str(state))
    assert made.returncode == 0, made.stderr
    jwks = tmp_path / "jwks.json"
    jwks.write_text((state / "dev" / "jwks.json").read_text())
    server = serve(state, RISKGRID_OIDC_JWKS=str(jwks))
    try:
        good = server.token("dana", "desk-a-devs")
        with server.client(good) as c:
            assert c.get("/v1/me").status_code == 200
        jwks.write_text("[]")
        time.sleep(10.5)  # past the refetch interval (10 s): the unknown kid makes it refetch
        other = server.sign(server.claims("dana", "desk-a-devs"), kid="rotated-key")
        with server.client(other) as c:
            r = c.get("/v1/me")
        assert r.status_code == 401, r.text
        assert "unknown key" in r.json()["detail"], r.text
        with server.client(good) as c:
            assert c.get("/v1/me").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    "key",
    ["riskgrid.dev/Tenant", "RiskGrid.dev/tenant", "riskgrid.dev/owner", "Kubernetes.io/x"],
    ids=["Tenant", "RiskGrid", "owner", "Kubernetes"],
)
def test_blackbox_reserved_label_keys_are_422_in_any_case(srv: Server, key: str) -> None:
    body = submission(name="labels")
    body["job"]["metadata"]["labels"][key] = "desk-b"
    with srv.dev() as dev:
        r = dev.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["violations"][0]["policy_id"] == "RG-ADM-003", r.text
    assert key in r.json()["detail"], r.text


def test_blackbox_framework_errors_carry_request_id(srv: Server) -> None:
    with srv.dev() as c:
        answers = [
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
        ]
        for r, status in answers:
            assert r.status_code in (status, 422), r.text
            assert set(r.json()) >= {"detail", "request_id"}, r.text
            assert r.json()["request_id"] == r.headers["x-request-id"]
        assert c.delete("/v1/me").headers.get("allow") == "GET, OPTIONS"


def test_blackbox_options_answers_with_allow(srv: Server) -> None:
    r = httpx.options(f"{srv.url}/v1/tenants/desk-a/jobs")
    assert r.status_code == 204, r.text
    assert r.headers["allow"] == "OPTIONS, POST"


def test_blackbox_openapi_lists_400_and_429_with_retry_after(srv: Server) -> None:
    spec = httpx.get(f"{srv.url}/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "400" in codes, (method, path)
            if path.startswith("/v1/"):
                assert {"401", "429"} <= codes, (method, path)
                assert "Retry-After" in op["responses"]["429"].get("headers", {}), (method, path)


def test_blackbox_deep_yaml_is_exit_2_not_a_crash(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    out = cli("run", str(deep), "--out", str(tmp_path / "res"))
    assert out.returncode == 2, (out.returncode, out.stderr[-500:])
    assert f"{deep}" in out.stderr and "nested deeper than 64" in out.stderr, out.stderr[-500:]


def test_blackbox_policy_input_alias_expansion_is_capped(tmp_path: Path) -> None:
    """A 400-byte manifest whose anchors expand to over a million nodes ("billion laughs"):
    Kubernetes manifests may use anchors, so they are counted at their expanded size and the
    file is refused (before: 4.7 s and 600 MB of memory to check it)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: laughs, namespace: x}"]
    lines.append("l0: &l0 [" + ",".join(["1"] * 10) + "]")
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 7)]
    manifest = tmp_path / "laughs.yaml"
    manifest.write_text("\n".join(lines) + "\n")
    out = cli("policy", "check", str(manifest))
    text = out.stdout + out.stderr
    assert out.returncode == 2, (out.returncode, text[-800:])
    assert str(manifest) in text and "expand to more than 1,000,000 nodes" in text, text[-800:]
