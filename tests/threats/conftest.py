"""Fixtures of the threats tests: a private copy of the miniature repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from threats_helpers import git_commit

MINI = Path(__file__).resolve().parent / "fixtures" / "mini"


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A writable copy of tests/threats/fixtures/mini (its own pytest rootdir)."""
    dest = tmp_path / "mini"
    shutil.copytree(MINI, dest)
    return dest


@pytest.fixture(scope="session")
def mini_verified(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real ``verify`` run over the miniature repository, a clean git checkout:
    (repo copy, evidence file). Tests must not change it (copy it first)."""
    from riskgrid.threats.workflow import verify

    dest = tmp_path_factory.mktemp("mini-verified") / "mini"
    shutil.copytree(MINI, dest)
    git_commit(dest)
    out = dest / "evidence.json"
    verify(dest / "threatmodel", dest, out=out)
    return dest, out


@pytest.fixture(autouse=True, scope="session")
def _shared_collection_cache(tmp_path_factory: pytest.TempPathFactory):
    """Copies of the miniature repository share one collection cache (keyed by content)."""
    import os

    from riskgrid.threats.resolve import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("collect-cache"))
    yield
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture
def mini_git(mini: Path) -> Path:
    """The miniature repository as a clean git checkout of its own."""
    git_commit(mini)
    return mini
