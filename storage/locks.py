"""Who is running: one crawl at a time per database, and whether the process that opened a crawl
run is still alive. Both are locks that the kernel or the database server drops when their
holder dies, so a killed process leaves nothing stale behind.

- The crawl lock (``newscrawl crawl``, so that cron runs do not overlap): for a SQLite file, an
  ``flock`` on ``FILE.lock`` beside it; for PostgreSQL, a session-level advisory lock, which is
  scoped to its database, on a connection kept for the run. ``--lock PATH`` names a lock file
  instead.
- Run locks: the process that opens a crawl run holds a lock named by the run's id until it
  records the run's end: on PostgreSQL an advisory lock ``(RUN_LOCK_CLASS, id)`` (visible to
  every machine in ``pg_locks``), on SQLite an ``flock`` on ``FILE.runs/ID``. A run still
  ``running`` whose lock nobody holds belongs to a process that is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from storage.location import StorageError, database_url, describe, sqlite_path

CRAWL_LOCK_KEY = (727270002, 0)  # (class, id) of two-int advisory locks; migrations use 727270001
RUN_LOCK_CLASS = 727270003


@dataclass(frozen=True)
class CrawlLock:
    held: bool
    name: str  # what was locked, for messages


def lock_file(url: str) -> Path | None:
    """The crawl lock file of a SQLite database (None for PostgreSQL and in-memory SQLite)."""
    path = sqlite_path(url)
    return None if path is None else path.with_name(path.name + ".lock")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive ``flock``; False when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def crawl_lock(url: str, path: Path | None = None) -> Iterator[CrawlLock]:
    """The database's crawl lock for as long as the block runs (``held`` False: another crawl
    has it). ``path``: use this lock file whatever the database."""
    url = database_url(url)
    path = path or lock_file(url)
    if path is not None:
        with contextlib.ExitStack() as stack:
            try:
                held = stack.enter_context(file_lock(path))
            except OSError as exc:
                raise StorageError(
                    f"cannot use the lock file {path}: {exc.strerror or exc} (check --lock)"
                ) from exc
            yield CrawlLock(held, str(path))
        return
    if not url.startswith("postgresql"):  # an in-memory database: nobody else can crawl it
        yield CrawlLock(True, describe(url))
        return
    name = f"the crawl lock of {describe(url)}"
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StorageError(f"cannot open database {describe(url)}: {reason}") from exc
    try:
        held = bool(
            conn.execute(
                text("SELECT pg_try_advisory_lock(:a, :b)"),
                {"a": CRAWL_LOCK_KEY[0], "b": CRAWL_LOCK_KEY[1]},
            ).scalar()
        )
        yield CrawlLock(held, name)
        if held:
            # released here, not left to the session's end: the server ends a closed session
            # a moment later, and a crawl starting in that moment would find the lock taken
            with contextlib.suppress(DBAPIError):
                conn.execute(
                    text("SELECT pg_advisory_unlock(:a, :b)"),
                    {"a": CRAWL_LOCK_KEY[0], "b": CRAWL_LOCK_KEY[1]},
                )
    finally:
        conn.close()  # the server drops a session's advisory locks with it (a crash too)
        engine.dispose()


class RunLocks:
    """The run locks one process holds on one database (see the module's docstring)."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        path = sqlite_path(url)
        self.folder = None if path is None else path.with_name(path.name + ".runs")
        self._files: dict[int, int] = {}  # run id -> file descriptor holding its flock
        self._held: set[int] = set()
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def hold(self, run_id: int) -> None:
        """Take the run's lock; call before the run's row is committed, so that nobody sees
        the row without its lock."""
        if self.postgresql:
            self._connection().execute(
                text("SELECT pg_advisory_lock(:a, :b)"), {"a": RUN_LOCK_CLASS, "b": run_id}
            )
        elif self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / str(run_id), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(fd)
                raise
            self._files[run_id] = fd
        self._held.add(run_id)

    def release(self, run_id: int) -> None:
        """Drop the run's lock, once its end is committed."""
        if run_id not in self._held:
            return
        self._held.discard(run_id)
        if self.postgresql and self._conn is not None and not self._conn.closed:
            with contextlib.suppress(DBAPIError):
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:a, :b)"), {"a": RUN_LOCK_CLASS, "b": run_id}
                )
        fd = self._files.pop(run_id, None)
        if fd is not None and self.folder is not None:
            with contextlib.suppress(OSError):
                (self.folder / str(run_id)).unlink()
            os.close(fd)

    def alive(self, run_ids: Iterable[int]) -> set[int]:
        """Those of the runs whose process still holds their lock (this one's included)."""
        wanted = set(run_ids)
        if not wanted:
            return set()
        if self.postgresql:
            with self.engine.connect() as conn:
                held = {
                    int(x)
                    for x in conn.execute(
                        text(
                            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                            "AND classid = :a AND objsubid = 2 AND granted AND database = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())"
                        ),
                        {"a": RUN_LOCK_CLASS},
                    ).scalars()
                }
            return wanted & held
        if self.folder is None:  # in memory: only this process can have runs
            return wanted & self._held
        folder = self.folder
        return {r for r in wanted if r in self._held or self._locked(folder / str(r))}

    @staticmethod
    def _locked(path: Path) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock, if taken
        return False

    def forget(self, run_ids: Iterable[int]) -> None:
        """Remove what is left of the locks of runs found abandoned (their files)."""
        if self.folder is None:
            return
        for run_id in run_ids:
            with contextlib.suppress(OSError):
                (self.folder / str(run_id)).unlink()

    def close(self) -> None:
        for run_id in list(self._held):
            self.release(run_id)
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.close()
            self._conn = None
