"""Spider middleware that skips articles the database already holds: re-crawling an unchanged
web downloads only its feeds and sitemaps. URLs that failed before are not skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, signals

from crawler import runtime
from storage import repo


class KnownUrlFilter:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.known: set[str] = set()
        self.enabled = crawler.settings.getbool("NEWSCRAWL_SKIP_KNOWN")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> KnownUrlFilter:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        if self.enabled and hasattr(spider, "outlet"):
            self.known = repo.stored_urls(runtime.database(self.crawler.settings), spider.outlet.id)

    async def process_spider_output(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for obj in result:
            if isinstance(obj, Request) and obj.meta.get("canonical_url") in self.known:
                self.crawler.stats.inc_value("newscrawl/discovery/known_skipped")
                continue
            yield obj
