"""SQL for the ``crawl_runs`` table: a run's start and end, and runs whose process is gone (no one
holds their run lock, ``storage.locks``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from storage.clock import utcnow
from storage.db import Database
from storage.models import CrawlRun


def start_run(db: Database, outlet_id: str) -> int:
    """A ``running`` crawl run; this process holds its run lock until ``finish_run``."""
    run_id = None
    try:
        with db.write() as s:
            run = CrawlRun(outlet_id=outlet_id, started_at=utcnow(), status="running")
            s.add(run)
            s.flush()
            run_id = run.id
            db.run_locks.hold(run_id)  # before the commit: no one sees the row unlocked
    except BaseException:
        if run_id is not None:
            db.run_locks.release(run_id)
        raise
    return run_id


def finish_run(db: Database, run_id: int, *, only_if_running: bool = False, **fields: Any) -> None:
    """Record a run's end (``only_if_running``: unless its end is recorded already)."""
    stmt = update(CrawlRun).where(CrawlRun.id == run_id)
    if only_if_running:
        stmt = stmt.where(CrawlRun.status == "running")
    with db.write() as s:
        s.execute(stmt.values(finished_at=utcnow(), **fields))
    db.run_locks.release(run_id)


def abandoned_runs(db: Database) -> list[int]:
    """Runs still ``running`` whose process is gone (killed, crashed, its machine lost): nobody
    holds their run lock. A read: nothing is changed."""
    with db.read() as s:
        running = list(s.scalars(select(CrawlRun.id).where(CrawlRun.status == "running")))
    alive = db.run_locks.alive(running)
    return sorted(set(running) - alive)


def mark_abandoned_runs(db: Database) -> list[int]:
    """Record the runs of processes that are gone as ``abandoned`` (their counts were never
    written; what they stored is in the database all the same). Returns their ids."""
    gone = abandoned_runs(db)
    if not gone:
        return []
    with db.write() as s:
        s.execute(
            update(CrawlRun)
            .where(CrawlRun.id.in_(gone), CrawlRun.status == "running")
            .values(
                status="abandoned",
                close_reason="process_gone",
                finished_at=utcnow(),
                message="the crawl process ended without recording the end of this run "
                "(killed, crashed or its machine lost); found by a later run",
            )
        )
    db.run_locks.forget(gone)
    return gone


def latest_runs(db: Database, limit: int = 20) -> list[CrawlRun]:
    with db.read() as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))
