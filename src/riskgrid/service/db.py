"""Engine and session factory for SQLite (default) or PostgreSQL (psycopg 3), plus migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
#: Execution option marking a read-only session's connection (see :meth:`Database.read`).
READ_ONLY = "riskgrid_read_only"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # autocommit at the driver level; SQLAlchemy's "begin" below opens the transaction
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
            # instead of one failing with "database is locked" when it upgrades its lock.
            # A read-only session (Database.read) takes a plain BEGIN: in WAL mode it reads a
            # snapshot without waiting for the writer (who may be in the middle of an fsync).
            read = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def schema_ready(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    return {"tenants", "jobs", "audit_log"} <= names


class Database:
    """The engine plus a session factory; ``session()`` commits on success, rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._read_factory = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._local = threading.local()
        self._probe_engine: Engine | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._open(self._factory) as s:
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it does not take the write lock, so reads do
        not queue behind writes (WAL: a reader sees the last committed snapshot). Writing in
        it is an error on SQLite (the lock cannot be upgraded safely), so use it only to read.
        """
        with self._open(self._read_factory) as s:
            yield s

    @contextmanager
    def _open(self, factory: sessionmaker[Session]) -> Iterator[Session]:
        # A session inside a session on one thread would wait for its own write lock on
        # SQLite (every transaction there takes it up front): fail loudly instead.
        if getattr(self._local, "open", False):
            raise RuntimeError("nested database session on one thread")
        self._local.open = True
        try:
            with factory() as s, s.begin():
                yield s
        finally:
            self._local.open = False

    @contextmanager
    def probe(self) -> Iterator[Any]:
        """A connection for health probes, outside the request pool (which a flood can hold)."""
        if self._probe_engine is None:
            from sqlalchemy.pool import NullPool

            self._probe_engine = create_engine(self.engine.url, poolclass=NullPool)
        with self._probe_engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self._probe_engine is not None:
            self._probe_engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched.

    ``Session.execute`` is typed as returning ``Result``; for these statements SQLAlchemy returns
    a ``CursorResult``, the type that carries the count (the cast states that, it checks nothing).
    """
    return cast("CursorResult[Any]", result).rowcount
