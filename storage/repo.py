"""Every read and write the crawler makes, as functions over a ``Database``. Writes are upserts
keyed by natural keys (canonical URL, outlet id), so re-runs and concurrent writers converge."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.polling import SourceState
from crawler.registry import Outlet as OutletDef
from crawler.urls import MAX_URL_LENGTH, url_bytes
from pipelines.dedup.engine import Decision, DedupEngine, rank_candidates
from pipelines.dedup.fingerprint import Fingerprint
from storage import signatures
from storage.clock import utcnow
from storage.db import Database
from storage.models import Article, CrawlRun, Outlet, Source, UrlAlias, UrlState


def url_state_key(url: str) -> str:
    """The ``url_state`` key of a URL: the URL itself, or for one longer than
    ``MAX_URL_LENGTH`` (no index takes it, and no article lives there) a digest of it."""
    if url_bytes(url) <= MAX_URL_LENGTH:
        return url
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    return f"urn:newscrawl:url-sha256:{digest}"


def _insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT with ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


def sync_outlets(db: Database, outlets: Iterable[OutletDef]) -> None:
    """Record the registry's outlets and sources (new ones added, changed names updated)."""
    now = utcnow()
    with db.write() as s:
        for o in outlets:
            stmt = _insert(s, Outlet).values(
                id=o.id, name=o.name, homepage=o.homepage, language=o.language, updated_at=now
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"name": o.name, "homepage": o.homepage, "language": o.language},
                )
            )
            for src in o.sources:
                s.execute(
                    _insert(s, Source)
                    .values(outlet_id=o.id, kind=src.kind, url=src.url)
                    .on_conflict_do_nothing(index_elements=["outlet_id", "url"])
                )


def ensure_outlet(db: Database, outlet_id: str) -> None:
    """An outlet row for documents that come from outside the registry (``newscrawl dedup``)."""
    with db.write() as s:
        s.execute(
            _insert(s, Outlet)
            .values(
                id=outlet_id[:64],
                name=outlet_id[:300],
                homepage="",
                language="",
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )


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
            .where(
                UrlState.outlet_id == outlet_id,
                UrlState.state.in_(("discovered", "failed")),
                UrlState.attempts < max_attempts,
                UrlState.discovery.is_not(None),
                UrlState.updated_at <= cutoff,
            )
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
            _insert(s, UrlState)
            .on_conflict_do_nothing(index_elements=["url"])
            .returning(UrlState.url),
            rows,
        ).all()
    return len(inserted)


def pending_urls(
    db: Database, outlet_id: str, max_attempts: int, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """URLs of an outlet discovered but never stored, or failed fewer than ``max_attempts``
    times: fetched again on the next run whether or not a source still lists them."""
    with db.read() as s:
        rows = s.execute(
            select(UrlState.url, UrlState.discovery)
            .where(
                UrlState.outlet_id == outlet_id,
                UrlState.state.in_(("discovered", "failed")),
                UrlState.attempts < max_attempts,
                UrlState.discovery.is_not(None),
            )
            .order_by(UrlState.first_seen_at)
            .limit(limit)
        ).all()
    return [(url, dict(discovery)) for url, discovery in rows if discovery]


def pending_count(db: Database, outlet_id: str, max_attempts: int) -> int:
    """How many URLs ``pending_urls`` has for the outlet (without a limit)."""
    with db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(UrlState)
                .where(
                    UrlState.outlet_id == outlet_id,
                    UrlState.state.in_(("discovered", "failed")),
                    UrlState.attempts < max_attempts,
                    UrlState.discovery.is_not(None),
                )
            )
            or 0
        )


@dataclass(frozen=True)
class ArticleRow:
    """What the store pipeline hands to ``store_article``; plain values only."""

    outlet_id: str
    url: str
    aliases: Sequence[str]
    title: str | None
    author: str | None
    published_at: datetime | None
    published_source: str | None
    language: str | None
    description: str | None
    tags: Sequence[str]
    image: str | None
    site_name: str | None
    text: str
    text_hash: str
    discovered_via: str | None
    fetched_at: datetime


@dataclass(frozen=True)
class StoreResult:
    article_id: int
    outcome: str  # "created", "updated" (text changed in place) or "unchanged"
    decision: Decision | None = None


@dataclass(frozen=True)
class DedupContext:
    """The dedup engine's part in one store: the article's fingerprint, the engine that decides
    its cluster, and the parameter scheme its signature is stored under."""

    engine: DedupEngine
    scheme_id: int
    fingerprint: Fingerprint
    #: candidates come from the shared band table (every process's articles), not the
    #: engine's in-memory index (see ``signatures.lock_keys``)
    shared: bool = False


