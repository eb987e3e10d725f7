"""Article downloads wait for room in the process's extraction backlog
(crawler/extraction_gate.py): the pages in memory at once are bounded by
NEWSCRAWL_EXTRACT_IN_HAND, not by how many outlets the process crawls.

The wait is in the HTTP download handler, where a request arrives once its host's delay and
concurrency let it go: a request waiting there holds no place in another host's queue, and the
download's own time limit starts only after it. Off in distributed mode, whose scheduler
already takes no more requests while a worker's backlog and downloads are high
(``NEWSCRAWL_WORKER_PREFETCH``), and whose shared per-host leases are taken before this point."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.defer import deferred_to_future

from crawler import runtime
from crawler.middlewares.stopping import StoppingHTTPDownloadHandler


class GatedHTTPDownloadHandler(StoppingHTTPDownloadHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.stats = crawler.stats
        distributed = crawler.settings.getbool("NEWSCRAWL_DISTRIBUTED")
        self.limit = 0 if distributed else runtime.extraction_in_hand_limit(crawler.settings)

    async def download_request(self, request: Request) -> Response:
        if not self.limit or "canonical_url" not in request.meta:
            return await super().download_request(request)  # feeds, sitemaps, robots.txt
        gate = runtime.extraction_gate
        if gate.in_hand >= self.limit:
            self.stats.inc_value("newscrawl/extract/in_hand_waits")
        waiter = gate.enter(self.limit)
        try:
            await deferred_to_future(waiter.started)
            self.stats.max_value("newscrawl/extract/in_hand_peak", gate.peak)
            return await super().download_request(request)
        finally:
            if waiter.admitted:
                gate.left()
            else:  # cancelled while it waited
                gate.withdraw(waiter)
