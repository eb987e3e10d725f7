"""SQL for the ``sources`` table's polling side: each source's polling state (``SourceState``),
the schedule's decisions, and what each poll held."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update

from storage.clock import utcnow
from storage.db import Database
from storage.models import Source


@dataclass(frozen=True)
class SourceState:
    """What the database holds about one source's polling."""

    poll_interval: float | None = None
    next_poll_at: datetime | None = None
    enqueued_at: datetime | None = None
    retry_not_before: datetime | None = None
    poll_seq: int = 0
    polled_seq: int = 0
    applied_seq: int = 0
    poll_items: int = 0
    poll_new: int = 0
    poll_errors: int = 0
    error_streak: int = 0


def source_states(db: Database, outlet_id: str) -> dict[str, tuple[int, SourceState]]:
    """Each source of an outlet: its row id and polling state, by URL."""
    with db.read() as s:
        rows = s.scalars(select(Source).where(Source.outlet_id == outlet_id)).all()
    names = [f.name for f in fields(SourceState)]  # the columns of the same names
    return {r.url: (r.id, SourceState(**{n: getattr(r, n) for n in names})) for r in rows}


def save_source_plan(db: Database, source_id: int, seen: SourceState, state: SourceState) -> bool:
    """Store a schedule's decision, unless another scheduler changed the source since it was
    read as ``seen``: then nothing is written and False says "do not enqueue"."""
    values: dict[str, Any] = {
        "poll_interval": state.poll_interval,
        "next_poll_at": state.next_poll_at,
        "enqueued_at": state.enqueued_at,
        "retry_not_before": state.retry_not_before,
        "poll_seq": state.poll_seq,
        "applied_seq": state.applied_seq,
        "error_streak": state.error_streak,
    }
    if state.applied_seq > seen.applied_seq:
        # a poll was judged: its counters start again (a late response of the judged poll
        # counts towards the next one)
        values.update(poll_items=0, poll_new=0, poll_errors=0)
    with db.write() as s:
        result = s.execute(
            update(Source)
            .where(Source.id == source_id, Source.poll_seq == seen.poll_seq)
            .values(**values)
        )
    return bool(getattr(result, "rowcount", 0))


def record_poll(
    db: Database,
    outlet_id: str,
    url: str,
    seq: int,
    *,
    items: int = 0,
    new: int = 0,
    error: str | None = None,
    retry_after: float | None = None,
) -> None:
    """What one response of poll ``seq`` of the source at ``url`` held (a feed, or a sitemap
    under it): added to the source's counters for the next schedule to judge."""
    now = utcnow()
    values: dict[str, Any] = {
        "poll_items": Source.poll_items + items,
        "poll_new": Source.poll_new + new,
        "poll_errors": Source.poll_errors + (1 if error else 0),
        "polled_seq": case((Source.polled_seq < seq, seq), else_=Source.polled_seq),
        "last_polled_at": now,
        "last_status": (error or "ok")[:64],
    }
    if retry_after is not None:
        values["retry_not_before"] = now + timedelta(seconds=retry_after)
    with db.write() as s:
        s.execute(
            update(Source).where(Source.outlet_id == outlet_id, Source.url == url).values(**values)
        )


@dataclass(frozen=True)
class Validators:
    """What a source's last full response said, to make the next poll conditional."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


def source_validators(db: Database, outlet_id: str) -> dict[str, Validators]:
    """Each source of an outlet that has validators, by URL."""
    with db.read() as s:
        rows = s.execute(
            select(Source.url, Source.etag, Source.last_modified, Source.body_hash).where(
                Source.outlet_id == outlet_id
            )
        ).all()
    return {r.url: Validators(r.etag, r.last_modified, r.body_hash) for r in rows if any(r[1:])}


def save_validators(db: Database, outlet_id: str, found: dict[str, Validators]) -> None:
    """Store each source's validators (sources of the outlet not in the registry are skipped:
    there is no row to hold them)."""
    if not found:
        return
    with db.write() as s:
        for url, v in found.items():
            s.execute(
                update(Source)
                .where(Source.outlet_id == outlet_id, Source.url == url)
                .values(
                    etag=(v.etag or None) and v.etag[:512],
                    last_modified=(v.last_modified or None) and v.last_modified[:64],
                    body_hash=v.body_hash,
                )
            )
