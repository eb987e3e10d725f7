"""The shared dedup index (``NEWSCRAWL_DEDUP_INDEX = "database"``): every process reads and
writes one band table inside its article's transaction; copies stored by two processes at the
same moment still land in one cluster (advisory locks on shared keys, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pipelines.dedup import rebuild
from pipelines.dedup import store as dedup_store
from pipelines.dedup.engine import DedupEngine
from pipelines.dedup.fingerprint import fingerprint
from pipelines.dedup.params import DedupParams
from storage import bands
from storage.articles import ArticleRow
from storage.db import Database
from storage.models import Article, DedupBand

from ..conftest import sync_registry
from ..storage.test_dedup_storage import story
from ..storage.test_storage import row

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def shared_context(db: Database, text: str) -> dedup_store.DedupContext:
    engine = DedupEngine()  # an empty in-memory index: only the band table can find copies
    scheme_id = dedup_store.ensure_scheme(db, engine.params)
    return dedup_store.DedupContext(
        engine, scheme_id, fingerprint(text, engine.params), shared=True
    )


def article(n: int, text: str, published: datetime) -> ArticleRow:
    url = f"https://www.presstv.ir/Detail/2025/03/01/{n}/Story"
    return row(text=text, url=url, aliases=[], published_at=published, text_hash=str(hash(text)))


def store(db: Database, n: int, text: str, published: datetime) -> dedup_store.DedupResult:
    return dedup_store.store_article(db, article(n, text, published), shared_context(db, text))


def clusters(db: Database) -> dict[int, tuple[int | None, int | None]]:
    with db.read() as s:
        return {a.id: (a.cluster_id, a.duplicate_of) for a in s.scalars(select(Article))}


def keys_of(text: str, params: DedupParams) -> int:
    keys = fingerprint(text, params).keys
    assert keys is not None
    return len(set(keys.tolist()))


def band_count(db: Database, article_id: int | None = None) -> int:
    query = select(func.count()).select_from(DedupBand)
    if article_id is not None:
        query = query.where(DedupBand.article_id == article_id)
    with db.read() as s:
        return int(s.scalar(query) or 0)


def test_fresh_engines_find_copies_through_the_band_table(db: Database) -> None:
    text = "\n\n".join(story(0))
    first = store(db, 1, text, T0)
    copy = store(db, 2, "\n\n".join(story(0)[:3]), T0 + timedelta(hours=2))
    other = store(db, 3, "\n\n".join(story(5)), T0)
    got = clusters(db)
    assert got[first.article_id] == (first.article_id, None)
    assert got[copy.article_id] == (first.article_id, first.article_id)
    assert got[other.article_id] == (other.article_id, None)
    params = DedupParams()
    # the exact key and the anchors of each long text
    expected = [
        keys_of(t, params) for t in (text, "\n\n".join(story(0)[:3]), "\n\n".join(story(5)))
    ]
    assert band_count(db, first.article_id) == expected[0] > 1
    assert band_count(db) == sum(expected)


def test_text_changed_in_place_replaces_its_keys(db: Database) -> None:
    first = store(db, 1, "\n\n".join(story(0)), T0)
    assert band_count(db, first.article_id) == keys_of("\n\n".join(story(0)), DedupParams())
    updated = store(db, 1, "\n\n".join(story(7)), T0)
    assert updated.outcome == "updated"
    # the old text's keys are gone, the new text's are there
    assert band_count(db, first.article_id) == keys_of("\n\n".join(story(7)), DedupParams())
    # the new text's copy finds it; the old text's copy no longer does
    copy_of_new = store(db, 2, "\n\n".join(story(7)[:3]), T0 + timedelta(hours=1))
    copy_of_old = store(db, 3, "\n\n".join(story(0)[:3]), T0 + timedelta(hours=1))
    got = clusters(db)
    assert got[copy_of_new.article_id][1] == first.article_id
    assert got[copy_of_old.article_id] == (copy_of_old.article_id, None)


def test_short_texts_are_indexed_by_their_exact_key_only(db: Database) -> None:
    short = "A short notice. The road is closed on Monday."
    a = store(db, 1, short, T0)
    b = store(db, 2, short, T0 + timedelta(hours=1))
    assert band_count(db, a.article_id) == 1
    assert clusters(db)[b.article_id] == (a.article_id, a.article_id)


def test_backfill_and_prune(db: Database) -> None:
    # crawled with the in-memory index first: signatures but no band rows
    engine = DedupEngine()
    scheme_id = dedup_store.ensure_scheme(db, engine.params)
    text = "\n\n".join(story(2))
    ctx = dedup_store.DedupContext(engine, scheme_id, fingerprint(text, engine.params))
    first = dedup_store.store_article(db, article(1, text, T0), ctx)
    assert band_count(db) == 0
    params = DedupParams()
    assert rebuild.backfill_bands(db, scheme_id, params, window_days=30) == 1
    assert rebuild.backfill_bands(db, scheme_id, params, window_days=30) == 0  # idempotent
    assert band_count(db) == keys_of(text, params)
    copy = store(db, 2, "\n\n".join(story(2)[:3]), T0 + timedelta(hours=1))
    assert clusters(db)[copy.article_id][1] == first.article_id
    # keys of articles indexed before the window are dropped; a zero-day window drops all
    assert bands.prune_bands(db, window_days=0) > 0
    assert band_count(db) == 0


def test_concurrent_copies_meet_in_one_cluster(request: pytest.FixtureRequest) -> None:
    """Two processes store two copies at the same moment. The first holds its transaction
    open; the second must wait for its commit and join its cluster, not start its own."""
    db = Database(request.getfixturevalue("pg_url"))
    from crawler.registry import load_registry

    sync_registry(db, [load_registry()["presstv"]])
    other = Database(db.url)  # a second connection pool: another worker
    original = "\n\n".join(story(3))
    trimmed = "\n\n".join(story(3)[:3])
    first_ctx = shared_context(db, original)
    second_ctx = shared_context(db, trimmed)
    holding = threading.Event()
    release = threading.Event()
    results: dict[str, dedup_store.DedupResult] = {}

    def first_worker() -> None:
        with db.write() as s:
            results["first"] = dedup_store.upsert_article(s, article(1, original, T0), first_ctx)
            holding.set()
            release.wait(10)

    def second_worker() -> None:
        holding.wait(10)
        results["second"] = dedup_store.store_article(
            other, article(2, trimmed, T0 + timedelta(hours=1)), second_ctx
        )

    threads = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
    for t in threads:
        t.start()
    assert holding.wait(10)
    threads[1].join(1.0)
    waited = threads[1].is_alive()  # blocked on the first's keys, not racing past them
    release.set()
    for t in threads:
        t.join(10)
    assert waited
    first, second = results["first"], results["second"]
    got = clusters(db)
    assert got[first.article_id] == (first.article_id, None)
    assert got[second.article_id] == (first.article_id, first.article_id)
    db.dispose()
    other.dispose()
