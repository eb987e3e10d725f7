"""Following a story while it changes, on real databases: a store that finds the page's
declared modification date moved marks the URL (``url_state.modified_moved_at``) and keeps the
new date even when the text is the same; a marked URL is due again ``every`` seconds later,
within the follow window; a store that finds the date still, clears the mark; a failed refetch
keeps it. Then the extraction side: what a page declares, and how reconcile takes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from sqlalchemy import select

from crawler.items import Discovery
from pipelines.extract.evidence import page_claims
from pipelines.extract.modified import page_modified
from pipelines.extract.page import PageExtraction, reconcile
from storage.articles import modified_moved, store_article
from storage.db import Database
from storage.models import Article, UrlState
from storage.url_state import FollowModified, due_refetches, record_discovered, record_failure

from .test_extraction_confidence import assert_down_and_up_keeps_triggers
from .test_storage import row

URL = "https://www.presstv.ir/Detail/2026/12/02/1/Live"
T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
TEXT = "The storm reached the coast on Monday night and cut power to thousands of homes. " * 5
FOLLOW = FollowModified(every=6 * 3600.0, within=3 * 86400.0)


def fetch(db: Database, hours: float, modified: datetime | None, text: str = TEXT) -> str:
    """One fetch of the live story ``hours`` after T0, declaring ``modified``."""
    result = store_article(
        db,
        row(
            url=URL,
            aliases=[],
            text=text,
            fetched_at=T0 + timedelta(hours=hours),
            modified_at=modified,
        ),
    )
    return result.outcome + (" moved" if result.modified_moved else "")


def mark(db: Database) -> datetime | None:
    with db.read() as s:
        return s.scalars(select(UrlState.modified_moved_at).where(UrlState.url == URL)).one()


def stored_modified(db: Database) -> datetime | None:
    with db.read() as s:
        return s.scalars(select(Article.modified_at).where(Article.url == URL)).one()


def due(db: Database, after: timedelta) -> list[str]:
    """What is due ``after`` the mark (or now), by the follow rule alone."""
    base = mark(db) or datetime.now(UTC)
    return [u for u, _ in due_refetches(db, "presstv", (), 10, now=base + after, follow=FOLLOW)]


def test_moved_means_later_than_the_stored_date_or_else_the_stored_fetch() -> None:
    fetched = T0 + timedelta(hours=1)
    assert modified_moved(T0, fetched, T0 + timedelta(minutes=5))
    assert not modified_moved(T0, fetched, T0)
    assert not modified_moved(T0, fetched, T0 - timedelta(hours=1))
    assert not modified_moved(T0, fetched, None)  # a page that stopped saying: not a move
    # nothing declared before: moved only when the page now says it changed after our fetch
    assert modified_moved(None, fetched, fetched + timedelta(minutes=1))
    assert not modified_moved(None, fetched, T0)


def test_a_moving_date_is_followed_until_it_stands_still(db: Database) -> None:
    record_discovered(db, "presstv", [(URL, {"url": URL, "source_url": "feed"})])
    assert fetch(db, 0, T0) == "created"
    assert mark(db) is None and due(db, timedelta(days=1)) == []  # a first fetch is no move

    # refetched: same text, a later date: the date is kept, no revision, the URL is marked
    assert fetch(db, 2, T0 + timedelta(hours=1)) == "unchanged moved"
    assert stored_modified(db) == T0 + timedelta(hours=1)
    assert mark(db) is not None
    assert due(db, timedelta(hours=5)) == []
    assert due(db, timedelta(hours=6)) == [URL]

    # the follow-up finds it moved again, with new text: followed again
    assert fetch(db, 8, T0 + timedelta(hours=7), TEXT + "Power is back.") == "updated moved"
    assert due(db, timedelta(hours=6)) == [URL]

    # a failed refetch keeps the mark: tried again at the next run
    before = mark(db)
    record_failure(db, "presstv", URL, "http_503", "")
    assert mark(db) == before and due(db, timedelta(hours=6)) == [URL]

    # a re-extraction reads the old fetch again: the mark stays
    result = store_article(
        db,
        row(
            url=URL,
            aliases=[],
            text=TEXT + "Power is back.",
            fetched_at=T0 + timedelta(hours=8),
            modified_at=T0 + timedelta(hours=7),
            revision_cause="reextract",
        ),
    )
    assert result.outcome == "unchanged" and mark(db) == before

    # the date stood still: no more following
    assert fetch(db, 14, T0 + timedelta(hours=7), TEXT + "Power is back.") == "unchanged"
    assert mark(db) is None and due(db, timedelta(days=2)) == []


def test_following_stops_at_the_window_and_respects_the_limit(db: Database) -> None:
    record_discovered(db, "presstv", [(URL, {"url": URL, "source_url": "feed"})])
    fetch(db, 0, T0)
    fetch(db, 2, T0 + timedelta(hours=1))
    with db.read() as s:
        first = s.scalars(select(Article.first_stored_at).where(Article.url == URL)).one()
    moved = mark(db)
    assert moved is not None

    def follow_due(now: datetime, limit: int = 10) -> list[str]:
        return [u for u, _ in due_refetches(db, "presstv", (), limit, now=now, follow=FOLLOW)]

    assert follow_due(moved + timedelta(hours=7)) == [URL]
    assert follow_due(moved + timedelta(hours=7), limit=0) == []
    assert follow_due(first + timedelta(days=3, minutes=1)) == []  # first stored too long ago
    # off: no schedule and no follow
    assert due_refetches(db, "presstv", (), 10, now=moved + timedelta(hours=7)) == []


def test_the_follow_policy_refuses_what_is_not_a_positive_time() -> None:
    for every, within in ((0.0, 10.0), (10.0, -1.0), (float("inf"), 10.0)):
        with pytest.raises(ValueError):
            FollowModified(every, within)


PAGE = """<html><head>
<meta property="article:published_time" content="2026-11-30T06:00:00Z">
<meta property="article:modified_time" content="2026-11-30T10:00:00+01:00">
<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",
 "dateModified": "2026-11-30T12:00:00Z"}]}</script>
