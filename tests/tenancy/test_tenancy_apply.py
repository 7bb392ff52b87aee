"""`tenant apply|diff`: the requests the official client sends, recorded by a real loopback server.

No Kubernetes cluster runs here. A small HTTP server on 127.0.0.1 stands in for the API
server's object endpoints: it records every request, stores applied objects (so GET and a
second apply see them) and can be told to refuse one path, like admission would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.tenancy.apply import ApplyError, apply_objects, diff_objects, resource_path
from riskgrid.tenancy.proven import NotProven, apply_proven
from riskgrid.tenancy.render import render_tenants


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApiServer:
    requests: list[Recorded] = field(default_factory=list)
    store: dict[str, Any] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    missing: dict[str, int] = field(default_factory=dict)  # path -> 404s still to answer


def _handler(state: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = Recorded(
                self.command,
                url.path,
                parse_qs(url.query),
                dict(self.headers.items()),
                yaml.safe_load(raw) if raw else None,
            )
            state.requests.append(rec)
            return rec

        def do_GET(self) -> None:
            rec = self._record()
            if rec.path in state.store:
                self._reply(200, state.store[rec.path])
            else:
                self._reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def do_PATCH(self) -> None:
            rec = self._record()
            if state.missing.get(rec.path, 0) > 0:
                state.missing[rec.path] -= 1
                self._reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                return
            if rec.path in state.refuse:
                self._reply(422, {"kind": "Status", "code": 422, "message": "denied by admission"})
                return
            result = dict(rec.body)
            result["metadata"] = {**rec.body["metadata"], "uid": "u-1", "resourceVersion": "7"}
            if "dryRun" not in rec.query:
                state.store[rec.path] = result
            self._reply(200, result)

    return Handler


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    state = FakeApiServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "loop",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "users": [{"name": "ops", "user": {"token": "test-token"}}],
                "contexts": [{"name": "loop", "context": {"cluster": "loop", "user": "ops"}}],
                "current-context": "loop",
            }
        )
    )
    try:
        yield state, kubeconfig
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def objects(example_tenants) -> list[dict[str, Any]]:
    return render_tenants(example_tenants)


def test_resource_paths(objects) -> None:
    paths = {
        o["kind"]: resource_path(o)
        for o in objects
        if o["metadata"]["name"]
        in ("eq-vol", "ray", "tenant-eq-vol", "riskgrid-isolation.tenant-eq-vol", "default-deny")
    }
    assert paths["Namespace"] == "/api/v1/namespaces/eq-vol"
    assert paths["RayCluster"].startswith("/apis/ray.io/v1/namespaces/")
    assert paths["ClusterQueue"] == "/apis/kueue.x-k8s.io/v1beta2/clusterqueues/tenant-eq-vol"
    assert paths["GlobalNetworkPolicy"] == (
        "/apis/projectcalico.org/v3/globalnetworkpolicies/riskgrid-isolation.tenant-eq-vol"
    )
    assert paths["NetworkPolicy"].startswith("/apis/networking.k8s.io/v1/namespaces/")
    with pytest.raises(ApplyError, match="does not know how to apply Widget"):
        resource_path({"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"}})


def test_server_side_apply_requests(api, objects) -> None:
    state, kubeconfig = api
    done = apply_objects(objects, kubeconfig=str(kubeconfig))
    assert len(done) == len(objects) == len(state.requests)
    for rec in state.requests:
        assert rec.method == "PATCH"
        assert rec.headers["Content-Type"] == "application/apply-patch+yaml"
        assert rec.headers["Authorization"] == "Bearer test-token"
        assert rec.query["fieldManager"] == ["riskgrid"] and rec.query["force"] == ["true"]
        assert "dryRun" not in rec.query
    sent = {
        (r.body["kind"], r.body["metadata"]["name"], r.body["metadata"].get("namespace"))
        for r in state.requests
    }
    assert sent == {
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects
    }
    kinds = [r.body["kind"] for r in state.requests]
    # namespaces first; CRD-backed objects after what they refer to; workloads last
    assert kinds[:3] == ["Namespace"] * 3
    assert kinds.index("ClusterQueue") < kinds.index("LocalQueue") < kinds.index("RayCluster")
    assert max(i for i, k in enumerate(kinds) if k == "ServiceAccount") < kinds.index("RayCluster")
    assert kinds[-3:] == ["RayCluster"] * 3
    body = next(r.body for r in state.requests if r.body["kind"] == "RayCluster")
    assert body == next(
        o
        for o in objects
        if o["kind"] == "RayCluster" and o["metadata"]["namespace"] == body["metadata"]["namespace"]
    )


def test_apply_is_idempotent(api, objects) -> None:
    state, kubeconfig = api
    apply_objects(objects, kubeconfig=str(kubeconfig))
    first = [(r.method, r.path, r.body) for r in state.requests]
    stored = json.dumps(state.store, sort_keys=True)
    apply_objects(objects, kubeconfig=str(kubeconfig))
    second = [(r.method, r.path, r.body) for r in state.requests[len(first) :]]
    assert first == second
    assert json.dumps(state.store, sort_keys=True) == stored


def test_dry_run_server(api, objects, example_files, capsys) -> None:
    state, kubeconfig = api
    args = [
        "tenant",
        "apply",
        *map(str, example_files),
        "--kubeconfig",
        str(kubeconfig),
        "--dry-run",
        "server",
    ]
    assert main(args) == 0
    assert all(r.query.get("dryRun") == ["All"] for r in state.requests)
    assert len(state.requests) == len(objects)
    assert state.store == {}  # nothing persisted
    assert "(server dry run)" in capsys.readouterr().out


def test_refusal_stops_and_names_the_object(api, objects, capsys) -> None:
    state, kubeconfig = api
    rc = next(o for o in objects if o["kind"] == "LocalQueue")
    state.refuse.add(resource_path(rc))
    with pytest.raises(ApplyError, match=r"LocalQueue/.*/ray: apply failed: HTTP 422"):
        apply_objects(objects, kubeconfig=str(kubeconfig))
    assert state.requests[-1].path == resource_path(rc)
    assert not any(r.body["kind"] == "RayCluster" for r in state.requests)


def test_diff_before_and_after_apply(api, objects) -> None:
    state, kubeconfig = api
    before = diff_objects(objects, kubeconfig=str(kubeconfig))
    assert before.count("--- (absent)") == len(objects)
    assert "+kind: RayCluster" in before
    gets = [r for r in state.requests if r.method == "GET"]
    assert len(gets) == len(objects)
    assert all(r.query.get("dryRun") == ["All"] for r in state.requests if r.method == "PATCH")
    apply_objects(objects, kubeconfig=str(kubeconfig))
    assert diff_objects(objects, kubeconfig=str(kubeconfig)) == ""


def test_unreachable_server_is_a_clear_error(tmp_path, objects) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [{"name": "x", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "x", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
            }
        )
    )
    with pytest.raises(ApplyError, match="Namespace/desk-fx-options: apply failed"):
        apply_objects(objects[:1], kubeconfig=str(kubeconfig))


def test_bad_kubeconfig(tmp_path, example_files, capsys) -> None:
    rc = main(["tenant", "apply", str(example_files[-1]), "--kubeconfig", str(tmp_path / "nope")])
    assert rc == 2
    assert "cannot load kubeconfig" in capsys.readouterr().err


def test_cli_diff(api, example_files, capsys) -> None:
    state, kubeconfig = api
    rates = next(p for p in example_files if p.name == "rates.yaml")
    rc = main(["tenant", "diff", str(rates), "--kubeconfig", str(kubeconfig)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "+++ applied RayCluster/rates/ray" in out and "--- (absent)" in out
    assert state.store == {}  # a diff never persists anything


def test_waits_for_a_new_crd(api, objects) -> None:
    """A custom kind the server does not serve yet (404) is retried until it is served."""
    state, kubeconfig = api
    lq = next(o for o in objects if o["kind"] == "LocalQueue")
    state.missing[resource_path(lq)] = 2  # two 404s, then the CRD is "established"
    apply_objects(objects, kubeconfig=str(kubeconfig), crd_wait_s=5)
    tries = [r for r in state.requests if r.path == resource_path(lq)]
    assert len(tries) == 3
    assert resource_path(lq) in state.store


def test_gives_up_on_a_kind_that_never_appears(api, objects) -> None:
    state, kubeconfig = api
    lq = next(o for o in objects if o["kind"] == "LocalQueue")
    state.missing[resource_path(lq)] = 10**6
    with pytest.raises(ApplyError, match=r"LocalQueue/.*apply failed: HTTP 404"):
        apply_objects(objects, kubeconfig=str(kubeconfig), crd_wait_s=0.3)
    assert not any(r.body["kind"] == "RayCluster" for r in state.requests)


# --- verify-then-apply: nothing reaches the API server unless the whole world is proven -------

#: A platform-tier Calico policy that allows everything ahead of the tenants' isolation rules:
#: schema- and policy-clean, but every tenant pair and the metadata service become reachable.
BREACH = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "GlobalNetworkPolicy",
    "metadata": {
        "name": "riskgrid-isolation.allow-all",
        "labels": {"riskgrid.dev/tenant": "platform", "riskgrid.dev/cost-centre": "platform"},
    },
    "spec": {
        "tier": "riskgrid-isolation",
        "order": 1,
        "selector": "all()",
        "types": ["Ingress", "Egress"],
        "ingress": [{"action": "Allow"}],
        "egress": [{"action": "Allow"}],
    },
}

#: What a namespace admin could write: the policy library refuses it (RG-NET-004).
ALLOW_ALL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {
        "name": "allow-everything",
        "namespace": "eq-vol",
        "labels": {"riskgrid.dev/tenant": "eq-vol", "riskgrid.dev/cost-centre": "CC-4711"},
    },
    "spec": {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{}],
        "egress": [{}],
    },
}


@pytest.mark.parametrize("command", ["apply", "diff"])
def test_cli_refuses_a_bundle_that_breaks_isolation(
    api, example_files, tmp_path, capsys, command
) -> None:
    state, kubeconfig = api
    extra = tmp_path / "breach.yaml"
    extra.write_text(yaml.safe_dump(BREACH))
    args = ["tenant", command, *map(str, example_files), "--with", str(extra)]
    assert main([*args, "--kubeconfig", str(kubeconfig)]) == 1
    assert state.requests == []  # not one request: no write, no dry run, not even a GET
    err = capsys.readouterr().err
    assert "REFUSED: verification failed" in err and "nothing was applied" in err
    assert "tenant pairs isolated 0/6" in err
    assert "(netpol: cross-tenant)" in err and "(netpol: metadata)" in err
    assert "riskgrid-isolation.allow-all" in err  # the report names what let it through


def test_cli_refuses_a_policy_violation(api, example_files, tmp_path, capsys) -> None:
    state, kubeconfig = api
    extra = tmp_path / "allow.yaml"
    extra.write_text(yaml.safe_dump(ALLOW_ALL))
    args = ["tenant", "apply", *map(str, example_files), "--with", str(extra)]
    assert main([*args, "--kubeconfig", str(kubeconfig), "--dry-run", "server"]) == 1
    assert state.requests == []
    err = capsys.readouterr().err
    assert "NetworkPolicy/eq-vol/allow-everything" in err and "(policy: RG-NET-004)" in err


def test_apply_proven_refuses_and_applies_what_was_proven(api, example_tenants) -> None:
    state, kubeconfig = api
    with pytest.raises(NotProven) as refused:
        apply_proven(example_tenants, extra=[BREACH], kubeconfig=str(kubeconfig))
    assert state.requests == []
    assert refused.value.report.tenant_pairs_passed == 0
    assert {p.check for p in refused.value.report.problems} == {"network"}
    # A proven extra object is applied with the bundles; nothing else (not the platform) is.
    quota = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "desk-notes",
            "namespace": "eq-vol",
            "labels": {"riskgrid.dev/tenant": "eq-vol", "riskgrid.dev/cost-centre": "CC-4711"},
        },
        "data": {"note": "proven with the bundle"},
    }
    applied = apply_proven(example_tenants, extra=[quota], kubeconfig=str(kubeconfig))
    bundles = render_tenants(example_tenants)
    assert len(applied) == len(bundles) + 1
    assert resource_path(quota) in state.store
    assert {r.path for r in state.requests} == {resource_path(o) for o in [*bundles, quota]}
