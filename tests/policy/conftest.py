"""Fixtures shared by the policy tests."""

from __future__ import annotations

import pytest

from riskgrid.policy.engine import make_engine
from riskgrid.policy.library import Library, load_library


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library()


@pytest.fixture(scope="session")
def engines(library):
    """Both engines, each built once with the whole library."""
    return {name: make_engine(name, library.engine_key()) for name in ("regorus", "regopy")}
