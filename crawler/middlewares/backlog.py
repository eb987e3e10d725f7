"""Article downloads wait for room in the process's extraction backlog
(crawler/extraction_gate.py): the pages in memory at once are bounded by
NEWSCRAWL_EXTRACT_IN_HAND, not by how many outlets the process crawls. Last before the
download, so that its answer (a response or a failure) is seen here before a redirect or a
retry turns it into a new request, which waits again."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.utils.defer import deferred_to_future

from crawler import runtime

#: request.meta key: the download was admitted by the gate and is not yet answered
ADMITTED = "newscrawl_in_hand"


class ExtractionBacklogMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.limit = runtime.extraction_in_hand_limit(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractionBacklogMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if "canonical_url" not in request.meta or request.meta.get(ADMITTED):
            return  # not an article page (a feed, a sitemap, robots.txt): never waits
        gate = runtime.extraction_gate
        if gate.in_hand >= self.limit:
            self.crawler.stats.inc_value("newscrawl/extract/in_hand_waits")
        await deferred_to_future(gate.enter(self.limit))
        request.meta[ADMITTED] = True
        self.crawler.stats.max_value("newscrawl/extract/in_hand_peak", gate.peak)

    def _answered(self, request: Request) -> None:
        if request.meta.pop(ADMITTED, False):
            runtime.extraction_gate.left()

    def process_response(self, request: Request, response: Any, spider: Any = None) -> Any:
        self._answered(request)
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        self._answered(request)
