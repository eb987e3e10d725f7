"""SQL for the ``url_state`` table (and ``url_aliases`` lookups): what the crawl knows of each
URL it discovered, pending refetches, and failures with their reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import Database, dialect_insert
from storage.models import Article, UrlAlias, UrlState
from storage.urls import url_bytes, url_state_key


def _pending(outlet_id: str, max_attempts: int) -> tuple[Any, ...]:
    """The outlet's URLs still to fetch: discovered and never stored, or failed fewer than
    ``max_attempts`` times, with the discovery data to send them again."""
    return (
        UrlState.outlet_id == outlet_id,
        UrlState.state.in_(("discovered", "failed")),
        UrlState.attempts < max_attempts,
        UrlState.discovery.is_not(None),
    )


def claim_pending_urls(
    db: Database, outlet_id: str, max_attempts: int, idle_seconds: float, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Like ``pending_urls``, for the distributed schedule: only URLs untouched for
    ``idle_seconds`` (queued or in flight elsewhere otherwise), and each one claimed by
    touching it, so the next schedule waits as long again before re-sending it."""
    now = utcnow()
    cutoff = now - timedelta(seconds=idle_seconds)
    with db.write() as s:
        rows = s.execute(
            select(UrlState.url, UrlState.discovery)
            .where(*_pending(outlet_id, max_attempts), UrlState.updated_at <= cutoff)
            .order_by(UrlState.first_seen_at)
            .limit(limit)
        ).all()
        claimed = [(url, dict(discovery)) for url, discovery in rows if discovery]
        if claimed:
            s.execute(
                update(UrlState)
                .where(UrlState.url.in_([url for url, _ in claimed]))
                .values(updated_at=now)
            )
    return claimed


def stored_urls(
    db: Database, outlet_id: str, among: Sequence[str] | None = None
) -> dict[str, datetime]:
    """Canonical URLs (and their aliases) already stored for an outlet, with when the stored
    version was fetched: not fetched again unless the feed says the article changed since.
    ``among`` limits the answer to those URLs (a long-running worker asks per feed response
    instead of loading the outlet's whole list once)."""
    states = select(UrlState.url, Article.fetched_at).join(
        Article, Article.id == UrlState.article_id
    )
    states = states.where(UrlState.outlet_id == outlet_id, UrlState.state == "stored")
    aliases = select(UrlAlias.url, Article.fetched_at).join(
        Article, Article.id == UrlAlias.article_id
    )
    aliases = aliases.where(Article.outlet_id == outlet_id)
    if among is not None:
        if not among:
            return {}
        wanted = list(set(among))
        states = states.where(UrlState.url.in_(wanted))
        aliases = aliases.where(UrlAlias.url.in_(wanted))
    with db.read() as s:
        rows = s.execute(states).all()
        alias_rows = s.execute(aliases).all()
    return {url: fetched for url, fetched in [*alias_rows, *rows]}


def record_discovered(
    db: Database, outlet_id: str, entries: Sequence[tuple[str, dict[str, Any]]]
) -> int:
    """New URLs as ``discovered`` (with their feed/sitemap metadata), before they are fetched:
    one that is in flight when the process dies is still on record for the next run. Returns
    how many were new to the database (adaptive polling's signal)."""
    if not entries:
        return 0
    now = utcnow()
    rows = [
        {
            "url": url_state_key(url),
            "outlet_id": outlet_id,
            "state": "discovered",
            "attempts": 0,
            "first_seen_at": now,
            "updated_at": now,
            "discovery": discovery,
        }
        for url, discovery in dict(entries).items()
    ]
    with db.write() as s:
        # one executemany for a whole feed's new URLs, not a statement each
        inserted = s.execute(
            dialect_insert(s, UrlState)
            .on_conflict_do_nothing(index_elements=["url"])
            .returning(UrlState.url),
            rows,
        ).all()
    return len(inserted)


