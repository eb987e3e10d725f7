"""Engines, schema upgrades and transactions. Every SQL statement of the project lives in
``storage/``; the rest of the code calls the functions of its per-table modules."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from storage.locks import RunLocks

from storage.location import (
    StorageError,
    database_url,
    describe,
    parse_url,
    sqlite_path,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Alembic announces its context at INFO on every start; only real migrations are news.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


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


def _readonly_sqlite_connect(path: Path) -> Any:
    """A connection function for a SQLite file opened read-only. A WAL database in a folder
    nobody may write to (a read-only mount, a snapshot) has no ``-shm`` file and cannot get one:
    then, and only when no ``-wal`` file says a writer may be at work, it is opened immutable."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    immutable = False

    def connect() -> sqlite3.Connection:
        nonlocal immutable
        if not immutable:
            conn = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if Path(f"{path}-wal").exists():
                    raise
                immutable = True
        return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)

    return connect


def make_engine(url: str | None = None, *, readonly: bool = False) -> Engine:
    """An engine for the URL. ``readonly`` opens the database so that nothing can be written
    or created: a missing SQLite file is an error, not a new empty database."""
    url = database_url(url)
    parsed = parse_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(
            f"cannot use database {describe(url)}: newscrawl stores into SQLite or PostgreSQL "
            "(a file path, sqlite:///FILE or postgresql://user@host/dbname)"
        )
    try:
        if parsed.get_backend_name() == "sqlite":
            path = sqlite_path(url)
            if readonly and path is not None:
                if not path.exists():
                    raise StorageError(
                        f"no database at {path}: nothing has been crawled into it yet "
                        "(newscrawl crawl or newscrawl upgrade creates it); check --db"
                    )
                if not path.is_file():
                    raise StorageError(f"{path} is not a database file; check --db")
                engine = create_engine(
                    "sqlite://", creator=_readonly_sqlite_connect(path), poolclass=QueuePool
                )
            else:
                if path is not None and not readonly:
                    path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 30})
            _sqlite_events(engine)
            return engine
        connect_args: dict[str, Any] = {"connect_timeout": 10}
        if readonly:
            connect_args["options"] = "-c default_transaction_read_only=on"
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise StorageError(f"cannot use database URL {describe(url)}: {exc}") from exc


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


def _opening_error(name: str, exc: DBAPIError) -> StorageError:
    """One line for a database that cannot be opened: what is wrong with which file or server,
    and what to do."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if isinstance(exc.orig, sqlite3.DatabaseError) and not isinstance(
        exc.orig, sqlite3.OperationalError
    ):
        # "file is not a database", "database disk image is malformed"
        return StorageError(
            f"{name} is not a usable SQLite database ({reason}): check --db, or restore the "
            "file from a backup"
        )
    if "unable to open" in reason and Path(name).is_file():
        reason += "; it, or its folder, may be read-only (only read commands work then)"
    return StorageError(f"cannot open database {name}: {reason}")


def schema_revisions(engine: Engine, name: str) -> tuple[str | None, str]:
    """(the database's Alembic revision or None, the newest revision this code knows)."""
    script = ScriptDirectory.from_config(_alembic_config(str(engine.url)))
    head = script.get_current_head()
    assert head is not None
    with engine.connect().execution_options(readonly=True) as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        try:
            known = script.get_revision(current) is not None
        except CommandError:
            known = False
        if not known:
            raise StorageError(
                f"{name} has schema revision {current}, newer than this "
                f"newscrawl knows (its newest is {head}): upgrade newscrawl, or use the "
                "version that wrote the database"
            )
    return current, head


def check_schema(engine: Engine, name: str) -> None:
    """For read-only use: the database must be at the newest schema; nothing is migrated."""
    try:
        current, head = schema_revisions(engine, name)
    except DBAPIError as exc:
        raise _opening_error(name, exc) from exc
    if current is None:
        raise StorageError(
            f"{name} holds no newscrawl tables: check --db (newscrawl upgrade creates them)"
        )
    if current != head:
        raise StorageError(
            f"{name} has schema revision {current}; this newscrawl reads {head}: run "
            "newscrawl upgrade with the same --db first"
        )


def upgrade(engine: Engine, name: str | None = None) -> None:
    """Bring the schema to the newest migration (cheap when it is there already)."""
    name = name or describe(engine.url.render_as_string(hide_password=False))
    try:
        if engine.dialect.name == "sqlite":
            _set_wal_once(engine)
        current, head = schema_revisions(engine, name)
        if current == head:
            return
        cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DBAPIError as exc:
        raise _opening_error(name, exc) from exc


def dialect_insert(session: Session, model: Any) -> Any:
    """The session's dialect's INSERT, with ON CONFLICT (SQLite and PostgreSQL share the API):
    writes are upserts keyed by natural keys, so re-runs and concurrent writers converge."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


class Database:
    """One engine and its session factory; ``write()`` and ``read()`` are the transactions."""

    def __init__(
        self, url: str | None = None, *, migrate: bool = True, readonly: bool = False
    ) -> None:
        """``migrate``: create or upgrade the schema; else it must be the newest already.
        ``readonly``: for commands that only read. Nothing is created, migrated or written (a
        SQLite file opened ``mode=ro``, PostgreSQL sessions in read-only transactions), and the
        schema must be the newest: otherwise a clear StorageError."""
        self.url = database_url(url)
        self.name = describe(self.url)
        self.readonly = readonly
        self.engine = make_engine(self.url, readonly=readonly)
        try:
            if migrate and not readonly:
                upgrade(self.engine, self.name)
            else:
                check_schema(self.engine, self.name)
        except BaseException:
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._run_locks: RunLocks | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def run_locks(self) -> RunLocks:
        """The locks that say this process's crawl runs are alive (``storage.locks``)."""
        if self._run_locks is None:
            from storage.locks import RunLocks

            self._run_locks = RunLocks(self.url, self.engine)
        return self._run_locks

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        if self.readonly:
            raise StorageError(f"{self.name} was opened read-only; this needs to write to it")
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A read transaction. ``snapshot``: every statement in it sees the same committed
        state (SQLite's read transactions always do; PostgreSQL runs it REPEATABLE READ)."""
        options: dict[str, Any] = {"readonly": True}
        if snapshot and self.dialect == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with self._sessions() as session:
            session.connection(execution_options=options)
            yield session  # closing ends the read transaction; loaded rows stay usable

    def dispose(self) -> None:
        if self._run_locks is not None:
            self._run_locks.close()
            self._run_locks = None
        self.engine.dispose()
