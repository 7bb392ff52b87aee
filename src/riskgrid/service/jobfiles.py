"""Turning an uploaded job (document + referenced files) into a job directory, and back.

The job document and its files are stored in the database so that any replica can run the job;
the runner writes them to a fresh directory and loads them with the RISK loader, exactly as
``riskgrid run job.yaml`` would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from riskgrid.spec.errors import Problem, SpecError

JOB_FILE = "job.yaml"
SOURCE = "upload"
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def check_path(rel: str) -> str:
    """A relative path that stays inside the job directory, or SpecError."""
    parts = rel.split("/")
    if (
        not _SAFE_PATH.match(rel)
        or any(p in ("", ".", "..") for p in parts)
        or len(rel) > 200
        or rel == JOB_FILE
        or rel.startswith(JOB_FILE + "/")
    ):
        raise SpecError.one(
            SOURCE,
            f"{rel!r}: must be a relative path inside the job directory"
            + (f" (not under {JOB_FILE})" if rel.startswith(JOB_FILE + "/") else ""),
            ("files",),
        )
    return rel


def check_tree(names: list[str] | dict[str, object]) -> None:
    """The upload paths, taken together, must form a tree that can be written as given.

    Each path must be safe (:func:`check_path`); no path may be both a file and a directory
    (``d`` and ``d/x``, ``job.yaml/x``); and no two may differ only in case (they would be
    one file on a case-insensitive filesystem, and confusable to a reader). All problems are
    found before anything is written.
    """
    problems: list[Problem] = []
    files: dict[str, str] = {JOB_FILE.lower(): JOB_FILE}  # lower-cased → as given
    dirs: dict[str, str] = {}

    def clash(rel: str, a: str, b: str) -> None:
        why = "is both a file and a directory" if a == b else f"and {b!r} differ only in case"
        problems.append(Problem(SOURCE, ("files", rel), f"{a!r} {why}"))

    for rel in names:
        try:
            check_path(rel)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        parts = rel.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d.lower() in files:
                clash(rel, files[d.lower()], d)
            if dirs.setdefault(d.lower(), d) != d:
                clash(rel, dirs[d.lower()], d)
        key = rel.lower()
        if key in dirs:
            clash(rel, dirs[key], rel)
        elif key in files:
            clash(rel, files[key], rel)
        files.setdefault(key, rel)
    if problems:
        raise SpecError(problems)


def decode_files(files: dict[str, str]) -> dict[str, bytes]:
    """Decode the uploaded files after checking their paths as a tree (nothing is written)."""
    check_tree(list(files))
    out: dict[str, bytes] = {}
    problems: list[Problem] = []
    for rel, b64 in files.items():
        try:
            check_path(rel)
            out[rel] = base64.b64decode(b64, validate=True)
        except SpecError as exc:
            problems.extend(exc.problems)
        except (binascii.Error, ValueError):
            problems.append(Problem(SOURCE, ("files", rel), "not valid base64"))
    if problems:
        raise SpecError(problems)
    return out


def write_job_dir(directory: Path, job: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write ``job.yaml`` and its files under ``directory``; returns the job file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = directory / check_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    path = directory / JOB_FILE
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


def content_hash(b64: str) -> str:
    """SHA-256 (hex) of a base64-encoded upload's bytes: what the client sends as a reference."""
    return hashlib.sha256(base64.b64decode(b64)).hexdigest()


def known_blobs(session: Any, tenant: str, digests: list[str]) -> set[str]:
    """Those of ``digests`` that ``tenant`` has uploaded before (never other tenants')."""
    from sqlalchemy import select

    from riskgrid.service.models import TenantBlobRow

    if not digests:
        return set()
    rows = session.scalars(
        select(TenantBlobRow.sha256).where(
            TenantBlobRow.tenant == tenant, TenantBlobRow.sha256.in_(digests)
        )
    )
    return set(rows)


