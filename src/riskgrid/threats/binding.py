"""What evidence is bound to: the tree that was tested, the test files and the JUnit run.

Evidence says "these tests passed on this code". Each part of that sentence is pinned down here
so the gate can check it again instead of believing it:

- *this code* — :func:`tree_state`: the HEAD commit, a SHA-256 over the content of every tracked
  file as it is on disk (so an uncommitted edit changes it), whether the tree is dirty (tracked
  changes or untracked files that are not ignored), and when the tree last changed (the later
  of HEAD's commit time and the newest modification time of a tracked file);
- *these tests* — :func:`file_hashes` of every referenced test file and the ``conftest.py``
  files above it;
- *passed* — the JUnit XML files' own SHA-256 and their run timestamp, which must not be older
  than the tree's last change (a JUnit file from before the code changed proves nothing about
  the code).

A signature (:func:`sign_file`, :func:`verify_signature`: Ed25519 over the evidence file's
bytes) lets a pipeline vouch for evidence that travels between jobs; since the evidence holds
the JUnit files' hashes, the signature covers them too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from riskgrid.spec.errors import RiskgridError

GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class TreeState:
    """The working tree as it is now. ``commit`` is None outside a git checkout."""

    commit: str | None
    tree: str | None
    dirty: bool
    changed_at: datetime | None
    dirty_paths: tuple[str, ...] = ()

    @property
    def clean_checkout(self) -> bool:
        return self.commit is not None and not self.dirty


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=GIT_TIMEOUT_S,
    ).stdout


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_state(root: Path) -> TreeState:
    """Commit, content hash, dirtiness and last change of the checkout at ``root``."""
    try:
        head = _git(root, "rev-parse", "HEAD").strip()
        committed = int(_git(root, "log", "-1", "--format=%ct", "HEAD").strip())
        tracked = [p for p in _git(root, "ls-files", "-z").split("\0") if p]
        status = _git(root, "status", "--porcelain", "-z").split("\0")
    except (OSError, ValueError, subprocess.SubprocessError):
        return TreeState(None, None, True, None)
    h = hashlib.sha256()
    newest = float(committed)
    for rel in sorted(tracked):
        p = root / rel
        h.update(rel.encode() + b"\0")
        if p.is_symlink():
            h.update(b"link:" + os.readlink(p).encode())
            newest = max(newest, p.lstat().st_mtime)
        elif p.is_file():
            h.update(sha256_file(p).encode())
            newest = max(newest, p.stat().st_mtime)
        else:
            h.update(b"deleted")
        h.update(b"\n")
    dirty = tuple(entry[3:] for entry in status if len(entry) > 3)
    return TreeState(head, h.hexdigest(), bool(dirty), datetime.fromtimestamp(newest, UTC), dirty)


def file_hashes(paths: set[str], root: Path) -> dict[str, str]:
    """SHA-256 of each file (repo-relative) and of every ``conftest.py`` above it."""
    wanted = set(paths)
    for rel in paths:
        for parent in Path(rel).parents:
            if (root / parent / "conftest.py").is_file():
                wanted.add(str(parent / "conftest.py"))
    return {
        rel: sha256_file(root / rel) if (root / rel).is_file() else "missing"
        for rel in sorted(wanted)
    }


def parse_timestamp(value: str | None) -> datetime | None:
    """A JUnit run timestamp as an aware datetime (pytest writes local time with an offset;
    a timestamp without one is read as local time)."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.astimezone()


def relative_to_root(path: Path, root: Path) -> str:
    """``path`` as recorded in evidence: repo-relative when inside the repository."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


# ---- signatures --------------------------------------------------------------------------------


def _load_key(path: Path, private: bool) -> object:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        data = path.read_bytes()
        key = (
            serialization.load_pem_private_key(data, password=None)
            if private
            else serialization.load_pem_public_key(data)
        )
    except (OSError, ValueError, TypeError) as exc:
        raise RiskgridError(f"{path}: cannot load the Ed25519 key: {exc}") from None
    wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, wanted):
        raise RiskgridError(f"{path}: not an Ed25519 {'private' if private else 'public'} key")
    return key


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def sign_file(path: Path, private_key: Path) -> Path:
    """Write ``<path>.sig``: the base64 Ed25519 signature of the file's exact bytes."""
    key = _load_key(private_key, private=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RiskgridError(f"{path}: cannot read: {exc}") from None
    sig = signature_path(path)
    sig.write_text(base64.b64encode(key.sign(data)).decode() + "\n")  # type: ignore[attr-defined]
    return sig


def verify_signature(path: Path, public_key: Path) -> str | None:
    """None when ``<path>.sig`` is a valid signature of ``path`` by ``public_key``; else why."""
    from cryptography.exceptions import InvalidSignature

    key = _load_key(public_key, private=False)
    sig = signature_path(path)
    try:
        raw = base64.b64decode(sig.read_text().strip(), validate=True)
    except FileNotFoundError:
        return f"{sig}: no signature (the gate was given a trusted key)"
    except (OSError, ValueError) as exc:
        return f"{sig}: unreadable signature: {exc}"
    try:
        key.verify(raw, path.read_bytes())  # type: ignore[attr-defined]
    except InvalidSignature:
        return f"{sig}: signature does not match {path} under {public_key}"
    return None
