"""Helpers for the service tests: servers on loopback, settings, tenants and jobs.

Plain functions and constants live here (test modules import them by this unique name);
fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
import yaml

from riskgrid.service.app import create_app, uvicorn_options
from riskgrid.service.devkeys import mint_token
from riskgrid.service.settings import DEV_AUDIENCE, DEV_ISSUER, Settings

REPO = Path(__file__).resolve().parents[2]
PLATFORM_ADMINS = "riskgrid-platform-admins"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_database(server: object) -> str:
    """A fresh database on the shared server, so tests don't see each other's rows."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    uri = server.get_uri()  # type: ignore[attr-defined]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = uri.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


def dev_settings(state_dir: Path, db_url: str | None = None, **kw: object) -> Settings:
    return Settings(
        state_dir=state_dir,
        db_url=db_url,
        dev_mode=True,
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        jwks=str(state_dir / "dev" / "jwks.json"),
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object
    server: uvicorn.Server
    thread: threading.Thread

    def token(self, user: str, *groups: str, ttl: int = 600) -> str:
        return mint_token(self.settings.dev_dir, user, list(groups), ttl_seconds=ttl)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_server(settings: Settings) -> LiveServer:
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **uvicorn_options()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # start-up warms the work processes (spawn + imports)
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", settings, app, server, thread)


def tenant_doc(name: str, *, prefix: str | None = None) -> dict:
    """A valid Tenant based on the eq-vol example, with groups named after ``prefix``."""
    doc = yaml.safe_load((REPO / "examples" / "tenants" / "eq-vol.yaml").read_text())
    p = prefix or name
    doc["metadata"]["name"] = name
    doc["spec"].pop("namespace", None)
    doc["spec"]["groups"] = {
        "owners": [f"{p}-owners"],
        "admins": [f"{p}-admins"],
        "developers": [f"{p}-devs"],
        "viewers": [f"{p}-viewers"],
    }
    doc["spec"].pop("cloudIdentity", None)
    return json.loads(json.dumps(doc, default=str))


def job_file(directory: Path, tenant: str, source: str = "small.yaml", **grid: object) -> Path:
    """An example job, labelled for ``tenant`` (the policy requires it), in ``directory``.

    File references are made absolute so the copy still finds the example data.
    """
    src = REPO / "examples" / "jobs" / source
    doc = yaml.safe_load(src.read_text())
    doc["metadata"].setdefault("labels", {}).update(
        {"riskgrid.dev/tenant": tenant, "riskgrid.dev/cost-centre": "CC-4711"}
    )
    spec = doc["spec"]
    for section, key in (
        ("portfolio", "file"),
        ("marketData", "snapshot"),
        ("marketData", "history"),
    ):
        value = spec.get(section, {}).get(key)
        if value:
            spec[section][key] = str((src.parent / value).resolve())
    if grid:
        spec.setdefault("grid", {}).update(grid)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{tenant}-{source}"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
