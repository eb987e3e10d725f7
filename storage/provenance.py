"""SQL for ``article_provenance``: which WARC record each ingested article came from (file,
record id, offset) and which extractor made its text; ``newscrawl reextract`` reads them back
and records the extractor that remade the text. Written inside the article's own store
transaction, so an article and its provenance commit together or not at all."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import Database, dialect_insert
from storage.models import Article, ArticleProvenance


@dataclass(frozen=True)
class Provenance:
    warc_file: str
    record_id: str
    offset: int
    extractor_version: str


def save_provenance(s: Session, article_id: int, p: Provenance) -> None:
    """Record that ``article_id`` came from the record ``p`` (once per record id)."""
    s.execute(
        dialect_insert(s, ArticleProvenance)
        .values(
            article_id=article_id,
            warc_file=p.warc_file,
            record_id=p.record_id,
            record_offset=p.offset,
            extractor_version=p.extractor_version,
            ingested_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["record_id"])
    )


def is_recorded(db: Database, record_id: str) -> bool:
    """Whether an article was stored from the record ``record_id`` (in whichever file: WARC
    record ids are unique, and a copied or moved file keeps them). A rerun skips it."""
    with db.read() as s:
        found = s.scalar(
            select(ArticleProvenance.id).where(ArticleProvenance.record_id == record_id)
        )
        return found is not None


def provenance_of(db: Database, article_id: int) -> Sequence[Provenance]:
    """Where an article was ingested from, oldest first."""
    with db.read() as s:
        rows = s.execute(
            select(ArticleProvenance)
            .where(ArticleProvenance.article_id == article_id)
            .order_by(ArticleProvenance.id)
        ).scalars()
        return [
            Provenance(r.warc_file, r.record_id, r.record_offset, r.extractor_version) for r in rows
        ]


@dataclass(frozen=True)
class Stored:
    """An ingested article as ``newscrawl reextract`` needs it: its row's keys and the WARC
    record it was last ingested from (its newest provenance row)."""

    article_id: int
    outlet_id: str
    url: str
    fetched_at: datetime
    provenance: Provenance


def latest_provenance(db: Database, outlet_id: str | None = None) -> Iterator[Stored]:
    """Every article with provenance (of ``outlet_id`` only, when given), by id, each with its
    newest provenance row: the record whose text the article row holds."""
    newest = (
        select(func.max(ArticleProvenance.id).label("id"))
        .group_by(ArticleProvenance.article_id)
        .subquery()
    )
    q = (
        select(ArticleProvenance, Article.outlet_id, Article.url, Article.fetched_at)
        .join(Article, Article.id == ArticleProvenance.article_id)
        .where(ArticleProvenance.id.in_(select(newest.c.id)))
        .order_by(Article.id)
    )
    if outlet_id is not None:
        q = q.where(Article.outlet_id == outlet_id)
    with db.read() as s:
        rows = s.execute(q).all()
    for r, outlet, url, fetched_at in rows:
        p = Provenance(r.warc_file, r.record_id, r.record_offset, r.extractor_version)
        yield Stored(r.article_id, outlet, url, fetched_at, p)


def set_extractor_version(s: Session, article_id: int, extractor_version: str) -> None:
    """Record that the article's text is now ``extractor_version``'s (every record of it),
    inside the caller's write transaction."""
    s.execute(
        update(ArticleProvenance)
        .where(ArticleProvenance.article_id == article_id)
        .values(extractor_version=extractor_version)
    )
