"""`cluster snapshot` against a real HTTP server on loopback that answers list requests.

No Kubernetes API server runs here. The server below serves the list endpoints of the
resources a snapshot reads, in pages (``limit``/``continue``), answers 404 for CRDs "not
installed", can expire a continue token once (410) and records every request, so the tests
see exactly what the official client sent.
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
from cluster_helpers import pod

from riskgrid.cli.main import main
from riskgrid.cluster.live import SnapshotReadError, snapshot_cluster
from riskgrid.cluster.snapshot import load_snapshot


@dataclass
class ListServer:
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    expire_once: set[str] = field(default_factory=set)
    fail: dict[str, int] = field(default_factory=dict)


def _handler(state: ListServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            state.requests.append((url.path, query, dict(self.headers.items())))
            if url.path in state.fail:
                self._reply(state.fail[url.path], {"kind": "Status", "reason": "boom"})
                return
            if url.path not in state.collections:
                self._reply(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                return
            items = state.collections[url.path]
            limit = int(query.get("limit", ["1000000"])[0])
            start = int(query.get("continue", ["0"])[0])
            if start and url.path in state.expire_once:
                state.expire_once.discard(url.path)
                self._reply(410, {"kind": "Status", "code": 410, "reason": "Expired"})
                return
            page = items[start : start + limit]
            meta = {"resourceVersion": "77"}
            if start + limit < len(items):
                meta["continue"] = str(start + limit)
            # Real list answers carry items without apiVersion/kind.
            stripped = [
                {k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in page
            ]
            self._reply(
                200, {"kind": "List", "apiVersion": "v1", "metadata": meta, "items": stripped}
            )

    return Handler


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ListServer, Path]]:
    state = ListServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "loop", "cluster": {"server": f"http://127.0.0.1:{httpd.server_port}"}}
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
        httpd.shutdown()
        httpd.server_close()


def _fill(state: ListServer) -> None:
    state.collections["/api/v1/namespaces"] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("a", "b")
    ]
    state.collections["/api/v1/pods"] = [pod("a", f"p{i}", f"10.1.0.{i}") for i in range(7)]
    state.collections["/apis/networking.k8s.io/v1/networkpolicies"] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "deny",
                "namespace": "a",
                "managedFields": [{"manager": "kubectl"}],
            },
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }
    ]
    for path in (
        "/api/v1/services",
        "/api/v1/endpoints",
        "/api/v1/serviceaccounts",
        "/api/v1/resourcequotas",
        "/api/v1/limitranges",
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/replicasets",
        "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets",
        "/apis/batch/v1/jobs",
        "/apis/batch/v1/cronjobs",
        "/apis/rbac.authorization.k8s.io/v1/roles",
        "/apis/rbac.authorization.k8s.io/v1/rolebindings",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    ):
        state.collections[path] = []


def test_snapshot_pages_through_every_list(server, tmp_path: Path) -> None:
    state, kubeconfig = server
    _fill(state)
    seen: list[tuple[str, int]] = []
    out = snapshot_cluster(
        tmp_path / "snap",
        kubeconfig=str(kubeconfig),
        page=3,
        progress=lambda res, n: seen.append((res.plural, n)),
    )
    pod_requests = [q for p, q, _ in state.requests if p == "/api/v1/pods"]
    # 7 pods in pages of 3: three requests, following the server's continue tokens.
    assert [q.get("continue") for q in pod_requests] == [None, ["3"], ["6"]]
    assert all(q["limit"] == ["3"] for _, q, _ in state.requests)
    assert all(h.get("Authorization") == "Bearer test-token" for _, _, h in state.requests)
    assert not any("secrets" in p or "configmaps" in p for p, _, _ in state.requests)
    assert ("pods", 7) in seen
    snap = load_snapshot([out])
    assert not snap.problems
    assert sorted(o.ref for o in snap.objects if o.obj["kind"] == "Pod") == [
        f"Pod/a/p{i}" for i in range(7)
    ]
    np_obj = next(o.obj for o in snap.objects if o.obj["kind"] == "NetworkPolicy")
    assert np_obj["apiVersion"] == "networking.k8s.io/v1"
    assert "managedFields" not in np_obj["metadata"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "projectcalico.org/v3/tiers" in manifest["notServed"]
    assert "ray.io/v1/rayclusters" in manifest["notServed"]


def test_expired_continue_token_restarts_the_list(server, tmp_path: Path) -> None:
    state, kubeconfig = server
    _fill(state)
    state.expire_once.add("/api/v1/pods")
    out = snapshot_cluster(tmp_path / "snap", kubeconfig=str(kubeconfig), page=3)
    pods = [o for o in load_snapshot([out]).objects if o.obj["kind"] == "Pod"]
    assert len(pods) == 7  # no duplicate from the first, abandoned pass


def test_server_error_names_the_resource_and_writes_nothing(server, tmp_path: Path) -> None:
    state, kubeconfig = server
    _fill(state)
    state.fail["/apis/apps/v1/deployments"] = 403
    with pytest.raises(SnapshotReadError, match=r"GET /apis/apps/v1/deployments: .*403"):
        snapshot_cluster(tmp_path / "snap", kubeconfig=str(kubeconfig))
    assert not (tmp_path / "snap").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "kubeconfig"]


def test_cli_snapshot_then_audit(server, tmp_path: Path, capsys) -> None:
    state, kubeconfig = server
    _fill(state)
    out = tmp_path / "snap"
    assert main(["cluster", "snapshot", "--kubeconfig", str(kubeconfig), "-o", str(out)]) == 0
    assert (out / "manifest.json").exists()
    capsys.readouterr()
    code = main(["cluster", "audit", str(out), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["objects"] == 2 + 1 + 7  # namespaces, NetworkPolicy, 7 bare pods
    assert code in (0, 1)


def test_missing_core_resource_is_an_error_not_an_empty_list(server, tmp_path: Path) -> None:
    state, kubeconfig = server
    _fill(state)
    del state.collections["/apis/networking.k8s.io/v1/networkpolicies"]
    with pytest.raises(SnapshotReadError, match=r"networkpolicies: .*404"):
        snapshot_cluster(tmp_path / "snap", kubeconfig=str(kubeconfig))
    assert not (tmp_path / "snap").exists()


def test_cli_reports_an_unreachable_server(tmp_path: Path, capsys) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("not: [a kubeconfig")
    code = main(["cluster", "snapshot", "--kubeconfig", str(kubeconfig), "-o", str(tmp_path / "s")])
    assert code == 2
    assert "cannot load kubeconfig" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
