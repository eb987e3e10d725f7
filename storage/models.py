"""SQLAlchemy 2 typed models. The schema itself is created by Alembic migrations
(``storage/migrations``); these classes describe it for queries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.content import CONTENT_FIELDS


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which has no time zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Outlet(Base):
    __tablename__ = "outlets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    homepage: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("outlet_id", "url", name="uq_sources_outlet_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_entry_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Adaptive polling (distributed mode, see crawler/polling.py). ``newscrawl schedule``
    # enqueues poll number ``poll_seq``; workers add what each response of that poll held to
    # the counters and set ``polled_seq``; the next schedule turns the counters into the next
    # interval (``applied_seq`` says which poll it last judged).
    poll_interval: Mapped[float | None] = mapped_column(Float, nullable=True)  # seconds
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retry_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    poll_seq: Mapped[int] = mapped_column(Integer, default=0)
    polled_seq: Mapped[int] = mapped_column(Integer, default=0)
    applied_seq: Mapped[int] = mapped_column(Integer, default=0)
    poll_items: Mapped[int] = mapped_column(Integer, default=0)
    poll_new: Mapped[int] = mapped_column(Integer, default=0)
    poll_errors: Mapped[int] = mapped_column(Integer, default=0)
    error_streak: Mapped[int] = mapped_column(Integer, default=0)
    # The last full response's validators (set by a run that finished): a conditional poll
    # sends them back, and an unchanged body is not parsed again (migration 0006).
    etag: Mapped[str | None] = mapped_column(String(512), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_outlet_published", "outlet_id", "published_at"),
        Index("ix_articles_text_hash", "text_hash"),
        Index("ix_articles_cluster", "cluster_id"),
        Index("ix_articles_change_seq", "change_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text, unique=True)  # canonical URL
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id"))
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    author: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_source: Mapped[str | None] = mapped_column(String(32), nullable=True)
    modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    image: Mapped[str | None] = mapped_column(Text, nullable=True)
    site_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    extraction_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    extraction_evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    language_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    language_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    discovered_via: Mapped[str | None] = mapped_column(Text, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Near-duplicate clustering: every article has a cluster; the canonical member's cluster_id is
    # its own id and its link fields are null; a duplicate links to the canonical article with
    # the evidence of the verified match that linked it (dedup_match_id): scores and the shared
    # passages, as JSON (see pipelines.dedup.corpus.evidence_json).
    cluster_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), nullable=True)
    dup_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    containment: Mapped[float | None] = mapped_column(Float, nullable=True)
    dedup_match_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dedup_evidence: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    # The export cursor, set by triggers on every insert and update (migration 0005): ordered
    # by commit, so a consumer that has read up to a value has read every change below it.
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ArticleRevision(Base):
    """An article's earlier version, kept when a refetch changed its text or headline
    (migration 0009). ``revision`` counts from 1 per article, oldest first; the article row
    holds the latest version. ``seen_at`` is when this version was fetched, ``replaced_at``
    when the next one was; ``changed`` says what: ``title``, ``text`` or ``both``; ``cause``
    what brought the next one (migration 0013): "refetch" (the crawl fetched the page again),
    "ingest" (a WARC record of it was ingested), "import" (a corpus import) or "reextract"
    (the same page read by a newer extractor: not an edit by the outlet); null before 0013."""

    __tablename__ = "article_revisions"
    __table_args__ = (
        UniqueConstraint("article_id", "revision", name="uq_article_revisions_article_revision"),
        Index("ix_article_revisions_replaced", "replaced_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    revision: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    changed: Mapped[str] = mapped_column(String(8))
    words_added: Mapped[int] = mapped_column(Integer)
    words_removed: Mapped[int] = mapped_column(Integer)
    excerpt: Mapped[str] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(String(16), nullable=True)


class UrlAlias(Base):
    """Every other URL that led to a stored article (tracking parameters, redirects, http/https)."""

    __tablename__ = "url_aliases"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)


class UrlState(Base):
    """The record of what happened to each canonical URL: discovered, stored, failed (with reason
    and attempts). Scrapy's seen-sets are optimisations; this table is the truth."""

    __tablename__ = "url_state"
    __table_args__ = (
        Index("ix_url_state_outlet_state", "outlet_id", "state"),
        # the few URLs followed for a moved modification date (migration 0014)
        Index(
            "ix_url_state_followed",
            "outlet_id",
            "modified_moved_at",
            sqlite_where=text("modified_moved_at IS NOT NULL"),
            postgresql_where=text("modified_moved_at IS NOT NULL"),
        ),
    )

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # discovered, stored, failed
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    article_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the feed or sitemap said, so a URL can be fetched again after a crash or failure
    # even when no source lists it any more.
    discovery: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    # When a fetch last saw the article's declared modification date move (migration 0012),
    # null when the latest fetch did not: a story still changing is followed by refetches
    # (storage.url_state.due_refetches).
    modified_moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # running, finished, failed, interrupted
    close_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_discovered: Mapped[int] = mapped_column(Integer, default=0)
    articles_stored: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    known_skipped: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class DedupScheme(Base):
    """The parameters that made stored signatures; signatures of one scheme are never compared
    with another's (they would silently never match)."""

    __tablename__ = "dedup_schemes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    params: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (
        Index("ix_signatures_scheme_indexed", "scheme_id", "indexed_at"),
        # the exact-copy lookup asks for both: with only an exact_hash index SQLite's planner
        # took the scheme's (every row of a one-scheme database) and walked the whole table
        Index("ix_signatures_scheme_exact", "scheme_id", "exact_hash"),
    )

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("dedup_schemes.id"))
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the dedup window runs on this
    shingling: Mapped[str] = mapped_column(String(16))  # word, arabic, cjk
    exact_hash: Mapped[int] = mapped_column(BigInteger)  # signed 64-bit
    shingle_count: Mapped[int] = mapped_column(Integer)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)  # body MinHash, uint32 LE; empty if short
    lead_minhash: Mapped[bytes] = mapped_column(LargeBinary)  # lead MinHash, uint32 LE
    anchors: Mapped[bytes] = mapped_column(LargeBinary, default=b"")  # sampled shingles, uint32
    shingles: Mapped[bytes] = mapped_column(LargeBinary)  # uint32 shingle hashes in text order


