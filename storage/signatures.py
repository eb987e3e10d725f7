"""SQL for the dedup engine's ``dedup_schemes`` and ``signatures`` tables, in plain values: the
parameter scheme a signature was made under (by its fingerprint string), signatures saved and
read back, candidate documents for verification, and the rows an index is rebuilt from.
Signatures live beside the articles, so every run (and every process) rebuilds the same memory
of what was seen. Hash values go in and out as unsigned 64-bit ints; the columns are BIGINT."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import Database, dialect_insert
from storage.models import Article, DedupScheme, Signature

_SIGN = 1 << 63


def to_signed(value: int) -> int:
    """uint64 -> int64 for BIGINT columns."""
    return value - (1 << 64) if value >= _SIGN else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class SchemeMismatch(RuntimeError):
    """Signatures are stored under another scheme (``count`` of them under ``scheme``, made with
    ``params``): a new scheme's would silently never match them."""

    def __init__(self, scheme: int, count: int, params: Any) -> None:
        super().__init__(f"{count} signatures stored under scheme {scheme}: {params}")
        self.scheme, self.count, self.params = scheme, count, params


def ensure_scheme(db: Database, fingerprint: str, identity: dict[str, Any]) -> int:
    """The id of the scheme of this ``fingerprint`` (recorded with ``identity``, the parameters
    it stands for); raises SchemeMismatch when stored signatures were made under another."""
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
            raise SchemeMismatch(scheme, count, stored)
        return _record_scheme(s, fingerprint, identity)


def _record_scheme(s: Session, fingerprint: str, identity: dict[str, Any]) -> int:
    # Workers starting together all find no scheme: the first insert wins, the others read
    # its id (a plain insert failed them on the unique fingerprint).
    s.execute(
        dialect_insert(s, DedupScheme)
        .values(fingerprint=fingerprint, params=identity, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["fingerprint"])
    )
    return int(
        s.execute(select(DedupScheme.id).where(DedupScheme.fingerprint == fingerprint)).scalar_one()
    )


def scheme_for(db: Database, fingerprint: str, identity: dict[str, Any]) -> int:
    """The id of the scheme of this ``fingerprint``, recorded if new, whatever else is stored
    (a re-index makes every signature this scheme's)."""
    with db.write() as s:
        return _record_scheme(s, fingerprint, identity)


def drop_other_schemes(db: Database, keep: int) -> None:
    """Every scheme but ``keep`` (no signature refers to another any more)."""
    with db.write() as s:
        s.execute(delete(DedupScheme).where(DedupScheme.id != keep))


class DocRow(NamedTuple):
    """A stored document as verification reads it: its shingles (packed uint32, text order),
    exact hash, publication date, cluster and canonical article (itself, for a canonical)."""

    article_id: int
    shingles: bytes
    exact: int
    published_at: datetime | None
    cluster_id: int
    canonical_id: int


def doc_rows(session: Session, article_ids: Sequence[int]) -> list[DocRow]:
    """The stored documents among ``article_ids``, read inside the caller's transaction."""
    if not article_ids:
        return []
    rows = session.execute(
        select(
            Signature.article_id,
            Signature.shingles,
            Signature.exact_hash,
            Article.published_at,
            Article.cluster_id,
            Article.duplicate_of,
        )
        .join(Article, Article.id == Signature.article_id)
        .where(Signature.article_id.in_(list(article_ids)))
    ).all()
    return [
        DocRow(
            article_id=r.article_id,
            shingles=r.shingles,
            exact=to_unsigned(r.exact_hash),
            published_at=r.published_at,
            cluster_id=r.cluster_id if r.cluster_id is not None else r.article_id,
            canonical_id=r.duplicate_of if r.duplicate_of is not None else r.article_id,
        )
        for r in rows
    ]


def exact_matches(session: Session, scheme_id: int, exact: int) -> list[int]:
    """Articles with the same normalised text, whoever indexed them (other processes too)."""
    return list(
        session.scalars(
            select(Signature.article_id).where(
                Signature.scheme_id == scheme_id, Signature.exact_hash == to_signed(exact)
            )
        )
    )


@dataclass(frozen=True)
class SignatureValues:
    """An article's signature as stored: hashes packed as little-endian uint32 bytes."""

    shingling: str
    exact: int  # unsigned 64-bit
    shingle_count: int
    minhash: bytes
    lead_minhash: bytes
    anchors: bytes
    shingles: bytes


def save_signature(
    session: Session,
    article_id: int,
    scheme_id: int,
    signature: SignatureValues,
    *,
    new: bool = False,
) -> None:
    """The article's signature; ``new`` (a just-inserted article, which has none yet) takes a
    plain INSERT instead of the ORM's load-and-flush, a third of the store's cost."""
    values = {
        "scheme_id": scheme_id,
        "indexed_at": utcnow(),
        "shingling": signature.shingling,
        "exact_hash": to_signed(signature.exact),
        "shingle_count": signature.shingle_count,
        "minhash": signature.minhash,
        "lead_minhash": signature.lead_minhash,
        "anchors": signature.anchors,
        "shingles": signature.shingles,
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


class IndexRows(NamedTuple):
    """What index keys are computed from, for a batch of stored signatures, column by column:
    article ids, shingling schemes, exact hashes (unsigned), anchors (packed uint32)."""

    article_ids: Sequence[int]
    shinglings: Sequence[str]
    exact_hashes: Sequence[int]
    anchors: Sequence[bytes | None]


#: The columns of ``IndexRows``, as selected.
INDEX_COLUMNS = (
    Signature.article_id,
    Signature.shingling,
    Signature.exact_hash,
    Signature.anchors,
)


def index_columns(rows: Sequence[Any]) -> IndexRows:
    """``IndexRows`` from rows of ``INDEX_COLUMNS``."""
    if not rows:
        return IndexRows((), (), (), ())
    ids, shinglings, exacts, anchors = zip(*rows, strict=True)
    return IndexRows(ids, shinglings, [to_unsigned(h) for h in exacts], anchors)


def iter_index_rows(
    db: Database, scheme_id: int, window_days: float, batch: int = 20_000
) -> Iterator[IndexRows]:
    """The index rows of the signatures stored within the window, in batches."""
    since: datetime = utcnow() - timedelta(days=window_days)
    with db.read() as s:
        result = s.execute(
            select(*INDEX_COLUMNS)
            .where(Signature.scheme_id == scheme_id, Signature.indexed_at >= since)
            .order_by(Signature.article_id)
            .execution_options(yield_per=batch)
        )
        for part in result.partitions(batch):
            yield index_columns(part)


def texts_to_reindex(session: Session, scheme_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, text) of articles whose signature was made under another scheme, or that have
    none: the first ``limit`` of them."""
    rows = session.execute(
        select(Article.id, Article.text)
        .outerjoin(Signature, Signature.article_id == Article.id)
        .where((Signature.scheme_id.is_(None)) | (Signature.scheme_id != scheme_id))
        .order_by(Article.id)
        .limit(limit)
    ).all()
    return [(article_id, body) for article_id, body in rows]
