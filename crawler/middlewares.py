"""Spider middleware between discovery and download, with the database as the record:

- articles the database already holds are skipped, so re-crawling an unchanged web downloads
  only its feeds and sitemaps; not skipped are URLs that failed before, and articles whose feed
  or sitemap entry says they changed after the stored version was fetched (an in-place update
  then replaces the stored text);
- every new article URL is recorded as ``discovered`` before its request leaves, so a URL in
  flight when the process dies is fetched on the next run (see ``OutletSpider.start``).

A distributed worker runs for days while other workers store articles, so it asks the database
per response instead of loading the stored URLs once; and since it knows how many of a polled
source's entries were new, it records that for adaptive polling (``crawler.polling``)."""

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
        self.distributed = crawler.settings.getbool("NEWSCRAWL_DISTRIBUTED")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> KnownUrlFilter:
        return cls(crawler)

    async def spider_opened(self, spider: Any) -> None:
        if self.enabled and hasattr(spider, "outlet") and not self.distributed:
            # possibly many rows: read on the database thread, not the reactor's
            self.known = await asyncio.wrap_future(
                runtime.db_writer().submit(
                    repo.stored_urls, runtime.database(self.crawler.settings), spider.outlet.id
                )
            )

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        output = [obj async for obj in result]
        articles = [r for r in output if isinstance(r, Request) and "canonical_url" in r.meta]
        if not articles and "poll_seq" not in getattr(response, "meta", {}):
            for obj in output:  # an article page: nothing to look up or record
                yield obj
            return
        db = runtime.database(self.crawler.settings)
        outlet_id = self.crawler.spider.outlet.id
        known = self.known
        if self.distributed and self.enabled and articles:
            known = await asyncio.wrap_future(
                runtime.db_writer().submit(
                    repo.stored_urls, db, outlet_id, [r.meta["canonical_url"] for r in articles]
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
                runtime.db_writer().submit(repo.record_discovered, db, outlet_id, new)
            )
        meta = getattr(response, "meta", None) or {}
        if self.distributed and "poll_seq" in meta and response.status < 400:
            await asyncio.wrap_future(
                runtime.db_writer().submit(
                    repo.record_poll,
                    db,
                    outlet_id,
                    meta["poll_root"],
                    meta["poll_seq"],
                    items=len(articles),
                    new=inserted,
                )
            )
        for obj in passed:
            yield obj

    @staticmethod
    def _changed_since(request: Request, known: dict[str, datetime]) -> bool:
        fetched = known[request.meta["canonical_url"]]
        modified = (request.meta.get("discovery") or {}).get("modified")
        return isinstance(modified, str) and datetime.fromisoformat(modified) > fetched
