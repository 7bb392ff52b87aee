"""Every route × every role × own/other tenant, over HTTP, on SQLite and PostgreSQL.

Tenant A's users must not be able to read, list, cancel or even learn of tenant B's jobs,
results or bundle: "not yours" answers exactly like "absent".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import (
    PLATFORM_ADMINS,
    LiveServer,
    _pg_database,
    dev_settings,
    job_file,
    start_server,
    tenant_doc,
)

ROLES: dict[str, tuple[str, ...]] = {
    "anonymous": (),
    "platform-admin": (PLATFORM_ADMINS,),
    "owner": ("desk-a-owners",),
    "tenant-admin": ("desk-a-admins",),
    "developer": ("desk-a-devs",),
    "viewer": ("desk-a-viewers",),
    "outsider": ("someone-else",),
}

# Expected status for each tenant-scoped route on desk-a's (own) objects, by role. On desk-b's
# (other) objects every role but platform-admin gets 404; anonymous always gets 401.
OWN: dict[str, dict[str, int]] = {
    "platform-admin": dict(
        tget=200,
        tput=200,
        submit=201,
        jlist=200,
        jget=200,
        cancel=409,
        result=200,
        file=200,
        blobs=200,
    ),
    "owner": dict(
        tget=200,
        tput=200,
        submit=201,
        jlist=200,
        jget=200,
        cancel=409,
        result=200,
        file=200,
        blobs=200,
    ),
    "tenant-admin": dict(
        tget=200,
        tput=200,
        submit=201,
        jlist=200,
        jget=200,
        cancel=409,
        result=200,
        file=200,
        blobs=200,
    ),
    "developer": dict(
        tget=200,
        tput=403,
        submit=201,
        jlist=200,
        jget=200,
        cancel=409,
        result=200,
        file=200,
        blobs=200,
    ),
    "viewer": dict(
        tget=200,
        tput=403,
        submit=403,
        jlist=200,
        jget=200,
        cancel=403,
        result=200,
        file=200,
        blobs=403,
    ),
    "outsider": dict(
        tget=404,
        tput=404,
        submit=404,
        jlist=404,
        jget=404,
        cancel=404,
        result=404,
        file=404,
        blobs=404,
    ),
}
GLOBAL = {  # role → (create tenant, tenants listed, jobs listed from, me, policy check)
    "platform-admin": (201, {"desk-a", "desk-b"}),
    "owner": (403, {"desk-a"}),
    "tenant-admin": (403, {"desk-a"}),
    "developer": (403, {"desk-a"}),
    "viewer": (403, {"desk-a"}),
    "outsider": (403, set()),
}


class World:
    def __init__(self, srv: LiveServer, tmp: Path) -> None:
        self.srv = srv
        self.tmp = tmp
        admin = srv.client(srv.token("root", PLATFORM_ADMINS))
        self.docs = {}
        for name in ("desk-a", "desk-b"):
            self.docs[name] = tenant_doc(name)
            assert admin.post("/v1/tenants", json=self.docs[name]).status_code == 201
        self.jobs = {}
        for name in ("desk-a", "desk-b"):
            r = self.submit(admin, name)
            assert r.status_code == 201, r.text
            self.jobs[name] = r.json()["id"]
        for job_id in self.jobs.values():
            self.wait(admin, job_id)

    def submit(self, client, tenant: str):
        from riskgrid.service.jobfiles import pack_job

        doc, files = pack_job(job_file(self.tmp, tenant))
        return client.post(f"/v1/tenants/{tenant}/jobs", json={"job": doc, "files": files})

    @staticmethod
    def wait(client, job_id: str) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            data = client.get(f"/v1/jobs/{job_id}").json()
            if data["state"] in ("succeeded", "failed", "cancelled"):
                assert data["state"] == "succeeded", data
                return data
            time.sleep(0.2)
        raise AssertionError("job did not finish")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    url = None if request.param == "sqlite" else _pg_database(request.getfixturevalue("pg_server"))
    srv = start_server(dev_settings(tmp / "state", url, rate_limit_burst=10_000))
    try:
        yield World(srv, tmp)
    finally:
        srv.stop()


def _call(world: World, client, route: str, tenant: str):
    job = world.jobs[tenant]
    if route == "tget":
        return client.get(f"/v1/tenants/{tenant}")
    if route == "tput":
        return client.put(f"/v1/tenants/{tenant}", json=world.docs[tenant])
    if route == "submit":
        r = world.submit(client, tenant)
        if r.status_code == 201:  # don't leave work running behind the test
            client.post(f"/v1/jobs/{r.json()['id']}/cancel")
        return r
    if route == "jlist":
        return client.get("/v1/jobs", params={"tenant": tenant})
    if route == "jget":
        return client.get(f"/v1/jobs/{job}")
    if route == "cancel":
        return client.post(f"/v1/jobs/{job}/cancel")
    if route == "result":
        return client.get(f"/v1/jobs/{job}/result")
    if route == "file":
        return client.get(f"/v1/jobs/{job}/files/pnl_portfolio.parquet")
    if route == "blobs":
        return client.post(f"/v1/tenants/{tenant}/blobs/missing", json={"sha256": ["0" * 64]})
    raise AssertionError(route)


ROUTE_PATHS = {
    "tget": ("GET", "/v1/tenants/{name}"),
    "tput": ("PUT", "/v1/tenants/{name}"),
    "submit": ("POST", "/v1/tenants/{tenant}/jobs"),
    "jlist": ("GET", "/v1/jobs"),
    "jget": ("GET", "/v1/jobs/{job_id}"),
    "cancel": ("POST", "/v1/jobs/{job_id}/cancel"),
    "result": ("GET", "/v1/jobs/{job_id}/result"),
    "file": ("GET", "/v1/jobs/{job_id}/files/{name}"),
    "blobs": ("POST", "/v1/tenants/{tenant}/blobs/missing"),
}
GLOBAL_PATHS = {
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants"),
    ("GET", "/v1/me"),
    ("POST", "/v1/policy/check"),
}
PUBLIC_PATHS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


def test_matrix_covers_every_route(world):
    spec = world.srv.client().get("/openapi.json").json()
    api = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert api == set(ROUTE_PATHS.values()) | GLOBAL_PATHS | PUBLIC_PATHS


@pytest.mark.parametrize("role", list(ROLES))
def test_tenant_scoped_routes(world, role):
    srv = world.srv
    client = srv.client(srv.token(f"user-{role}", *ROLES[role]) if role != "anonymous" else None)
    outcomes = {}
    for route in ROUTE_PATHS:
        for side, tenant in (("own", "desk-a"), ("other", "desk-b")):
            outcomes[(route, side)] = _call(world, client, route, tenant).status_code
    if role == "anonymous":
        expected = {k: 401 for k in outcomes}
    else:
        expected = {}
        for route in ROUTE_PATHS:
            expected[(route, "own")] = OWN[role][route]
            expected[(route, "other")] = OWN[role][route] if role == "platform-admin" else 404
    assert outcomes == expected


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_global_routes(world, role):
    srv = world.srv
    client = srv.client(srv.token(f"user-{role}", *ROLES[role]))
    create_status, visible = GLOBAL[role]
    doc = tenant_doc(f"new-{role}")
    assert client.post("/v1/tenants", json=doc).status_code == create_status
    listed = {t["name"] for t in client.get("/v1/tenants").json()["items"]}
    assert listed == visible | ({doc["metadata"]["name"]} if create_status == 201 else set()) | (
        {n for n in listed if n.startswith("new-")} if role == "platform-admin" else set()
    )
    jobs = client.get("/v1/jobs", params={"limit": 100}).json()["items"]
    assert {j["tenant"] for j in jobs} <= visible
    assert world.jobs["desk-b"] not in {j["id"] for j in jobs} or role == "platform-admin"
    me = client.get("/v1/me").json()
    assert set(me["tenants"]) >= visible and me["subject"] == f"user-{role}"
    assert client.post("/v1/policy/check", json={"objects": []}).status_code == 200


def test_not_yours_is_indistinguishable_from_absent(world):
    srv = world.srv
    client = srv.client(srv.token("dana", "desk-a-devs"))
    absent_job = "0" * 32
    pairs = [
        ("/v1/tenants/desk-b", "/v1/tenants/no-such-desk"),
        (f"/v1/jobs/{world.jobs['desk-b']}", f"/v1/jobs/{absent_job}"),
        (f"/v1/jobs/{world.jobs['desk-b']}/result", f"/v1/jobs/{absent_job}/result"),
        ("/v1/jobs?tenant=desk-b", "/v1/jobs?tenant=no-such-desk"),
    ]
    for theirs, absent in pairs:
        a, b = client.get(theirs), client.get(absent)
        assert a.status_code == b.status_code == 404
        strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
        assert strip(a) == strip(b)
        assert set(a.headers) == set(b.headers)
    a = client.post(f"/v1/jobs/{world.jobs['desk-b']}/cancel")
    b = client.post(f"/v1/jobs/{absent_job}/cancel")
    assert a.status_code == b.status_code == 404 and a.json()["detail"] == b.json()["detail"]
    a = world.submit(client, "desk-b")
    b = world.submit(client, "no-such-desk")
    assert a.status_code == b.status_code == 404 and a.json()["detail"] == b.json()["detail"]


def test_tenant_admin_may_change_only_membership(world):
    srv = world.srv
    client = srv.client(srv.token("ada", "desk-a-admins"))
    doc = dict(world.docs["desk-a"])
    spec = dict(doc["spec"])
    spec["groups"] = {**spec["groups"], "viewers": ["desk-a-viewers", "auditors"]}
    r = client.put("/v1/tenants/desk-a", json={**doc, "spec": spec})
    assert r.status_code == 200, r.text
    assert r.json()["generation"] >= 2
    quotas = {**spec["quotas"], "cpu": "512"}
    r = client.put("/v1/tenants/desk-a", json={**doc, "spec": {**spec, "quotas": quotas}})
    assert r.status_code == 403 and "only spec.groups" in r.json()["detail"]
    owners = {**spec["groups"], "owners": ["ada-friends"]}
    r = client.put("/v1/tenants/desk-a", json={**doc, "spec": {**spec, "groups": owners}})
    assert r.status_code == 403
