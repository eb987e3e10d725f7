"""SQL for the dedup engine: parameter schemes, signatures, candidate lookup, index rebuild and
cluster links. Signatures live beside the articles, so every run (and every process) rebuilds
the same memory of what was seen."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, exists, func, insert, select, text, update
from sqlalchemy.orm import Session

from pipelines.dedup.engine import Decision, DedupEngine, DocInfo
from pipelines.dedup.evidence import Evidence
from pipelines.dedup.fingerprint import (
    Fingerprint,
    anchor_keys,
    anchors,
    index_keys,
    pack,
    scheme_salt,
    unpack,
)
from pipelines.dedup.params import DedupParams, ParamsMismatch
from storage.clock import utcnow
from storage.db import Database
from storage.models import Article, DedupBand, DedupScheme, Signature

_SIGN = 1 << 63


def to_signed(value: int) -> int:
    """uint64 -> int64 for BIGINT columns."""
    return value - (1 << 64) if value >= _SIGN else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def ensure_scheme(db: Database, params: DedupParams) -> int:
    """The id of ``params``' scheme; refuses when stored signatures were made otherwise."""
    fingerprint = params.fingerprint()
    with db.write() as s:
        scheme_id = s.scalar(select(DedupScheme.id).where(DedupScheme.fingerprint == fingerprint))
        if scheme_id is not None:
            return int(scheme_id)
        others = s.execute(
            select(Signature.scheme_id, func.count())
            .group_by(Signature.scheme_id)
            .order_by(Signature.scheme_id)
        ).all()
        if others:
            scheme, count = others[0]
            stored = s.scalar(select(DedupScheme.params).where(DedupScheme.id == scheme))
            raise ParamsMismatch(
                f"the database holds {count} signatures made with other dedup parameters "
                f"(scheme {scheme}: {stored}); new ones would silently never match them. "
                "Re-fingerprint the stored articles with 'newscrawl upgrade --reindex' "
                "(clusters are kept), use the same parameters, or use a new database."
            )
        row = DedupScheme(fingerprint=fingerprint, params=params.identity(), created_at=utcnow())
        s.add(row)
        s.flush()
        return int(row.id)


