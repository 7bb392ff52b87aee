"""Fixtures for the supply-chain tests: one real registry for the session, signing keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from registry_proc import Registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.start()
    yield reg
    reg.stop()


@dataclass(frozen=True)
class Keys:
    pipeline: Any  # Ed25519: the build pipeline
    scanner: Any  # ECDSA P-256: the scanning stage
    stranger: Any  # a key no trust policy names


@pytest.fixture(scope="session")
def keys() -> Keys:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    return Keys(
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    )
