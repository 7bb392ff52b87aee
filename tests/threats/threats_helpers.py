"""Helpers of the threats tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

#: What the verify/gate runs write into the miniature repository (ignored, as results/ is).
MINI_IGNORE = "evidence*\n*.sig\n__pycache__/\n.pytest_cache/\n*.xml\n"


def git_commit(repo: Path, message: str = "fixture") -> str:
    """Make ``repo`` a git checkout (first call) and commit everything; returns HEAD."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             "-c", "commit.gpgsign=false", *args],
            cwd=repo, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip

    if not (repo / ".git").exists():
        git("init", "-q")
        (repo / ".gitignore").write_text(MINI_IGNORE)
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", message)
    return git("rev-parse", "HEAD").strip()
