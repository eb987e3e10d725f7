"""SQL for the ``dedup_bands`` table: the shared dedup index (``NEWSCRAWL_DEDUP_INDEX =
"database"``), index keys (uint64 numpy arrays) in and candidate article ids and counts out."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, exists, func, insert, select, text
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import Database
from storage.models import DedupBand, Signature
from storage.signatures import INDEX_COLUMNS, IndexRows, index_columns, to_signed

# -- the shared index (NEWSCRAWL_DEDUP_INDEX = "database") ------------------------------------
#
# Every process reads candidates from, and writes its articles' keys to, one band table, inside
# the article's own transaction. Two processes storing copies of one story at the same moment
# would each miss the other's uncommitted row; so a store first takes PostgreSQL advisory
# transaction locks on its keys. A copy shares keys with its original, so the second store waits
# for the first to commit and then sees it; stores that share no key do not wait for each other.
# Keys are locked in ascending order, before any row lock, so stores cannot deadlock. SQLite
# needs none of this: BEGIN IMMEDIATE already admits one writer at a time.


def _signed_keys(keys: np.ndarray) -> list[int]:
    return sorted({to_signed(k) for k in keys.tolist()})


def lock_keys(session: Session, keys: np.ndarray) -> None:
    """Hold the document's index keys until the transaction ends (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # unnest keeps the array's (sorted) order, so the locks are taken in ascending order
    session.execute(
        text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": _signed_keys(keys)},
    )


def band_candidates(
    session: Session, keys: np.ndarray, stop: int
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Articles sharing index keys with the document, from the shared table: (articles with
    its exact key; article -> how many of its anchors it shares; article -> how many anchors
    it has). Anchors listed by more than ``stop`` articles are skipped."""
    signed_strong = set(_signed_keys(keys[:1]))
    signed_anchors = _signed_keys(keys[1:])
    postgres = session.get_bind().dialect.name == "postgresql"
    live = list(signed_strong)
    if signed_anchors:
        if postgres:
            counts = session.execute(
                text(
                    "SELECT band_key, count(*) FROM dedup_bands "
                    "WHERE band_key = ANY(CAST(:keys AS bigint[])) GROUP BY band_key"
                ),
                {"keys": signed_anchors},
            ).all()
        else:
            counts = session.execute(
                select(DedupBand.band_key, func.count())
                .where(DedupBand.band_key.in_(signed_anchors))
                .group_by(DedupBand.band_key)
            ).all()
        live += [key for key, n in counts if n <= stop]
    if postgres:
        # one array parameter instead of a hundred: a plan PostgreSQL can cache
        rows = session.execute(
            text(
                "SELECT band_key, article_id FROM dedup_bands "
                "WHERE band_key = ANY(CAST(:keys AS bigint[]))"
            ),
            {"keys": sorted(live)},
        ).all()
    else:
        rows = session.execute(
            select(DedupBand.band_key, DedupBand.article_id).where(DedupBand.band_key.in_(live))
        ).all()
    by_strong: dict[int, int] = {}
    by_anchor: dict[int, int] = {}
    for key, article_id in rows:
        target = by_strong if key in signed_strong else by_anchor
        target[article_id] = target.get(article_id, 0) + 1
    sizes: dict[int, int] = {}
    if by_anchor:
        sizes = {
            article_id: n - 1  # less its exact key
            for article_id, n in session.execute(
                select(DedupBand.article_id, func.count())
                .where(DedupBand.article_id.in_(list(by_anchor)))
                .group_by(DedupBand.article_id)
            ).all()
        }
    return by_strong, by_anchor, sizes


def save_bands(
    session: Session, article_id: int, keys: np.ndarray, *, replace: bool = False
) -> None:
    """The article's keys in the shared index; ``replace`` drops the keys of its old text."""
    if replace:
        session.execute(delete(DedupBand).where(DedupBand.article_id == article_id))
    signed = _signed_keys(keys)
    if session.get_bind().dialect.name == "postgresql":
        # one statement for all its rows (an executemany sends one statement per row)
        session.execute(
            text(
                "INSERT INTO dedup_bands (band_key, article_id) "
                "SELECT k, :article_id FROM unnest(CAST(:keys AS bigint[])) AS k"
            ),
            {"keys": signed, "article_id": article_id},
        )
        return
    session.execute(insert(DedupBand), [{"band_key": k, "article_id": article_id} for k in signed])


def prune_bands(db: Database, window_days: float) -> int:
    """Drop the keys of articles indexed before the window: the shared index keeps what an
    in-memory rebuild would load, no more."""
    since = utcnow() - timedelta(days=window_days)
    old = select(Signature.article_id).where(Signature.indexed_at < since)
    with db.write() as s:
        result = s.execute(delete(DedupBand).where(DedupBand.article_id.in_(old)))
    return int(getattr(result, "rowcount", 0) or 0)


def has_bands(session: Session) -> bool:
    """Whether the shared index holds any key (a database that uses it)."""
    return bool(session.scalar(select(func.count()).select_from(DedupBand)) or 0)


def unbanded_rows(session: Session, scheme_id: int, since: datetime, limit: int) -> IndexRows:
    """The index rows of up to ``limit`` signatures stored since ``since`` that have no keys
    in the shared index (a database crawled with the in-memory index before)."""
    rows = session.execute(
        select(*INDEX_COLUMNS)
        .where(
            Signature.scheme_id == scheme_id,
            Signature.indexed_at >= since,
            ~exists().where(DedupBand.article_id == Signature.article_id),
        )
        .order_by(Signature.article_id)
        .limit(limit)
    ).all()
    return index_columns(rows)


def add_bands(session: Session, ids: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> None:
    """Keys of many articles at once: ``keys`` end to end, ``counts[i]`` of them for
    ``ids[i]``, in one executemany."""
    ends = np.cumsum(counts).tolist()
    values = [
        {"band_key": k, "article_id": int(doc)}
        for doc, end, count in zip(ids.tolist(), ends, counts.tolist(), strict=True)
        for k in _signed_keys(keys[end - count : end])
    ]
    session.execute(insert(DedupBand), values)