def _insert_or_ignore(dialect: str, table: Any, index: list[str], **values: Any) -> Any:
    """``INSERT … ON CONFLICT (index) DO NOTHING`` in the session's dialect (PostgreSQL or SQLite:
    each has its own ``insert`` construct with the clause)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=index)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=index)


def store_blobs(session: Any, files: dict[str, bytes], tenant: str | None = None) -> dict[str, str]:
    """Save each file once by content hash (and, for ``tenant``, that it uploaded it);
    returns path → sha256 for the job's inputs."""
    from sqlalchemy import select

    from riskgrid.service.models import BlobRow, TenantBlobRow, utcnow

    dialect = session.get_bind().dialect.name
    refs: dict[str, str] = {}
    for rel, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        refs[rel] = digest
        present = session.scalar(select(BlobRow.sha256).where(BlobRow.sha256 == digest))
        if present is None:  # (checked without loading the stored bytes)
            # two submissions of the same file at once: the second insert is a no-op
            session.execute(
                _insert_or_ignore(
                    dialect,
                    BlobRow,
                    ["sha256"],
                    sha256=digest,
                    size=len(data),
                    data=data,
                    created_at=utcnow(),
                )
            )
        if tenant is not None:
            session.execute(
                _insert_or_ignore(
                    dialect,
                    TenantBlobRow,
                    ["tenant", "sha256"],
                    tenant=tenant,
                    sha256=digest,
                    created_at=utcnow(),
                )
            )
    return refs


def load_blobs(session: Any, refs: dict[str, str]) -> dict[str, bytes]:
    from riskgrid.service.models import BlobRow

    out: dict[str, bytes] = {}
    for rel, digest in refs.items():
        row = session.get(BlobRow, digest)
        if row is None:
            raise LookupError(f"input file {rel} ({digest[:12]}…) is missing from the database")
        out[rel] = row.data
    return out


#: Fields of a RiskJob that name a file, relative to the job file.
FILE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("spec", "portfolio", "file"),
    ("spec", "marketData", "snapshot"),
    ("spec", "marketData", "history"),
)


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def check_references(job: dict[str, Any]) -> None:
    """Every file the job names must be an uploaded, inside-the-directory path.

    Without this the loader, which resolves paths against the job file, could be pointed at
    any file on the server (``../../etc/passwd``).
    """
    problems: list[Problem] = []
    for path in FILE_FIELDS:
        value = _get(job, path)
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise SpecError.one(SOURCE, "must be a string", path)
            check_path(value)
        except SpecError:
            problems.append(
                Problem(SOURCE, path, f"{value!r}: must name an uploaded file (relative path)")
            )
    if problems:
        raise SpecError(problems)


def pack_job(job_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Client side: read a job file and the files it references, ready to upload.

    References are rewritten to ``files/<n>-<name>`` so that paths such as
    ``../market/snapshot.yaml`` need not exist on the server.
    """
    from riskgrid.spec.loading import read_text
    from riskgrid.spec.yamlbounds import load_spec_file

    text = read_text(job_path, what="job file")
    docs = load_spec_file(text, str(job_path))
    doc = docs[0] if len(docs) == 1 else None
    if not isinstance(doc, dict):
        raise SpecError.one(str(job_path), "must be a YAML mapping (a RiskJob)")
    files: dict[str, str] = {}
    base = job_path.resolve().parent
    for i, path in enumerate(FILE_FIELDS):
        value = _get(doc, path)
        if not isinstance(value, str):
            continue
        source = (base / value).resolve()
        if not source.is_file():
            raise SpecError.one(str(job_path), f"file not found: {value}", path)
        name = f"files/{i}-{re.sub(r'[^A-Za-z0-9._-]', '_', source.name)}"
        files[name] = base64.b64encode(source.read_bytes()).decode()
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = name
    # YAML dates and the like become strings, as they would be written in the file
    return json.loads(json.dumps(doc, default=str)), files
