"""Per-process shared resources: one database handle per URL, one extraction pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

from crawler.extraction_gate import ExtractionGate
from crawler.polling import refetch_schedule
from pipelines.dedup.engine import DedupEngine
from pipelines.dedup.params import DedupParams
from pipelines.dedup.rebuild import load_index
from pipelines.dedup.store import ensure_scheme
from pipelines.worker import warm_up_worker
from storage.db import Database
from storage.location import database_url
from storage.url_state import FollowModified

logger = logging.getLogger(__name__)
T = TypeVar("T")

_lock = threading.Lock()
_databases: dict[str, Database] = {}
_pool: ProcessPool | None = None
_writer: ThreadPoolExecutor | None = None
#: Articles of this process waiting for or in extraction, across all its crawlers (updated on
#: the reactor thread only). A distributed worker takes no more work while it is high.
extraction_backlog = 0
#: Article downloads wait here while the backlog and the downloads in hand are at the limit
#: (crawler.middlewares.backlog); whoever lowers the backlog calls its ``wake``.
extraction_gate = ExtractionGate(lambda: extraction_backlog)


def database(settings: Any) -> Database:
    """The process's Database for the crawl's URL (setting, else environment, else SQLite)."""
    url = database_url(settings.get("NEWSCRAWL_DATABASE_URL"))
    with _lock:
        if url not in _databases:
            _databases[url] = Database(url)
        return _databases[url]


class DedupState:
    """The process's dedup engine, its parameter scheme id and where its index came from:
    ``shared`` means the database's band table is the index (no copy in this process)."""

    def __init__(
        self,
        engine: DedupEngine,
        scheme_id: int,
        rebuilt: int,
        seconds: float,
        shared: bool = False,
    ) -> None:
        self.engine = engine
        self.scheme_id = scheme_id
        self.rebuilt = rebuilt
        self.seconds = seconds
        self.shared = shared


_dedup: dict[str, DedupState] = {}
# Its own lock: a rebuild takes seconds, and must not hold up database() for other threads.
_dedup_lock = threading.Lock()


#: Settings that override a verification threshold of DedupParams when set.
DEDUP_THRESHOLD_SETTINGS = {
    "NEWSCRAWL_DEDUP_PASSAGE_WORDS": "min_passage_words",
    "NEWSCRAWL_DEDUP_COVERAGE_MIN": "coverage_min",
    "NEWSCRAWL_DEDUP_COVERAGE_LONGER_MIN": "coverage_longer_min",
    "NEWSCRAWL_DEDUP_JACCARD_MIN": "jaccard_min",
}


def dedup_params(settings: Any) -> DedupParams:
    thresholds = {
        field: settings.getfloat(name)
        for name, field in DEDUP_THRESHOLD_SETTINGS.items()
        if settings.get(name) not in (None, "")
    }
    return DedupParams(seed=settings.getint("NEWSCRAWL_DEDUP_SEED"), **thresholds)


DEDUP_INDEXES = ("memory", "database")


def shared_dedup_index(settings: Any) -> bool:
    """``NEWSCRAWL_DEDUP_INDEX``: "memory" (one process's index, rebuilt at start) or
    "database" (the band table every process and machine shares)."""
    kind = str(settings.get("NEWSCRAWL_DEDUP_INDEX") or "memory").lower()
    if kind not in DEDUP_INDEXES:
        raise ValueError(f"NEWSCRAWL_DEDUP_INDEX must be one of {DEDUP_INDEXES}, not {kind!r}")
    return kind == "database"


def dedup_state(settings: Any) -> DedupState:
    """One engine per database per process. With the in-memory index it is rebuilt from the
    signatures stored within the window (``NEWSCRAWL_DEDUP_WINDOW_DAYS``); every crawler of the
    process shares it, so copies across outlets crawled together meet. With the shared index
    nothing is loaded. Raises ParamsMismatch on mixed parameters."""
    db = database(settings)
    with _dedup_lock:
        if db.url not in _dedup:
            params = dedup_params(settings)
            scheme_id = ensure_scheme(db, params)
            engine = DedupEngine(params)
            if shared_dedup_index(settings):
                _dedup[db.url] = DedupState(engine, scheme_id, 0, 0.0, shared=True)
                return _dedup[db.url]
            started = time.monotonic()
            window = settings.getfloat("NEWSCRAWL_DEDUP_WINDOW_DAYS")
            loaded = load_index(db, engine, scheme_id, window)
            _dedup[db.url] = DedupState(engine, scheme_id, loaded, time.monotonic() - started)
        return _dedup[db.url]


def store_batch(settings: Any) -> int:
    """Articles per store transaction (``NEWSCRAWL_STORE_BATCH``); one with the shared band
    index, where each article holds advisory locks on its keys until its commit: many in one
    transaction would hold many, and two processes could deadlock on them."""
    return 1 if shared_dedup_index(settings) else max(1, settings.getint("NEWSCRAWL_STORE_BATCH"))