def _article_values(row: ArticleRow) -> dict[str, Any]:
    return {
        "title": row.title,
        "author": row.author,
        "published_at": row.published_at,
        "published_source": row.published_source,
        "language": row.language,
        "description": row.description,
        "tags": list(row.tags),
        "image": row.image,
        "site_name": row.site_name,
        "text": row.text,
        "text_hash": row.text_hash,
        "fetched_at": row.fetched_at,
    }


def _decide(s: Session, row: ArticleRow, dedup: DedupContext) -> Decision:
    lookup = signatures.SqlDocs(s)
    fp = dedup.fingerprint
    if dedup.shared:
        params = dedup.engine.params
        keys = dedup.engine.keys(fp)
        exact, anchored, sizes = signatures.band_candidates(s, keys, params.stop_postings)
        candidates = rank_candidates(exact, anchored, sizes, len(keys) - 1, params)
        return dedup.engine.decide_among(fp, row.published_at, candidates, lookup)
    decision = dedup.engine.decide(fp, row.published_at, new_id_hint=1 << 62, lookup=lookup)
    if decision.match is None and not fp.empty:
        # Exact copies stored by another process since this one built its index.
        others = signatures.exact_matches(s, dedup.scheme_id, fp.exact)
        if others:
            decision = dedup.engine.decide_among(fp, row.published_at, others, lookup)
    return decision


