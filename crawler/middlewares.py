"""Spider middleware between discovery and download, with the database as the record:

- articles the database already holds are skipped, so re-crawling an unchanged web downloads
  only its feeds and sitemaps; not skipped are URLs that failed before, and articles whose feed
  or sitemap entry says they changed after the stored version was fetched (an in-place update
  then replaces the stored text);
- every new article URL is recorded as ``discovered`` before its request leaves, so a URL in
  flight when the process dies is fetched on the next run (see ``OutletSpider.start``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from scrapy import Request, signals

from crawler import runtime
from storage import repo


class KnownUrlFilter:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.known: dict[str, datetime] = {}
        self.enabled = crawler.settings.getbool("NEWSCRAWL_SKIP_KNOWN")
        self.record = crawler.settings.getbool("NEWSCRAWL_RECORD_DISCOVERED")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> KnownUrlFilter:
        return cls(crawler)

    async def spider_opened(self, spider: Any) -> None:
        if self.enabled and hasattr(spider, "outlet"):
            # possibly many rows: read on the database thread, not the reactor's
            self.known = await asyncio.wrap_future(
                runtime.db_writer().submit(
                    repo.stored_urls, runtime.database(self.crawler.settings), spider.outlet.id
                )
            )

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        passed: list[Any] = []
        async for obj in result:
            if isinstance(obj, Request) and obj.meta.get("canonical_url") in self.known:
                if not self._changed_since(obj):
                    self.crawler.stats.inc_value("newscrawl/discovery/known_skipped")
                    continue
                self.crawler.stats.inc_value("newscrawl/discovery/known_changed")
            passed.append(obj)
        new = [
            (r.meta["canonical_url"], r.meta["discovery"])
            for r in passed
            if isinstance(r, Request) and "discovery" in r.meta
        ]
        if new and self.record:
            db = runtime.database(self.crawler.settings)
            outlet_id = self.crawler.spider.outlet.id
            await asyncio.wrap_future(
                runtime.db_writer().submit(repo.record_discovered, db, outlet_id, new)
            )
        for obj in passed:
            yield obj

    def _changed_since(self, request: Request) -> bool:
        fetched = self.known[request.meta["canonical_url"]]
        modified = (request.meta.get("discovery") or {}).get("modified")
        return isinstance(modified, str) and datetime.fromisoformat(modified) > fetched
