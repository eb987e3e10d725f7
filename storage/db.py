"""Engines, schema upgrades and transactions. Every SQL statement of the project lives in
``storage/``; the rest of the code calls the functions of ``storage.repo``."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

DATABASE_URL_ENV = "NEWSCRAWL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///newscrawl.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Alembic announces its context at INFO on every start; only real migrations are news.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


class StorageError(RuntimeError):
    """The database cannot be used (unreachable, read-only, full, wrong schema). Fatal for a
    crawl: it stops with a clear message and a non-zero exit, never logs and goes on."""


def database_url(explicit: str | None = None) -> str:
    """Option first, then ``NEWSCRAWL_DATABASE_URL``, then a SQLite file in the working folder."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


SQLITE_PRAGMAS_ENV = "NEWSCRAWL_SQLITE_PRAGMAS"
_PRAGMA_RE = re.compile(r"^\s*([a-z_]+)\s*=\s*(-?[A-Za-z0-9_]+)\s*$")


def extra_pragmas(spec: str | None = None) -> list[str]:
    """``NEWSCRAWL_SQLITE_PRAGMAS``: "name=value;name=value" (cache_size=-64000, ...)."""
    spec = os.environ.get(SQLITE_PRAGMAS_ENV, "") if spec is None else spec
    out = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        match = _PRAGMA_RE.match(part)
        if not match:
            raise StorageError(f"{SQLITE_PRAGMAS_ENV}: not name=value: {part!r}")
        out.append(f"PRAGMA {match.group(1)} = {match.group(2)}")
    return out


def _sqlite_events(engine: Engine) -> None:
    pragmas = extra_pragmas()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event open transactions, so we choose how they open.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Write transactions take the write lock up front: a deferred BEGIN that later upgrades
        # to a writer fails at once with "database is locked" when another process writes.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_events(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _set_wal_once(engine: Engine) -> None:
    """WAL is persistent in the file; switching it from many processes at once fails, so only
    switch when it is not set yet."""
    with engine.connect().execution_options(readonly=True) as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    if str(mode).lower() != "wal":
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
        finally:
            raw.close()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (cheap when it is there already)."""
    try:
        if engine.dialect.name == "sqlite":
            _set_wal_once(engine)
        head = ScriptDirectory.from_config(_alembic_config(str(engine.url))).get_current_head()
        with engine.connect().execution_options(readonly=True) as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StorageError(f"cannot open database {engine.url!r}: {exc.orig}") from exc


class Database:
    """One engine and its session factory; ``write()`` and ``read()`` are the transactions."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        if migrate:
            upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            session.connection(execution_options={"readonly": True})
            yield session  # closing ends the read transaction; loaded rows stay usable

    def dispose(self) -> None:
        self.engine.dispose()