def upsert_article(s: Session, row: ArticleRow, dedup: DedupContext | None = None) -> StoreResult:
    """Insert the article or update it in place (same canonical URL, one row, ever). Runs inside
    the caller's write transaction, so cluster links and the signature commit with it."""
    now = utcnow()
    values = _article_values(row)
    if dedup is not None and dedup.shared:
        # first of all, before any row lock: copies stored concurrently meet here
        signatures.lock_keys(s, dedup.engine.keys(dedup.fingerprint))
    known = s.execute(select(Article.id).where(Article.url == row.url)).scalar_one_or_none()
    decision = _decide(s, row, dedup) if dedup is not None and known is None else None
    inserted = s.execute(
        _insert(s, Article)
        .values(
            url=row.url,
            outlet_id=row.outlet_id,
            discovered_via=row.discovered_via,
            first_stored_at=now,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(Article.id)
    ).scalar_one_or_none()
    if inserted is not None:
        article_id, outcome = inserted, "created"
        if dedup is not None:
            signatures.apply_decision(s, article_id, decision, row.text)
            signatures.save_signature(
                s, article_id, dedup.scheme_id, dedup.fingerprint, dedup.engine.params, new=True
            )
            if dedup.shared:
                signatures.save_bands(s, article_id, dedup.engine.keys(dedup.fingerprint))
    else:
        decision = None
        existing = s.execute(
            select(Article.id, Article.text_hash).where(Article.url == row.url).with_for_update()
        ).one()
        article_id = existing.id
        if existing.text_hash == row.text_hash:
            outcome = "unchanged"
        else:
            s.execute(update(Article).where(Article.id == article_id).values(**values))
            outcome = "updated"
            if dedup is not None:  # same cluster; the signature follows the new text
                signatures.save_signature(
                    s, article_id, dedup.scheme_id, dedup.fingerprint, dedup.engine.params
                )
                if dedup.shared:
                    keys = dedup.engine.keys(dedup.fingerprint)
                    signatures.save_bands(s, article_id, keys, replace=True)
    # an alias too long to be a key (a redirect's Location, say) is not a lookup worth keeping
    for alias in {a for a in row.aliases if a != row.url and url_state_key(a) == a}:
        s.execute(
            _insert(s, UrlAlias)
            .values(url=alias, article_id=article_id)
            .on_conflict_do_nothing(index_elements=["url"])
        )
    _set_url_state(s, row.outlet_id, row.url, "stored", article_id=article_id)
    return StoreResult(article_id=article_id, outcome=outcome, decision=decision)


def store_article(db: Database, row: ArticleRow, dedup: DedupContext | None = None) -> StoreResult:
    """Store one article in its own transaction; the dedup index learns of it only after the
    commit, so a failed commit leaves no ghost entry behind."""
    with db.write() as s:
        result = upsert_article(s, row, dedup)
    if dedup is not None and not dedup.shared and result.outcome != "unchanged":
        dedup.engine.add(result.article_id, dedup.fingerprint)
    return result


def _set_url_state(
    s: Session,
    outlet_id: str,
    url: str,
    state: str,
    *,
    reason: str | None = None,
    detail: str | None = None,
    article_id: int | None = None,
    keep_stored: bool = False,
) -> None:
    """Upsert one URL's state, counting the attempt; ``keep_stored`` leaves a stored URL as it
    is (a failed refetch never loses what the database already holds)."""
    now = utcnow()
    stmt = _insert(s, UrlState).values(
        url=url,
        outlet_id=outlet_id,
        state=state,
        reason=reason,
        detail=detail,
        attempts=1,
        first_seen_at=now,
        updated_at=now,
        article_id=article_id,
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
        _set_url_state(
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


@dataclass(frozen=True)
class OutletStats:
    outlet_id: str
    articles: int
    duplicates: int
    failed_urls: int
    latest_published: datetime | None
    last_run_status: str | None


def outlet_stats(db: Database) -> list[OutletStats]:
    with db.read() as s:
        outlet_ids = list(s.scalars(select(Outlet.id).order_by(Outlet.id)))
        articles = dict(
            s.execute(select(Article.outlet_id, func.count()).group_by(Article.outlet_id)).all()
        )
        dups = dict(
            s.execute(
                select(Article.outlet_id, func.count())
                .where(Article.duplicate_of.is_not(None))
                .group_by(Article.outlet_id)
            ).all()
        )
        failed = dict(
            s.execute(
                select(UrlState.outlet_id, func.count())
                .where(UrlState.state == "failed")
                .group_by(UrlState.outlet_id)
            ).all()
        )
        latest = dict(
            s.execute(
                select(Article.outlet_id, func.max(Article.published_at)).group_by(
                    Article.outlet_id
                )
            ).all()
        )
        last_ids = select(func.max(CrawlRun.id)).group_by(CrawlRun.outlet_id)
        last_runs = s.execute(
            select(CrawlRun.outlet_id, CrawlRun.id, CrawlRun.status).where(
                CrawlRun.id.in_(last_ids)
            )
        ).all()
    gone = set(abandoned_runs(db)) if any(r.status == "running" for r in last_runs) else set()
    last_status = {r.outlet_id: "abandoned" if r.id in gone else r.status for r in last_runs}
    result = []
    for oid in sorted(set(outlet_ids) | set(articles)):
        latest_value = latest.get(oid)
        if isinstance(latest_value, str):  # SQLite's max() bypasses the column type
            latest_value = datetime.fromisoformat(latest_value)
        result.append(
            OutletStats(
                outlet_id=oid,
                articles=articles.get(oid, 0),
                duplicates=dups.get(oid, 0),
                failed_urls=failed.get(oid, 0),
                latest_published=latest_value,
                last_run_status=last_status.get(oid),
            )
        )
    return result


def recent_articles(db: Database, limit: int = 20) -> list[Article]:
    with db.read() as s:
        return list(s.scalars(select(Article).order_by(Article.id.desc()).limit(limit)))


def url_states(db: Database) -> list[UrlState]:
    with db.read() as s:
        return list(s.scalars(select(UrlState).order_by(UrlState.url)))


@dataclass(frozen=True)
class ClusterMember:
    article_id: int
    outlet_id: str
    url: str
    title: str | None
    published_at: datetime | None
    similarity: float | None
    containment: float | None
    matched_id: int | None = None
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClusterView:
    cluster_id: int
    canonical: ClusterMember
    copies: list[ClusterMember]


def _member(a: Article) -> ClusterMember:
    return ClusterMember(
        a.id,
        a.outlet_id,
        a.url,
        a.title,
        a.published_at,
        a.similarity,
        a.containment,
        a.dedup_match_id,
        a.dedup_evidence,
    )


def largest_clusters(
    db: Database, limit: int = 10, since: datetime | None = None
) -> list[ClusterView]:
    """The clusters with most members among articles stored since ``since``: the canonical
    article and its copies, earliest first."""
    with db.read() as s:
        counts = (
            select(Article.cluster_id, func.count().label("n"))
            .where(Article.cluster_id.is_not(None))
            .group_by(Article.cluster_id)
            .having(func.count() > 1)
        )
        if since is not None:
            counts = counts.where(Article.first_stored_at >= since)
        top = s.execute(counts.order_by(func.count().desc(), Article.cluster_id).limit(limit)).all()
        views = []
        for cluster_id, _n in top:
            assert cluster_id is not None  # filtered by the query
            members = list(s.scalars(select(Article).where(Article.cluster_id == cluster_id)))
            canonical = next(a for a in members if a.duplicate_of is None)
            copies = sorted(
                (a for a in members if a.duplicate_of is not None),
                key=lambda a: (
                    a.published_at is None,
                    a.published_at or canonical.fetched_at,
                    a.id,
                ),
            )
            views.append(ClusterView(cluster_id, _member(canonical), [_member(c) for c in copies]))
    return views
