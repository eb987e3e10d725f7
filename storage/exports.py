"""SQL for exports: a streaming, filtered article query, and named consumer checkpoints."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from crawler.dates import utcnow
from storage.db import Database
from storage.models import Article, ExportConsumer


@dataclass(frozen=True)
class ExportFilter:
    outlets: Sequence[str] = ()
    published_since: datetime | None = None
    published_until: datetime | None = None
    fetched_since: datetime | None = None
    fetched_until: datetime | None = None
    language: str | None = None
    unique: bool = False  # one article per cluster: the canonical one
    after_id: int = 0  # a consumer's checkpoint


@dataclass(frozen=True)
class ExportRow:
    article: Article

    def as_dict(self) -> dict[str, Any]:
        a = self.article
        return {
            "id": a.id,
            "url": a.url,
            "outlet": a.outlet_id,
            "title": a.title,
            "author": a.author,
            "published": a.published_at.isoformat() if a.published_at else None,
            "fetched": a.fetched_at.isoformat(),
            "language": a.language,
            "description": a.description,
            "tags": list(a.tags or []),
            "image": a.image,
            "site_name": a.site_name,
            "text": a.text,
            "cluster": a.cluster_id,
            "duplicate_of": a.duplicate_of,
            "similarity": a.similarity,
            "containment": a.containment,
            "matched": a.dedup_match_id,
            "coverage": (a.dedup_evidence or {}).get("coverage"),
            "evidence": a.dedup_evidence,
        }


def iter_articles(db: Database, f: ExportFilter, batch: int = 1000) -> Iterator[ExportRow]:
    """Articles in id order, streamed from the server in batches (constant memory)."""
    q = select(Article).where(Article.id > f.after_id).order_by(Article.id)
    if f.outlets:
        q = q.where(Article.outlet_id.in_(list(f.outlets)))
    if f.published_since:
        q = q.where(Article.published_at >= f.published_since)
    if f.published_until:
        q = q.where(Article.published_at < f.published_until)
    if f.fetched_since:
        q = q.where(Article.fetched_at >= f.fetched_since)
    if f.fetched_until:
        q = q.where(Article.fetched_at < f.fetched_until)
    if f.language:
        q = q.where(Article.language == f.language)
    if f.unique:
        q = q.where(Article.duplicate_of.is_(None))
    with db.read() as s:
        for article in s.scalars(q.execution_options(yield_per=batch)):
            yield ExportRow(article)
            s.expunge(article)  # keep the session's identity map from growing


def consumer_checkpoint(db: Database, name: str) -> int:
    with db.read() as s:
        row = s.get(ExportConsumer, name)
        return row.last_article_id if row else 0


def advance_consumer(db: Database, name: str, last_article_id: int, exported: int) -> None:
    """Move a consumer's checkpoint forward (never back), after a successful export."""
    with db.write() as s:
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(ExportConsumer).values(
            name=name, last_article_id=last_article_id, last_export_at=utcnow(), last_count=exported
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "last_article_id": last_article_id,
                    "last_export_at": utcnow(),
                    "last_count": exported,
                },
                where=ExportConsumer.last_article_id <= last_article_id,
            )
        )