class SqlDocs:
    """Candidate documents for verification, read inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_many(self, doc_ids: Sequence[int]) -> Mapping[int, DocInfo]:
        if not doc_ids:
            return {}
        rows = self.session.execute(
            select(
                Signature.article_id,
                Signature.shingles,
                Signature.exact_hash,
                Article.published_at,
                Article.cluster_id,
                Article.duplicate_of,
            )
            .join(Article, Article.id == Signature.article_id)
            .where(Signature.article_id.in_(list(doc_ids)))
        ).all()
        return {
            r.article_id: DocInfo(
                doc_id=r.article_id,
                tokens=unpack(r.shingles),
                exact=to_unsigned(r.exact_hash),
                published=r.published_at,
                cluster_id=r.cluster_id if r.cluster_id is not None else r.article_id,
                canonical_id=r.duplicate_of if r.duplicate_of is not None else r.article_id,
            )
            for r in rows
        }


def exact_matches(session: Session, scheme_id: int, exact: int) -> list[int]:
    """Articles with the same normalised text, whoever indexed them (other processes too)."""
    return list(
        session.scalars(
            select(Signature.article_id).where(
                Signature.scheme_id == scheme_id, Signature.exact_hash == to_signed(exact)
            )
        )
    )


def save_signature(
    session: Session,
    article_id: int,
    scheme_id: int,
    fp: Fingerprint,
    params: DedupParams,
    *,
    new: bool = False,
) -> None:
    """The article's signature; ``new`` (a just-inserted article, which has none yet) takes a
    plain INSERT instead of the ORM's load-and-flush, a third of the store's cost."""
    values = {
        "scheme_id": scheme_id,
        "indexed_at": utcnow(),
        "shingling": fp.scheme,
        "exact_hash": to_signed(fp.exact),
        "shingle_count": len(fp.shingles),
        "minhash": pack(fp.signature),
        "lead_minhash": pack(fp.lead),
        "anchors": pack(anchors(fp.shingles, params)) if fp.indexed else b"",
        "shingles": pack(fp.tokens),
    }
    if new:
        session.execute(insert(Signature).values(article_id=article_id, **values))
        return
    existing = session.get(Signature, article_id)
    if existing is None:
        session.add(Signature(article_id=article_id, **values))
    else:  # the article's text changed in place: its signature follows
        for key, value in values.items():
            setattr(existing, key, value)
    session.flush()


def apply_decision(
    session: Session, article_id: int, decision: Decision | None, text: str | None = None
) -> None:
    """Cluster links for a newly inserted article, with the evidence of the match (its
    passages quoted from ``text``). A canonical article's own link fields stay empty."""
    if decision is None or decision.match is None:
        session.execute(
            update(Article).where(Article.id == article_id).values(cluster_id=article_id)
        )
        return
    m = decision.match
    scheme = decision.scheme
    if decision.becomes_canonical:
        # Published before the cluster's canonical article: it leads the cluster from now on,
        # and the old canonical keeps the evidence that links it to the new one.
        session.execute(
            update(Article)
            .where(Article.cluster_id == m.cluster_id, Article.id != article_id)
            .values(duplicate_of=article_id)
        )
        session.execute(
            update(Article)
            .where(Article.id == m.canonical_id)
            .values(**_link(m.canonical_evidence, article_id, scheme, text, article_id))
        )
        session.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(
                cluster_id=m.cluster_id,
                duplicate_of=None,
                similarity=None,
                containment=None,
                dup_kind=None,
                dedup_match_id=None,
                dedup_evidence=None,
            )
        )
    else:
        session.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(
                cluster_id=m.cluster_id,
                duplicate_of=m.canonical_id,
                **_link(m.evidence, m.matched_id, scheme, text, article_id),
            )
        )


def _link(
    evidence: Evidence, match_id: int, scheme: str, text: str | None, quoted_in: int
) -> dict[str, Any]:
    """A copy's link fields: the match that verified it and why (its passages are quoted
    from ``text``, the article ``quoted_in``)."""
    return {
        "similarity": evidence.similarity,
        "containment": evidence.containment,
        "dup_kind": "exact" if evidence.exact else "near",
        "dedup_match_id": match_id,
        "dedup_evidence": evidence.describe(scheme, text, quoted_in),
    }


#: What ``_keys_for_rows`` needs of a stored signature to compute its index keys.
INDEX_COLUMNS = (
    Signature.article_id,
    Signature.shingling,
    Signature.exact_hash,
    Signature.anchors,
)


