"""SQL for exports: a streaming, filtered article query, and named consumers that receive every
committed change once.

A consumer's cursor is ``articles.change_seq`` (migration 0005), which triggers set on every
insert and update, in commit order: on PostgreSQL the writing transaction's id, on SQLite a
counter bumped inside the write (one writer commits at a time). An export reads one snapshot
and takes the rows whose change lies in ``[checkpoint, horizon)``; the horizon is a value below
which nothing can still commit: PostgreSQL's oldest running transaction
(``pg_snapshot_xmin``), SQLite's counter plus one. A row written by a transaction still open
is therefore never skipped, only left for the next export (a transaction held open anywhere on
the PostgreSQL server delays consumers until it ends); an article updated in place gets a new
change and is delivered again, once. Intermediate states overwritten before an export are not
kept: a consumer receives each article's latest state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.clock import utcnow
from storage.content import EXPORT_NAMES, NOT_EXPORTED, content_of, content_values
from storage.db import Database, dialect_insert
from storage.location import StorageError
from storage.models import Article, ArticleRevision, ChangeCounter, ExportConsumer
from storage.revisions import revisions_query, stream_revisions


@dataclass(frozen=True)
class ExportFilter:
    outlets: Sequence[str] = ()
    published_since: datetime | None = None
    published_until: datetime | None = None
    fetched_since: datetime | None = None
    fetched_until: datetime | None = None
    language: str | None = None
    unique: bool = False  # one article per cluster: the canonical one


@dataclass(frozen=True)
class ExportRow:
    article: Article

    def as_dict(self) -> dict[str, Any]:
        a = self.article
        content = {
            EXPORT_NAMES.get(name, name): value
            for name, value in content_values(content_of(a)).items()
            if name not in NOT_EXPORTED
        }
        for when in ("published", "modified"):
            if content[when] is not None:
                content[when] = content[when].isoformat()
        return {
            "id": a.id,
            "url": a.url,
            "outlet": a.outlet_id,
            **content,
            "fetched": a.fetched_at.isoformat(),
            "cluster": a.cluster_id,
            "duplicate_of": a.duplicate_of,
            "similarity": a.similarity,
            "containment": a.containment,
            "matched": a.dedup_match_id,
            "coverage": (a.dedup_evidence or {}).get("coverage"),
            "evidence": a.dedup_evidence,
        }


def _query(f: ExportFilter) -> Select[Article]:
    q = select(Article).order_by(Article.id)
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
    return q


@dataclass(frozen=True)
class RevisionRow:
    """One kept revision of an article (``export --revisions``)."""

    revision: ArticleRevision
    url: str
    outlet_id: str

    def as_dict(self) -> dict[str, Any]:
        r = self.revision
        return {
            "id": r.article_id,
            "url": self.url,
            "outlet": self.outlet_id,
            "revision": r.revision,
            "seen": r.seen_at.isoformat(),
            "replaced": r.replaced_at.isoformat(),
            "changed": r.changed,
            "cause": r.cause,
            "words_added": r.words_added,
            "words_removed": r.words_removed,
            "excerpt": r.excerpt,
            "title": r.title,
            "text": r.text,
        }


def iter_revisions(db: Database, f: ExportFilter, batch: int = 1000) -> Iterator[RevisionRow]:
    """The kept revisions of the articles ``f`` selects, by article id and revision number,
    streamed in batches."""
    with db.read() as s:
        for revision, url, outlet_id in stream_revisions(s, revisions_query(_query(f)), batch):
            yield RevisionRow(revision, url, outlet_id)


def _stream(s: Session, q: Select[Article], batch: int) -> Iterator[ExportRow]:
    for article in s.scalars(q.execution_options(yield_per=batch)):
        yield ExportRow(article)
        s.expunge(article)  # keep the session's identity map from growing


def iter_articles(db: Database, f: ExportFilter, batch: int = 1000) -> Iterator[ExportRow]:
    """Articles in id order, streamed from the server in batches (constant memory)."""
    with db.read() as s:
        yield from _stream(s, _query(f), batch)


def change_horizon(s: Session) -> int:
    """In this read's snapshot: every change below the value is committed and visible, and no
    change below it can commit later."""
    if s.get_bind().dialect.name == "postgresql":
        return int(
            s.execute(
                text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            ).scalar_one()
        )
    return int(s.execute(select(ChangeCounter.value).where(ChangeCounter.id == 1)).scalar_one()) + 1


@dataclass
class ConsumerBatch:
    """What a consumer receives now: ``rows`` (in id order), and the checkpoint ``until`` to
    store once every row is safely written (``advance_consumer``)."""

    name: str
    since: int | None
    until: int
    rows: Iterator[ExportRow]


@contextmanager
def consumer_batch(
    db: Database, name: str, f: ExportFilter, batch: int = 1000
) -> Iterator[ConsumerBatch]:
    """The consumer's new and changed articles since its checkpoint, read in one snapshot."""
    since = consumer_checkpoint(db, name)
    with db.read(snapshot=True) as s:
        until = change_horizon(s)
        q = _query(f).where(Article.change_seq < until)
        if since is not None:
            q = q.where(Article.change_seq >= since)
        yield ConsumerBatch(name, since, until, _stream(s, q, batch))


def consumer_checkpoint(db: Database, name: str) -> int | None:
    """Where the consumer's next export starts (None: it has received nothing yet)."""
    with db.read() as s:
        row = s.get(ExportConsumer, name)
        return row.next_change if row else None


def check_consumer_writable(db: Database, name: str) -> None:
    """Fail before exporting when the consumer's checkpoint could not be stored afterwards."""
    try:
        with db.write() as s:
            s.execute(update(ExportConsumer).where(text("1 = 0")).values(name=ExportConsumer.name))
    except (SQLAlchemyError, StorageError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StorageError(
            f"{db.name}: consumer {name!r} needs to store its checkpoint, and the database "
            f"cannot be written ({reason}); an export without --consumer only reads"
        ) from exc


def advance_consumer(
    db: Database, name: str, until: int, exported: int, last_article_id: int = 0
) -> None:
    """Move a consumer's checkpoint forward (never back), after a successful export."""
    with db.write() as s:
        dialect = s.get_bind().dialect.name
        now = utcnow()
        stmt = dialect_insert(s, ExportConsumer).values(
            name=name,
            next_change=until,
            last_article_id=last_article_id,
            last_export_at=now,
            last_count=exported,
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "next_change": until,
                    "last_article_id": func.max(ExportConsumer.last_article_id, last_article_id)
                    if dialect == "sqlite"
                    else func.greatest(ExportConsumer.last_article_id, last_article_id),
                    "last_export_at": now,
                    "last_count": exported,
                },
                where=ExportConsumer.next_change.is_(None) | (ExportConsumer.next_change <= until),
            )
        )