def pending_urls(
    db: Database,
    outlet_id: str,
    max_attempts: int,
    limit: int,
    refetch_after: Sequence[float] = (),
    follow: FollowModified | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """URLs of an outlet discovered but never stored, or failed fewer than ``max_attempts``
    times: fetched again on the next run whether or not a source still lists them. Then,
    within ``limit`` still, stored ones due by the refetch schedule ``refetch_after`` or
    followed because their declared modification date moved (``due_refetches``)."""
    with db.read() as s:
        rows = s.execute(
            select(UrlState.url, UrlState.discovery)
            .where(*_pending(outlet_id, max_attempts))
            .order_by(UrlState.first_seen_at)
            .limit(limit)
        ).all()
    pending = [(url, dict(discovery)) for url, discovery in rows if discovery]
    return pending + due_refetches(
        db, outlet_id, refetch_after, limit - len(pending), follow=follow
    )


@dataclass(frozen=True)
class FollowModified:
    """Refetching a story while it changes: an article whose last fetch found its declared
    modification date moved is fetched again ``every`` seconds after that fetch, as long as
    it was first stored less than ``within`` seconds ago."""

    every: float
    within: float

    def __post_init__(self) -> None:
        if not (0 < self.every < float("inf") and 0 < self.within < float("inf")):
            raise ValueError(f"follow every {self.every!r} s within {self.within!r} s: not > 0")


def due_refetches(
    db: Database,
    outlet_id: str,
    schedule: Sequence[float],
    limit: int,
    now: datetime | None = None,
    follow: FollowModified | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Stored articles of the outlet due to be fetched again, oldest first, with their
    discovery data: by the refetch schedule (``schedule``: seconds after the article was first
    stored), and, with ``follow``, because their last fetch found the page's declared
    modification date moved (a live story, a correction: ``FollowModified``).

    A schedule step is due once its time has come and the URL was last stored (changed or
    not: ``url_state.updated_at``) before it; steps passed while no crawl ran are one
    refetch. Only articles first stored within twice the last step are looked at, so one whose
    refetches keep failing is given up then."""
    if limit <= 0 or (not schedule and follow is None):
        return []
    with db.read() as s:
        due = _due_refetches(s, outlet_id, schedule, limit, now or utcnow(), follow)
    return [(url, discovery) for url, discovery, _followed in due]


def claim_due_refetches(
    db: Database,
    outlet_id: str,
    schedule: Sequence[float],
    limit: int,
    now: datetime | None = None,
    follow: FollowModified | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """``due_refetches`` for the distributed schedule, each one claimed as it is sent: its
    schedule step counts as taken (``updated_at``), and a followed story is next due
    ``follow.every`` after the claim (``modified_moved_at``), so the next schedule does not send
    it again. A refetch lost with a dead worker is retried by following after ``every``, or
    else at the next schedule step; the stored article is never at stake."""
    if limit <= 0 or (not schedule and follow is None):
        return []
    now = now or utcnow()
    with db.write() as s:
        due = _due_refetches(s, outlet_id, schedule, limit, now, follow)
        if due:
            s.execute(
                update(UrlState)
                .where(UrlState.url.in_([url for url, _d, _f in due]))
                .values(updated_at=now)
            )
        followed = [url for url, _d, is_followed in due if is_followed]
        if followed:
            s.execute(
                update(UrlState)
                .where(UrlState.url.in_(followed), UrlState.modified_moved_at.is_not(None))
                .values(modified_moved_at=now)
            )
    return [(url, discovery) for url, discovery, _followed in due]


def _due_refetches(
    s: Session,
    outlet_id: str,
    schedule: Sequence[float],
    limit: int,
    now: datetime,
    follow: FollowModified | None,
) -> list[tuple[str, dict[str, Any], bool]]:
    """(url, discovery, whether following made it due), oldest first; see ``due_refetches``."""
    due: dict[str, tuple[datetime, dict[str, Any], bool]] = {}
    stored = (
        select(UrlState.url, UrlState.discovery, UrlState.updated_at, Article.first_stored_at)
        .join(Article, Article.id == UrlState.article_id)
        .where(
            UrlState.outlet_id == outlet_id,
            UrlState.state == "stored",
            UrlState.discovery.is_not(None),
        )
        .order_by(Article.first_stored_at)
    )
    if schedule:
        steps = sorted(timedelta(seconds=x) for x in schedule)
        rows = s.execute(
            stored.where(
                Article.first_stored_at >= now - 2 * steps[-1],
                Article.first_stored_at <= now - steps[0],
            )
        ).all()
        for url, discovery, last, first in rows:
            passed = [first + step for step in steps if first + step <= now]
            if passed and last < passed[-1] and discovery:
                due[url] = (first, dict(discovery), False)
    if follow is not None:
        rows = s.execute(
            stored.where(
                UrlState.modified_moved_at.is_not(None),
                UrlState.modified_moved_at <= now - timedelta(seconds=follow.every),
                Article.first_stored_at >= now - timedelta(seconds=follow.within),
            ).limit(limit)
        ).all()
        for url, discovery, _last, first in rows:
            if discovery:
                due[url] = (first, due[url][1] if url in due else dict(discovery), True)
    ordered = sorted(due.items(), key=lambda kv: kv[1][0])
    return [(url, discovery, followed) for url, (_first, discovery, followed) in ordered[:limit]]


def pending_count(db: Database, outlet_id: str, max_attempts: int) -> int:
    """How many URLs ``pending_urls`` has for the outlet (without a limit)."""
    with db.read() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(UrlState).where(*_pending(outlet_id, max_attempts))
            )
            or 0
        )


def set_url_state(
    s: Session,
    outlet_id: str,
    url: str,
    state: str,
    *,
    reason: str | None = None,
    detail: str | None = None,
    article_id: int | None = None,
    keep_stored: bool = False,
    modified_moved: bool | None = False,
) -> None:
    """Upsert one URL's state, counting the attempt; ``keep_stored`` leaves a stored URL as it
    is (a failed refetch never loses what the database already holds). A store says whether
    the article's declared modification date moved (``modified_moved``; None: it cannot tell,
    the mark stays); a failure leaves the mark as it was, so a story being followed is tried
    again."""
    now = utcnow()
    moved_at = (
        {"modified_moved_at": now if modified_moved else None}
        if state == "stored" and modified_moved is not None
        else {}
    )
    stmt = dialect_insert(s, UrlState).values(
        url=url,
        outlet_id=outlet_id,
        state=state,
        reason=reason,
        detail=detail,
        attempts=1,
        first_seen_at=now,
        updated_at=now,
        article_id=article_id,
        **moved_at,
    )
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["url"],
            set_={
                "state": state,
                "reason": reason,
                "detail": detail,
                "attempts": UrlState.attempts + 1,
                "updated_at": now,
                "article_id": article_id,
                **moved_at,
            },
            where=(UrlState.state != "stored") if keep_stored else None,
        )
    )


def record_failure(db: Database, outlet_id: str, url: str, reason: str, detail: str = "") -> None:
    """A URL that was not stored this time, with why. A URL stored earlier stays stored. One
    too long to be a key is recorded under its digest, with its start in ``detail``."""
    key = url_state_key(url)
    if key != url:
        detail = f"{url[:1000]}... ({url_bytes(url)} bytes): {detail}"
    with db.write() as s:
        set_url_state(
            s,
            outlet_id,
            key,
            "failed",
            reason=reason[:64],
            detail=detail[:2000] or None,
            keep_stored=True,
        )
        if key != url:
            # a row that an earlier version keyed by the whole URL (SQLite took them) would be
            # fetched from the record, and refused, on every run: it fails for good (no
            # discovery data, so no pending list has it)
            s.execute(
                update(UrlState)
                .where(UrlState.url == url, UrlState.state != "stored")
                .values(state="failed", reason=reason[:64], discovery=None)
            )
