"""Store: upsert each article by canonical URL and record URL state, off the reactor thread,
many articles per transaction (``GroupCommit``). An article is acknowledged (its item passes
on) only once its transaction committed. A storage failure stops the crawl (reason
``storage_error``); it is never logged and forgotten."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from scrapy import signals
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from crawler import runtime
from crawler.failures import ArticleDropped
from crawler.items import ArticleItem, FetchFailure
from crawler.urls import canonical_url
from pipelines.dedup.fingerprint import Fingerprint
from pipelines.dedup.params import ParamsMismatch
from pipelines.dedup.store import DedupContext, DedupResult, store_articles
from storage import url_state
from storage.articles import ArticleRow, StoreResult
from storage.location import StorageError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def article_row(item: ArticleItem) -> ArticleRow:
    return ArticleRow(
        outlet_id=item.outlet_id,
        url=item.canonical_url,
        aliases=item.aliases,
        content=item.content,
        discovered_via=item.discovery.source_url if item.discovery else None,
        fetched_at=item.fetched_at,
    )


def item_key(url: str) -> str:
    """The URL-state key of a URL: its canonical form when it has one."""
    try:
        return canonical_url(url)
    except ValueError:
        return url


class GroupCommit:
    """Articles written many per transaction: while the database thread writes one batch,
    the next gathers, and goes as soon as the thread is free, so an idle crawl writes each
    article at once and a busy one in batches of up to ``limit`` (group commit: one BEGIN,
    COMMIT and session per batch). Each caller awaits its own article's commit."""

    def __init__(
        self,
        write: Callable[[list[tuple[ArticleRow, DedupContext | None]]], list[StoreResult]],
        submit: Callable[..., Any],
        limit: int,
    ) -> None:
        self.write = write
        self.submit = submit
        self.limit = max(1, limit)
        self.waiting: list[tuple[ArticleRow, DedupContext | None, asyncio.Future[Any]]] = []
        self.busy = False
        self.batches = 0

    async def store(self, row: ArticleRow, dedup: DedupContext | None) -> StoreResult:
        done: asyncio.Future[StoreResult] = asyncio.get_running_loop().create_future()
        self.waiting.append((row, dedup, done))
        self._next()
        return await done

    def _next(self) -> None:
        if self.busy or not self.waiting:
            return
        batch, self.waiting = self.waiting[: self.limit], self.waiting[self.limit :]
        self.busy = True
        self.batches += 1
        job = asyncio.wrap_future(self.submit(self.write, [(r, d) for r, d, _ in batch]))
        job.add_done_callback(lambda f: self._finished(batch, f))

    def _finished(self, batch: list[Any], job: asyncio.Future[list[StoreResult]]) -> None:
        self.busy = False
        error = job.exception()
        for k, (_row, _dedup, done) in enumerate(batch):
            if done.done():  # its caller went away (a crawl stopped at once)
                continue
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(job.result()[k])
        self._next()


class StorePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.db = runtime.database(crawler.settings)
        self.writer = runtime.db_writer()
        self.failed = False
        self.dedup_enabled = crawler.settings.getbool("NEWSCRAWL_DEDUP_ENABLED")
        self.commits = GroupCommit(
            lambda items: store_articles(self.db, items),
            self.writer.submit,
            runtime.store_batch(crawler.settings),
        )
        self._closing: asyncio.Future[None] | None = None
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        if self.dedup_enabled:
            # Rebuild (or reuse) the dedup index before the first article: slow work off the
            # reactor, and a parameter mismatch stops the crawl before anything is fetched.
            state = await self._write(runtime.dedup_state, self.crawler.settings)
            self.crawler.stats.set_value("newscrawl/dedup/index_documents", state.rebuilt)
            self.crawler.stats.set_value(
                "newscrawl/dedup/index_rebuild_seconds", round(state.seconds, 3)
            )

    def _dedup(self, fp: Fingerprint | None) -> DedupContext | None:
        if fp is None:
            return None
        state = runtime.dedup_state(self.crawler.settings)  # built in open_spider
        return DedupContext(state.engine, state.scheme_id, fp, shared=state.shared)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._guarded(asyncio.wrap_future(self.writer.submit(fn, *args)))

    async def _guarded(self, write: Awaitable[T]) -> T:
        try:
            return await write
        except (SQLAlchemyError, StorageError, OSError, ParamsMismatch) as exc:
            self._fatal(exc)
            raise ArticleDropped("storage_error", str(exc), log_level="ERROR") from exc

    def _fatal(self, exc: BaseException) -> None:
        if self.failed:
            return
        self.failed = True
        message = f"storage failed, stopping the crawl: {type(exc).__name__}: {exc}"
        logger.error(message.splitlines()[0])
        self.crawler.stats.set_value("newscrawl/storage_error", message[:1000])
        self._closing = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason="storage_error")
        )

    async def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        if isinstance(item, FetchFailure):
            await self._write(
                url_state.record_failure,
                self.db,
                item.outlet_id,
                item.url,
                item.reason,
                item.detail,
            )
            stats.inc_value("newscrawl/store/failures_recorded")
            raise DropItem(f"not stored: {item.reason} {item.url}", log_level="DEBUG")
        if not isinstance(item, ArticleItem):
            return item
        if self.failed:
            raise ArticleDropped("storage_error", "storage already failed", log_level="DEBUG")
        result = await self._guarded(self.commits.store(article_row(item), self._dedup(item.dedup)))
        stats.set_value("newscrawl/store/transactions", self.commits.batches)
        stats.inc_value(f"newscrawl/store/{result.outcome}")
        decision = result.decision if isinstance(result, DedupResult) else None
        if decision is not None:
            if decision.match is None:
                stats.inc_value("newscrawl/dedup/new_clusters")
            else:
                stats.inc_value("newscrawl/dedup/duplicates")
                kind = "exact" if decision.match.exact else "near"
                stats.inc_value(f"newscrawl/dedup/duplicates/{kind}")
                if decision.becomes_canonical:
                    stats.inc_value("newscrawl/dedup/new_canonical")
        return item

    async def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        """Record why an article was dropped by an earlier pipeline, so the URL state says it."""
        if not isinstance(item, ArticleItem) or self.failed:
            return
        if isinstance(exception, ArticleDropped):
            reason, detail = exception.reason, exception.detail
        else:  # another component's DropItem: no reason of ours, its message says why
            reason, detail = "dropped", str(exception)[:500]
        if reason == "storage_error":
            return
        await self._record(item, reason, detail)

    async def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        """A pipeline raised something other than DropItem (a bug, or a fault it did not
        expect): Scrapy logs it and forgets the item, so record the URL as failed here; the
        next run fetches it again."""
        if not isinstance(item, ArticleItem) or self.failed:
            return
        exc = failure.value  # a twisted Failure
        await self._record(item, "pipeline_error", f"{type(exc).__name__}: {exc}")

    async def _record(self, item: ArticleItem, reason: str, detail: str) -> None:
        url = item.canonical_url or item_key(item.url)
        await self._write(url_state.record_failure, self.db, item.outlet_id, url, reason, detail)
        self.crawler.stats.inc_value("newscrawl/store/failures_recorded")
