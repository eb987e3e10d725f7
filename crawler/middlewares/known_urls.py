"""Spider middleware between discovery and download, with the database as the record:

- articles the database already holds are skipped, so re-crawling an unchanged web downloads
  only its feeds and sitemaps; not skipped are URLs that failed before, and articles whose feed
  or sitemap entry says they changed after the stored version was fetched (an in-place update
  then replaces the stored text);
- every new article URL is recorded as ``discovered`` before its request leaves, so a URL in
  flight when the process dies is fetched on the next run (see ``OutletSpider.start``);
- the per-run cap (``NEWSCRAWL_MAX_ARTICLES_PER_RUN``) counts new work only: the requests that
  pass the filter, the record's pending URLs among them. URLs beyond it are recorded all the
  same and not requested, so a backlog drains over later runs instead of starving them.

A distributed worker runs for days while other workers store articles, so it asks the database
per response instead of loading the stored URLs once; and since it knows how many of a polled
source's entries were new, it records that for adaptive polling (``crawler.polling``). A
worker's lifetime has no end to cap, so it has no per-run cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from scrapy import Request, signals

from crawler import runtime
from storage.sources import record_poll
from storage.url_state import record_discovered, stored_urls

#: spider output is filtered and recorded this many objects at a time: a sitemap of 150,000
#: URLs is not held as 150,000 requests at once
BATCH = 1000


class KnownUrlFilter:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.known: dict[str, datetime] = {}
        self.enabled = crawler.settings.getbool("NEWSCRAWL_SKIP_KNOWN")
        self.record = crawler.settings.getbool("NEWSCRAWL_RECORD_DISCOVERED")
        self.distributed = crawler.settings.getbool("NEWSCRAWL_DISTRIBUTED")
        self.cap = crawler.settings.getint("NEWSCRAWL_MAX_ARTICLES_PER_RUN")
        self.admitted = 0  # article requests let through this run
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> KnownUrlFilter:
        return cls(crawler)

    async def spider_opened(self, spider: Any) -> None:
        if self.enabled and hasattr(spider, "outlet") and not self.distributed:
            # possibly many rows: read on the database thread, not the reactor's
            self.known = await asyncio.wrap_future(
                runtime.db_writer().submit(
                    stored_urls, runtime.database(self.crawler.settings), spider.outlet.id
                )
            )

    def _admit(self, obj: Any) -> bool:
        """False for an article request over this run's cap (already on record)."""
        if self.distributed or not isinstance(obj, Request) or "discovery" not in obj.meta:
            return True
        if self.admitted >= self.cap:
            self.crawler.stats.inc_value("newscrawl/discovery/cap_reached")
            return False
        self.admitted += 1
        return True

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        # the record's pending URLs (OutletSpider.start) are new work too
        async for obj in start:
            if self._admit(obj):
                yield obj

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        meta = getattr(response, "meta", None) or {}
        items = inserted = 0
        async for output in _batches(result, BATCH):
            articles = [r for r in output if isinstance(r, Request) and "canonical_url" in r.meta]
            if not articles:  # an article page: nothing to look up or record
                for obj in output:
                    yield obj
                continue
            passed, new = await self._filter(output, articles)
            items += len(articles)
            inserted += new
            for obj in passed:
                if self._admit(obj):
                    yield obj
        if self.distributed and "poll_seq" in meta and response.status < 400:
            await asyncio.wrap_future(
                runtime.db_writer().submit(
                    record_poll,
                    runtime.database(self.crawler.settings),
                    self.crawler.spider.outlet.id,
                    meta["poll_root"],
                    meta["poll_seq"],
                    items=items,
                    new=inserted,
                )
            )

    async def _filter(self, output: list[Any], articles: list[Request]) -> tuple[list[Any], int]:
        """``output`` without the known articles, the new ones recorded; and how many of
        those were new to the database."""
        db = runtime.database(self.crawler.settings)
        outlet_id = self.crawler.spider.outlet.id
        known = self.known
        if self.distributed and self.enabled:
            known = await asyncio.wrap_future(
                runtime.db_writer().submit(
                    stored_urls, db, outlet_id, [r.meta["canonical_url"] for r in articles]
                )
            )
        passed: list[Any] = []
        for obj in output:
            if isinstance(obj, Request) and obj.meta.get("canonical_url") in known:
                if not self._changed_since(obj, known):
                    self.crawler.stats.inc_value("newscrawl/discovery/known_skipped")
                    continue
                self.crawler.stats.inc_value("newscrawl/discovery/known_changed")
            passed.append(obj)
        new = [
            (r.meta["canonical_url"], r.meta["discovery"])
            for r in passed
            if isinstance(r, Request) and "discovery" in r.meta
        ]
        inserted = 0
        if new and self.record:
            inserted = await asyncio.wrap_future(
                runtime.db_writer().submit(record_discovered, db, outlet_id, new)
            )
        return passed, inserted

    @staticmethod
    def _changed_since(request: Request, known: dict[str, datetime]) -> bool:
        fetched = known[request.meta["canonical_url"]]
        modified = (request.meta.get("discovery") or {}).get("modified")
        return isinstance(modified, str) and datetime.fromisoformat(modified) > fetched


async def _batches(iterator: AsyncIterator[Any], size: int) -> AsyncIterator[list[Any]]:
    batch: list[Any] = []
    async for obj in iterator:
        batch.append(obj)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
