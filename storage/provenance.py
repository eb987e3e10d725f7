"""SQL for ``article_provenance``: which WARC record each ingested article came from (file,
record id, offset) and which extractor made its text. Written inside the article's own store
transaction, so an article and its provenance commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.db import Database, dialect_insert
from storage.models import ArticleProvenance


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


def recorded_ids(db: Database, warc_file: str) -> set[str]:
    """The record ids of ``warc_file`` already stored: a rerun skips them."""
    with db.read() as s:
        rows = s.scalars(
            select(ArticleProvenance.record_id).where(ArticleProvenance.warc_file == warc_file)
        )
        return set(rows)


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
