"""Group commit on real databases: many articles in one transaction decide their clusters
exactly as one transaction each would, a copy meets its original stored earlier in the same
batch, the in-memory index learns of a batch only after its commit, and a failed batch stores
none of it. Then the pipeline's batching itself: batches gather while the writer is busy, each
caller gets its own article's result, and a failed batch fails only its own callers."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pipelines.dedup import store as dedup_store
from pipelines.dedup.engine import DedupEngine
from pipelines.ingest.run import run_to_end
from pipelines.store import GroupCommit
from storage.articles import ArticleRow, StoreResult
from storage.db import Database
from storage.models import Article

from .test_dedup_storage import T0, context, story
from .test_storage import row


def item(db: Database, engine: DedupEngine, n: int, text: str, hours: float = 0) -> Any:
    url = f"https://www.presstv.ir/Detail/2025/03/01/{n}/Story"
    article = row(
        text=text,
        url=url,
        aliases=[],
        published_at=T0 + timedelta(hours=hours),
        text_hash=str(hash(text)),
    )
    return article, context(db, engine, text)


def corpus(db: Database, engine: DedupEngine) -> list[Any]:
    """Six stories, each with a trimmed copy and an exact copy, interleaved."""
    items = []
    for k in range(6):
        whole = "\n\n".join(story(k))
        items.append(item(db, engine, 100 + k, whole, hours=k))
        items.append(item(db, engine, 200 + k, "\n\n".join(story(k)[:3]), hours=k + 1))
        items.append(item(db, engine, 300 + k, whole, hours=k + 2))
    return items


def clusters(db: Database) -> dict[str, tuple[str, str | None]]:
    """Per URL: its cluster's canonical URL, and what it is a copy of."""
    with db.read() as s:
        arts = list(s.scalars(select(Article)))
    url = {a.id: a.url for a in arts}
    return {
        a.url: (url[a.cluster_id], url.get(a.duplicate_of) if a.duplicate_of else None)
        for a in arts
        if a.cluster_id is not None
    }


def test_a_batch_decides_as_one_transaction_each_would(db: Database) -> None:
    one_by_one = DedupEngine()
    for article, ctx in corpus(db, one_by_one):
        dedup_store.store_article(db, article, ctx)
    expected = clusters(db)
    with db.write() as s:  # start again, same database
        for table in ("signatures", "articles", "url_aliases", "url_state"):
            s.execute(Article.metadata.tables[table].delete())

    batched = DedupEngine()
    results = dedup_store.store_articles(db, corpus(db, batched))
    assert [r.outcome for r in results] == ["created"] * 18
    got = clusters(db)
    # ids differ between the two runs; the clusters, by URL, do not
    assert got == expected
    assert len({canonical for canonical, _ in got.values()}) == 6
    assert batched.index.documents == one_by_one.index.documents == 18


def test_the_index_learns_a_batch_only_after_its_commit_and_a_failed_batch_stores_nothing(
    db: Database,
) -> None:
    engine = DedupEngine()
    text = "\n\n".join(story(0))
    good = item(db, engine, 1, text)
    bad_row, bad_ctx = item(db, engine, 2, "\n\n".join(story(0)[:3]), hours=1)
    bad = (
        ArticleRow(**{**vars(bad_row), "outlet_id": "no_such_outlet"}),  # a foreign key fails
        bad_ctx,
    )
    with pytest.raises(IntegrityError):
        dedup_store.store_articles(db, [good, bad])
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 0
    assert engine.index.documents == 0  # no ghost of the rolled-back first article

    results = dedup_store.store_articles(db, [good, item(db, engine, 2, bad_row.content.text)])
    assert [r.outcome for r in results] == ["created", "created"]
    second = results[1]
    assert isinstance(second, dedup_store.DedupResult) and second.decision is not None
    assert second.decision.match is not None  # met the first inside the same transaction
    assert engine.index.documents == 2


def result(n: int) -> StoreResult:
    return StoreResult(article_id=n, outcome="created")


def test_batches_gather_while_the_writer_is_busy_and_fail_only_their_own_callers() -> None:
    release = threading.Event()
    seen: list[list[int]] = []

    def write(items: list[tuple[Any, Any]]) -> list[StoreResult]:
        ids = [r for r, _ in items]
        seen.append(ids)
        if len(seen) == 1:
            release.wait(5)  # the first batch holds the writer while the rest queue
        if 13 in ids:
            raise OSError("disk full")
        return [result(n) for n in ids]

    async def main() -> list[Any]:
        with ThreadPoolExecutor(max_workers=1) as pool:
            commits = GroupCommit(write, pool.submit, limit=5)
            first = asyncio.ensure_future(commits.store(0, None))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
            rest = [
                asyncio.ensure_future(commits.store(n, None))  # type: ignore[arg-type]
                for n in range(1, 17)
            ]
            await asyncio.sleep(0.05)
            release.set()
            return await asyncio.gather(first, *rest, return_exceptions=True)

    out: list[Any] = []

    async def collect() -> None:
        out.extend(await main())

    run_to_end(collect())  # a browser test's loop may be running on this thread
    assert seen == [[0], [1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16]]
    for n, got in enumerate(out):
        if 11 <= n <= 15:
            assert isinstance(got, OSError)  # the failed batch's callers, and only they
        else:
            assert got == result(n)


def test_an_idle_writer_takes_each_article_at_once() -> None:
    seen: list[list[int]] = []

    def write(items: list[tuple[Any, Any]]) -> list[StoreResult]:
        seen.append([r for r, _ in items])
        return [result(r) for r, _ in items]

    async def main() -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            commits = GroupCommit(write, pool.submit, limit=50)
            for n in range(3):
                assert await commits.store(n, None) == result(n)  # type: ignore[arg-type]

    run_to_end(main())
    assert seen == [[0], [1], [2]]