def iter_index_rows(
    db: Database, scheme_id: int, params: DedupParams, window_days: float, batch: int = 20_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(article ids, their index keys end to end, keys per article) in batches, for
    signatures stored within the window."""
    since: datetime = utcnow() - timedelta(days=window_days)
    with db.read() as s:
        result = s.execute(
            select(*INDEX_COLUMNS)
            .where(Signature.scheme_id == scheme_id, Signature.indexed_at >= since)
            .order_by(Signature.article_id)
            .execution_options(yield_per=batch)
        )
        for part in result.partitions(batch):
            yield _keys_for_rows(part, params)


def load_index(db: Database, engine: DedupEngine, scheme_id: int, window_days: float) -> int:
    """Fill ``engine``'s in-memory index from the signatures stored within the window;
    returns how many documents it holds."""
    for ids, keys, counts in iter_index_rows(db, scheme_id, engine.params, window_days):
        engine.index.add_many(ids, keys, counts)
    return engine.index.documents


def _keys_for_rows(
    rows: Sequence[Any], params: DedupParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index keys for a batch of stored rows, vectorised: per row its exact key, then its
    anchors. Returns (ids, keys end to end, keys per row)."""
    n = len(rows)
    ids = np.fromiter((r.article_id for r in rows), dtype=np.uint32, count=n)
    exact = np.fromiter((to_unsigned(r.exact_hash) for r in rows), dtype=np.uint64, count=n)
    salt_of = {name: scheme_salt(name) for name in {r.shingling for r in rows}}
    salts = np.fromiter((salt_of[r.shingling] for r in rows), dtype=np.uint64, count=n)
    sampled_counts = np.fromiter((len(r.anchors or b"") // 4 for r in rows), np.int64, count=n)
    sampled = np.frombuffer(b"".join(r.anchors or b"" for r in rows), dtype="<u4")
    counts = 1 + sampled_counts
    # Row by row: the exact key where the row's keys begin, the anchors after it.
    firsts = np.cumsum(counts) - counts
    keys = np.empty(int(counts.sum()), dtype=np.uint64)
    keys[firsts] = exact ^ salts
    rows_of = np.repeat(np.arange(n), sampled_counts)
    first_anchor = np.cumsum(sampled_counts) - sampled_counts  # of each row, in ``sampled``
    slots = np.repeat(firsts + 1 - first_anchor, sampled_counts) + np.arange(len(sampled))
    keys[slots] = anchor_keys(sampled, salts[rows_of])
    return ids, keys, counts


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


def backfill_bands(
    db: Database, scheme_id: int, params: DedupParams, window_days: float, batch: int = 5_000
) -> int:
    """Keys for signatures within the window that have none in the shared index: a database
    crawled with the in-memory index before, switched to the shared one. Idempotent."""
    since: datetime = utcnow() - timedelta(days=window_days)
    added = 0
    while True:
        with db.write() as s:
            rows = s.execute(
                select(*INDEX_COLUMNS)
                .where(
                    Signature.scheme_id == scheme_id,
                    Signature.indexed_at >= since,
                    ~exists().where(DedupBand.article_id == Signature.article_id),
                )
                .order_by(Signature.article_id)
                .limit(batch)
            ).all()
            if not rows:
                return added
            ids, keys, counts = _keys_for_rows(rows, params)
            ends = np.cumsum(counts).tolist()
            values = [
                {"band_key": k, "article_id": int(doc)}
                for doc, end, count in zip(ids.tolist(), ends, counts.tolist(), strict=True)
                for k in _signed_keys(keys[end - count : end])
            ]
            s.execute(insert(DedupBand), values)
            added += len(rows)


def reindex(
    db: Database,
    params: DedupParams,
    fingerprint_text: Callable[[str], Fingerprint],
    batch: int = 500,
) -> int:
    """Fingerprint again, with ``params``, every stored article whose signature was made
    with other parameters (or that has none): after a change of the engine's shingling or a
    deliberate change of parameters. Clusters and links stay as they are; the shared index's
    keys follow. Returns how many articles were fingerprinted."""
    with db.write() as s:
        current = s.scalar(
            select(DedupScheme.id).where(DedupScheme.fingerprint == params.fingerprint())
        )
        if current is None:
            row = DedupScheme(
                fingerprint=params.fingerprint(), params=params.identity(), created_at=utcnow()
            )
            s.add(row)
            s.flush()
            current = row.id
    done = 0
    while True:
        with db.write() as s:
            rows = s.execute(
                select(Article.id, Article.text)
                .outerjoin(Signature, Signature.article_id == Article.id)
                .where((Signature.scheme_id.is_(None)) | (Signature.scheme_id != current))
                .order_by(Article.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            shared = s.scalar(select(func.count()).select_from(DedupBand)) or 0
            for article_id, body in rows:
                fp = fingerprint_text(body)
                save_signature(s, article_id, int(current), fp, params)
                if shared:
                    save_bands(s, article_id, index_keys(fp, params), replace=True)
            done += len(rows)
    with db.write() as s:
        # no signature refers to another scheme any more: its row can go
        s.execute(delete(DedupScheme).where(DedupScheme.id != current))
    return done