<script type="application/ld+json">{"broken": </script>
</head><body><time itemprop="dateModified" datetime="2026-11-29">29 Nov</time></body></html>"""


def test_the_page_declares_its_latest_modification_and_a_future_one_is_not_believed() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def declared(page: str) -> datetime | None:
        tree = lxml.html.document_fromstring(page)
        return page_modified(tree, page_claims(tree).date_modified, now)

    assert declared(PAGE) == datetime(2026, 11, 30, 12, tzinfo=UTC)  # the JSON-LD's, latest
    future = PAGE.replace("2026-11-30T12:00:00Z", "2027-06-01T00:00:00Z")
    assert declared(future) == datetime(2026, 11, 30, 9, tzinfo=UTC)  # the meta tag's
    plain = "<html><head><title>x</title></head><body><p>No dates here.</p></body></html>"
    assert declared(plain) is None


def test_reconcile_takes_the_pages_date_before_the_feeds() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    feed = Discovery(
        url=URL, source_url="feed", source_kind="rss", modified=T0 - timedelta(hours=3)
    )
    page = PageExtraction(text=TEXT, modified="2026-11-30T12:00:00+00:00")
    assert reconcile(page, feed, "en", now).modified_at == datetime(2026, 11, 30, 12, tzinfo=UTC)
    quiet = PageExtraction(text=TEXT)
    assert reconcile(quiet, feed, "en", now).modified_at == T0 - timedelta(hours=3)
    assert reconcile(quiet, None, "en", now).modified_at is None


def test_migrations_0012_and_0013_down_and_up_keep_the_articles_triggers(tmp_path: Path) -> None:
    assert_down_and_up_keeps_triggers(f"sqlite:///{tmp_path / 'm.db'}", "0011")


def test_the_follow_query_reads_the_index_of_marked_urls(db: Database) -> None:
    """The follow read (at every spider start and schedule) finds the few marked URLs through
    the partial index of migration 0014, not by walking the outlet's stored URLs."""
    from sqlalchemy import event, inspect, text

    record_discovered(db, "presstv", [(URL, {"url": URL, "source_url": "feed"})])
    fetch(db, 0, T0)
    assert fetch(db, 2, T0 + timedelta(hours=1)) == "unchanged moved"
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert due(db, timedelta(hours=7)) == [URL]
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    [(follow_sql, params)] = [(q, p) for q, p in statements if "JOIN" in q]
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("url_state")}
    assert "ix_url_state_followed" in indexes
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + follow_sql, params)
            )
        assert "USING INDEX ix_url_state_followed" in plan, plan
    else:
        with db.engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table: what could it use
            plan = " ".join(
                str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + follow_sql, params)
            )
        assert "ix_url_state_followed" in plan, plan