class DedupBand(Base):
    """The shared dedup index (``NEWSCRAWL_DEDUP_INDEX = "database"``): one row per index key
    (exact hash, body and lead bands) of each indexed article, written in the article's own
    transaction, so every process sees the same index and no entry outlives a rollback."""

    __tablename__ = "dedup_bands"
    __table_args__ = (Index("ix_dedup_bands_article", "article_id"),)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # signed 64-bit
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )


class ExportConsumer(Base):
    """A downstream system's checkpoint: its next export starts at ``next_change`` (None: from
    the beginning). ``last_article_id`` is the highest article id it has received."""

    __tablename__ = "export_consumers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_article_id: Mapped[int] = mapped_column(Integer, default=0)
    last_export_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_count: Mapped[int] = mapped_column(Integer, default=0)
    next_change: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ChangeCounter(Base):
    """SQLite's change cursor: one row, bumped by the article triggers inside each write (one
    writer commits at a time, so the order of values is the order of commits). PostgreSQL uses
    transaction ids instead and leaves it alone."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ArticleProvenance(Base):
    """The WARC record an article was ingested from (``newscrawl ingest``): file, record id and
    the record's offset in the file (so the raw page can be read again), and the extractor
    that made its text. One row per record; an article may have several."""

    __tablename__ = "article_provenance"
    __table_args__ = (
        UniqueConstraint("record_id", name="uq_article_provenance_record"),
        Index("ix_article_provenance_article", "article_id"),
        Index("ix_article_provenance_file", "warc_file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    warc_file: Mapped[str] = mapped_column(Text)
    record_id: Mapped[str] = mapped_column(String(200))  # WARC-Record-ID, <urn:uuid:...>
    record_offset: Mapped[int] = mapped_column(BigInteger)  # of the record in the (gzip) file
    extractor_version: Mapped[str] = mapped_column(String(100))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The article's fields are declared once (storage.content); its table must hold a column for each.
_missing = set(CONTENT_FIELDS) - set(Article.__table__.columns.keys())
if _missing:  # pragma: no cover - a programming error, caught by the first import in any test
    raise RuntimeError(f"articles has no column for {sorted(_missing)} (see storage/content.py)")
