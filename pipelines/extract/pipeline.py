"""Extract: trafilatura main text and metadata in worker processes (never on the reactor thread),
with a per-document time limit; page and feed metadata reconciled."""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from crawler import runtime
from crawler.dates import believable
from crawler.failures import ArticleDropped
from crawler.items import ArticleItem
from pipelines.extract.page import ExtractionFailed, extract_page, reconcile


class ExtractPipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.timeout = crawler.settings.getfloat("NEWSCRAWL_EXTRACT_TIMEOUT")
        runtime.extraction_pool(crawler.settings)  # the process's pool, shared by its crawlers

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    def _drop(self, reason: str, detail: str = "") -> ArticleDropped:
        self.crawler.stats.inc_value(f"newscrawl/extract/failed/{reason}")
        return ArticleDropped(reason, detail)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        outlet = self.crawler.spider.outlet  # one crawler, one outlet
        discovery = item.discovery
        runtime.extraction_backlog += 1  # reactor thread only: no lock needed
        try:
            page = await runtime.run_in_pool(
                self.crawler.settings,
                extract_page,
                item.html,
                item.response_url,
                outlet.extraction.drop_selectors,
                outlet.extraction.drop_line_patterns,
                outlet.extraction.keep_selectors,
                # the feed's headline and summary are evidence for the text extraction
                discovery.title if discovery else None,
                discovery.summary if discovery else None,
                # the feed's date beats the page's (reconcile): then the page's is not sought
                bool(discovery and believable(discovery.published)),
                timeout=self.timeout,
            )
        except ExtractionFailed as exc:
            raise self._drop(exc.reason, exc.detail) from exc
        except FutureTimeout as exc:
            raise self._drop("extraction_timeout", f"over {self.timeout:g} s") from exc
        except runtime.WorkerCrashed as exc:
            raise self._drop("extraction_crashed", str(exc)) from exc
        except Exception as exc:  # a parser bug on one hostile page must not stop the crawl
            raise self._drop("extraction_error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            runtime.extraction_backlog -= 1
            runtime.extraction_gate.wake()  # room for a waiting article download
        item.html = ""  # the page is not needed past here; keep items small
        item.content = merged = reconcile(page, item.discovery, outlet.language)
        self.crawler.stats.inc_value("newscrawl/extract/ok")
        self.crawler.stats.inc_value(f"newscrawl/extract/mode/{page.mode}")
        if merged.published_source:
            self.crawler.stats.inc_value(f"newscrawl/extract/date_from/{merged.published_source}")
        if merged.language_source:
            self.crawler.stats.inc_value(
                f"newscrawl/extract/language_from/{merged.language_source}"
            )
        return item
