"""Black-box harness for the issue #12 regression tests: ``riskgrid serve`` and the ``riskgrid``
CLI in their own processes, driven over HTTP and the command line only.

Nothing here imports ``riskgrid``: the same tests run against any checkout of the source
(``PYTHONPATH=<old>/src``), which is how ``scripts/failed_before.py`` shows that each test
failed before the #12 hardening and passes now. Tokens are signed here with the dev key the
server keeps in ``<state>/dev/signing-key.pem`` (the tests play the identity provider).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization

REPO = Path(__file__).resolve().parents[2]
PLATFORM_ADMINS = "riskgrid-platform-admins"
CLI = [sys.executable, "-m", "riskgrid.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """One ``riskgrid`` command in its own process (deadline ``timeout`` seconds)."""
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pg_database(server: object) -> str:
    """A fresh database on the shared embedded PostgreSQL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    uri = server.get_uri()  # type: ignore[attr-defined]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = uri.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


@dataclass
class Server:
    url: str
    state: Path
    db_url: str | None
    proc: subprocess.Popen[bytes]
    tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def claims(self, user: str, *groups: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": "riskgrid-dev",
            "aud": "riskgrid",
            "sub": user,
            "groups": list(groups),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        key = serialization.load_pem_private_key(
            (self.state / "dev" / "signing-key.pem").read_bytes(), password=None
        )
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = kid or hashlib.sha256(der).hexdigest()[:16]
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})  # type: ignore[arg-type]

    def token(self, user: str, *groups: str) -> str:
        if (user, *groups) not in self.tokens:
            self.tokens[(user, *groups)] = self.sign(self.claims(user, *groups))
        return self.tokens[(user, *groups)]

    def client(self, token: str | None = None, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def admin(self) -> httpx.Client:
        return self.client(self.token("root", PLATFORM_ADMINS))

    def dev(self, tenant: str = "desk-a", user: str = "dana") -> httpx.Client:
        return self.client(self.token(user, f"{tenant}-devs"))

    def db_args(self) -> list[str]:
        extra = ["--db-url", self.db_url] if self.db_url else []
        return [*extra, "--state-dir", str(self.state)]

    def audit(self) -> list[dict[str, Any]]:
        """The audit records, read with ``riskgrid audit show`` (the server must be stopped or
        have flushed)."""
        out = cli("audit", "show", "--limit", "10000", *self.db_args())
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: flushes aggregated denials
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def serve(state: Path, db_url: str | None = None, *args: str, **env: str) -> Server:
    """``riskgrid serve --dev`` in its own process, runner off; waits (≤ 120 s) until ready."""
    if not (state / "dev" / "signing-key.pem").exists():  # the dev key, as a user would make it
        made = cli("dev", "token", "--user", "setup", "--state-dir", str(state))
        assert made.returncode == 0, made.stderr
    port = free_port()
    cmd = [*CLI, "serve", "--dev", "--port", str(port), "--state-dir", str(state)]
    cmd += ["--log-level", "warning", *(["--db-url", db_url] if db_url else []), *args]
    full_env = {**os.environ, "RISKGRID_RUNNER": "0", **env}
    log = (state / "server.log").open("ab")
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # start-up may warm work processes
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(state / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return Server(url, state, db_url, proc)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not become ready within 120 s")
        time.sleep(0.1)


def tenant_doc(name: str) -> dict[str, Any]:
    """A valid Tenant from the eq-vol example, with groups ``<name>-owners`` etc."""
    doc = yaml.safe_load((REPO / "examples" / "tenants" / "eq-vol.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"].pop("namespace", None)
    doc["spec"].pop("cloudIdentity", None)
    doc["spec"]["groups"] = {
        role: [f"{name}-{role}"] for role in ("owners", "admins", "viewers")
    } | {"developers": [f"{name}-devs"]}
    return json.loads(json.dumps(doc, default=str))


def serve_with_tenants(state: Path, tenants: tuple[str, ...], **env: str) -> Server:
    """:func:`serve`, then each of ``tenants`` onboarded by the platform admin (the server is
    stopped again if one is refused)."""
    server = serve(state, **env)
    try:
        with server.admin() as admin:
            for name in tenants:
                r = admin.post("/v1/tenants", json=tenant_doc(name))
                assert r.status_code == 201, r.text
    except BaseException:
        server.stop()
        raise
    return server


def submission(tenant: str = "desk-a", name: str = "small") -> dict[str, Any]:
    """The small example job as an upload: ``{"job": ..., "files": {name: base64}}``."""
    src = REPO / "examples" / "jobs" / "small.yaml"
    doc = yaml.safe_load(src.read_text())
    doc["metadata"]["name"] = name
    doc["metadata"]["labels"] = {
        "riskgrid.dev/tenant": tenant,
        "riskgrid.dev/cost-centre": "CC-4711",
    }
    files = {}
    for i, key in enumerate(("snapshot", "history")):
        path = (src.parent / doc["spec"]["marketData"][key]).resolve()
        rel = f"files/{i}-{path.name}"
        files[rel] = base64.b64encode(path.read_bytes()).decode()
        doc["spec"]["marketData"][key] = rel
    return {"job": json.loads(json.dumps(doc, default=str)), "files": files}


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()
