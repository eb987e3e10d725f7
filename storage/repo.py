"""Articles and the dedup engine's part in storing them; the other tables' functions are
re-exported from their modules for the callers not moved yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipelines.dedup.engine import Decision, DedupEngine, rank_candidates
from pipelines.dedup.fingerprint import Fingerprint
from storage import signatures
from storage.clock import utcnow
from storage.clusters import ClusterMember as ClusterMember
from storage.clusters import ClusterView as ClusterView
from storage.clusters import largest_clusters as largest_clusters
from storage.db import Database, dialect_insert
from storage.models import Article, UrlAlias
from storage.outlets import ensure_outlet as ensure_outlet
from storage.outlets import sync_outlets as sync_outlets
from storage.runs import abandoned_runs as abandoned_runs
from storage.runs import finish_run as finish_run
from storage.runs import latest_runs as latest_runs
from storage.runs import mark_abandoned_runs as mark_abandoned_runs
from storage.runs import start_run as start_run
from storage.sources import record_poll as record_poll
from storage.sources import save_source_plan as save_source_plan
from storage.sources import source_states as source_states
from storage.stats import OutletStats as OutletStats
from storage.stats import outlet_stats as outlet_stats
from storage.stats import recent_articles as recent_articles
from storage.stats import url_states as url_states
from storage.url_state import claim_pending_urls as claim_pending_urls
from storage.url_state import pending_count as pending_count
from storage.url_state import pending_urls as pending_urls
from storage.url_state import record_discovered as record_discovered
from storage.url_state import record_failure as record_failure
from storage.url_state import set_url_state
from storage.url_state import stored_urls as stored_urls
from storage.urls import url_state_key as url_state_key


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
        dialect_insert(s, Article)
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
            dialect_insert(s, UrlAlias)
            .values(url=alias, article_id=article_id)
            .on_conflict_do_nothing(index_elements=["url"])
        )
    set_url_state(s, row.outlet_id, row.url, "stored", article_id=article_id)
    return StoreResult(article_id=article_id, outcome=outcome, decision=decision)


def store_article(db: Database, row: ArticleRow, dedup: DedupContext | None = None) -> StoreResult:
    """Store one article in its own transaction; the dedup index learns of it only after the
    commit, so a failed commit leaves no ghost entry behind."""
    with db.write() as s:
        result = upsert_article(s, row, dedup)
    if dedup is not None and not dedup.shared and result.outcome != "unchanged":
        dedup.engine.add(result.article_id, dedup.fingerprint)
    return result