@dataclass(frozen=True)
class RefetchPolicy:
    """Which stored articles are fetched again: by the schedule ``NEWSCRAWL_REFETCH_AFTER``
    (seconds after first stored), and, with ``follow``, while their declared modification date
    keeps moving (``NEWSCRAWL_REFETCH_WHILE_MODIFIED`` within ``..._FOR``; 0 turns it off).
    The single-machine crawl and the distributed schedule read it alike."""

    schedule: tuple[float, ...]
    follow: FollowModified | None


def refetch_policy(settings: Any) -> RefetchPolicy:
    every = settings.getfloat("NEWSCRAWL_REFETCH_WHILE_MODIFIED")
    within = settings.getfloat("NEWSCRAWL_REFETCH_WHILE_MODIFIED_FOR")
    return RefetchPolicy(
        refetch_schedule(settings.getlist("NEWSCRAWL_REFETCH_AFTER")),
        FollowModified(every, within) if every > 0 and within > 0 else None,
    )


def extraction_workers(settings: Any) -> int:
    configured = settings.getint("NEWSCRAWL_EXTRACT_WORKERS")
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


def extraction_in_hand_limit(settings: Any) -> int:
    """Articles downloading or waiting for extraction at once (NEWSCRAWL_EXTRACT_IN_HAND; 0:
    four per extraction process, enough that no worker waits for a download)."""
    configured = settings.getint("NEWSCRAWL_EXTRACT_IN_HAND")
    return configured if configured > 0 else 4 * extraction_workers(settings)


def extraction_pool(settings: Any) -> ProcessPool:
    """Worker processes for trafilatura (and feed, sitemap and fingerprint work). Use
    ``run_in_pool``: it survives what the bare pool does not."""
    global _pool
    with _lock:
        if _pool is not None and not _pool.active:
            _retire(_pool)
            _pool = None
        if _pool is None:
            # forkserver: forking the crawler itself would copy the reactor's threads and locks.
            _pool = ProcessPool(
                max_workers=extraction_workers(settings),
                max_tasks=5000,  # recycle workers so a leak in a parser cannot grow forever
                context=multiprocessing.get_context("forkserver"),
                initializer=warm_up_worker,
            )
        return _pool


def _retire(pool: ProcessPool) -> None:
    """Stop a broken pool's remaining workers and threads, off the caller's thread."""

    def stop() -> None:
        with contextlib.suppress(Exception):
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join(timeout=10)

    threading.Thread(target=stop, name="newscrawl-pool-retire", daemon=True).start()


def _discard(pool: ProcessPool) -> None:
    """Forget a broken pool, so that the next task gets a new one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
            _retire(pool)


class WorkerCrashed(Exception):
    """The worker process running this task died (SIGKILL, the OOM killer, a crash in C)."""


#: A task aborted this many times by a pool that broke under it counts as having crashed it.
POOL_ATTEMPTS = 2


async def run_in_pool(settings: Any, fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """``fn(*args)`` in the extraction pool, within ``timeout`` seconds of work.

    pebble replaces a worker that dies while running a task (the task fails with
    ProcessExpired), but a worker that dies while idle, or before its task is acknowledged,
    breaks the whole pool: every pending task fails with BrokenProcessPool and every later
    ``schedule`` raises RuntimeError("Unexpected error within the Pool"). Here a broken pool is
    replaced by a new one and the tasks it aborted run again there; only the task whose own
    worker died is given up. Raises WorkerCrashed for that one, concurrent.futures'
    TimeoutError past the limit, and whatever ``fn`` raised."""
    for attempt in range(1, POOL_ATTEMPTS + 1):
        pool = extraction_pool(settings)
        try:
            future = pool.schedule(fn, args=args, timeout=timeout)
        except RuntimeError:  # broke after extraction_pool looked at it
            logger.warning("extraction pool broken; starting a new one")
            _discard(pool)
            continue
        try:
            return await asyncio.wrap_future(future)
        except ProcessExpired as exc:
            raise WorkerCrashed(f"worker died: {exc} (exit code {exc.exitcode})") from exc
        except BrokenProcessPool as exc:
            logger.warning("extraction pool broken (%s); starting a new one", exc)
            _discard(pool)
            if attempt == POOL_ATTEMPTS:
                raise WorkerCrashed(f"pool broken under the task {attempt} times: {exc}") from exc
    raise WorkerCrashed("no working extraction pool")


def db_writer() -> ThreadPoolExecutor:
    """One thread for database writes: keeps blocking I/O off the reactor thread and serialises
    this process's writes (SQLite has one writer at a time anyway)."""
    global _writer
    with _lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newscrawl-db")
        return _writer


def stop_workers_now(timeout: float = 2.0) -> None:
    """Terminate the extraction workers without waiting for their tasks (a crawl stopped at
    once). Takes no lock: the code a signal interrupted may hold it."""
    pool = _pool
    if pool is not None:
        pool.stop()  # type: ignore[no-untyped-call]
        pool.join(timeout=timeout)


def shutdown() -> None:
    global _pool, _writer
    with _lock:
        if _pool is not None:
            _pool.close()  # type: ignore[no-untyped-call]
            _pool.join(timeout=10)
            _pool = None
        if _writer is not None:
            _writer.shutdown(wait=True)
            _writer = None
