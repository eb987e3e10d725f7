"""Dedup: the article's fingerprint (normalised shingles, exact hash, MinHash signatures),
computed in the extraction worker pool. The cluster decision itself is taken by the store step,
inside the article's own transaction (see ``pipelines.dedup.store``), so two copies stored
one after the other always see each other."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import NotConfigured

from crawler import runtime
from crawler.failures import ArticleDropped
from crawler.items import ArticleItem
from pipelines.dedup.fingerprint import fingerprint


class DedupPipeline:
    def __init__(self, crawler: Any) -> None:
        if not crawler.settings.getbool("NEWSCRAWL_DEDUP_ENABLED"):
            raise NotConfigured("NEWSCRAWL_DEDUP_ENABLED is off")
        self.crawler = crawler
        self.params = runtime.dedup_params(crawler.settings)
        self.timeout = crawler.settings.getfloat("NEWSCRAWL_EXTRACT_TIMEOUT")

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        try:
            item.dedup = await runtime.run_in_pool(
                self.crawler.settings,
                fingerprint,
                item.content.text,
                self.params,
                timeout=self.timeout,
            )
        except runtime.WorkerCrashed as exc:  # same reason as in extraction: retried next run
            self.crawler.stats.inc_value("newscrawl/dedup/failed")
            detail = f"while fingerprinting: {exc}"
            raise ArticleDropped("extraction_crashed", detail) from exc
        except Exception as exc:  # a timeout or a fingerprint bug: recorded, the crawl goes on
            self.crawler.stats.inc_value("newscrawl/dedup/failed")
            raise ArticleDropped("dedup_failed", f"{type(exc).__name__}: {exc}") from exc
        stats = self.crawler.stats
        stats.inc_value("newscrawl/dedup/fingerprinted")
        if not item.dedup.indexed:
            stats.inc_value("newscrawl/dedup/too_short_for_minhash")
        return item
