"""Storage on real databases: SQLite files and the local PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from storage.articles import ArticleRow, store_article
from storage.content import CONTENT_FIELDS, ArticleContent
from storage.db import Database
from storage.models import Article, UrlAlias, UrlState
from storage.url_state import record_failure, stored_urls


def row(text: str = "Body text. " * 40, **kw: object) -> ArticleRow:
    values: dict[str, object] = {
        "outlet_id": "presstv",
        "url": "https://www.presstv.ir/Detail/2015/09/10/428783/Slug",
        "aliases": ["https://www.presstv.ir/Detail/2015/09/10/428783/Slug?utm_source=rss"],
        "title": "Title",
        "author": None,
        "published_at": datetime(2015, 9, 10, 14, 26, tzinfo=UTC),
        "published_source": "rss",
        "language": "en",
        "description": None,
        "tags": ["Syria"],
        "image": None,
        "site_name": "Press TV",
        "text": text,
        "text_hash": str(hash(text)),
        "discovered_via": "https://www.presstv.ir/rss.xml",
        "fetched_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    values.update(kw)
    # the article's own fields go in its content, the rest describe the row
    content = {k: values.pop(k) for k in CONTENT_FIELDS if k in values}
    content["tags"] = tuple(content.get("tags") or ())  # type: ignore[arg-type]
    return ArticleRow(content=ArticleContent(**content), **values)  # type: ignore[arg-type]


def test_schema_upgrade_is_idempotent(db: Database) -> None:
    Database(db.url).dispose()  # a second open finds the schema at head and changes nothing


def test_article_stored_once_however_often_seen(db: Database) -> None:
    first = store_article(db, row())
    again = store_article(db, row())
    assert first.outcome == "created" and again.outcome == "unchanged"
    assert first.article_id == again.article_id
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 1
        assert s.scalar(select(func.count()).select_from(UrlAlias)) == 1
        state = s.get(UrlState, row().url)
        assert state is not None and state.state == "stored" and state.attempts == 2
        stored = s.scalars(select(Article)).one()
        assert stored.published_at == datetime(2015, 9, 10, 14, 26, tzinfo=UTC)
        assert stored.tags == ["Syria"]


def test_in_place_update_replaces_the_text_not_a_second_row(db: Database) -> None:
    store_article(db, row())
    updated = store_article(db, row(text="Corrected body. " * 40))
    assert updated.outcome == "updated"
    with db.read() as s:
        (stored,) = s.scalars(select(Article)).all()
        assert stored.text.startswith("Corrected body.")


def test_a_failed_refetch_never_downgrades_a_stored_url(db: Database) -> None:
    store_article(db, row())
    record_failure(db, "presstv", row().url, "http_503", "gateway")
    other = "https://www.presstv.ir/Detail/2015/09/11/1/Other"
    record_failure(db, "presstv", other, "timeout")
    record_failure(db, "presstv", other, "http_503")
    with db.read() as s:
        assert s.get(UrlState, row().url).state == "stored"  # type: ignore[union-attr]
        failed = s.get(UrlState, other)
        assert failed is not None
        assert (failed.state, failed.reason, failed.attempts) == ("failed", "http_503", 2)
    assert set(stored_urls(db, "presstv")) == {row().url, *row().aliases}


def test_text_survives_identically(db: Database) -> None:
    from pipelines.extract.hygiene import clean_text

    text = clean_text(
        "Arabic: العربية\u0640 Persian: می\u200cخواهم Chinese: 中文\x00 Emoji: 📰 " * 20
    )
    store_article(db, row(text=text))
    with db.read() as s:
        assert s.scalars(select(Article.text)).one() == text
