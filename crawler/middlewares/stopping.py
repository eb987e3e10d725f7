"""Downloads refused once the crawl is stopping (the first SIGINT or SIGTERM,
``crawler.shutdown``).

Scrapy's graceful stop sends nothing new from its scheduler, but the requests already handed
to the downloader wait in its per-host queues behind the download delay and go out one by one:
up to CONCURRENT_REQUESTS of them (31 were counted after a Ctrl-C, 30-odd seconds of a polite
crawl). So the first signal empties those queues at once (``refuse_queued``), and a subclass of
Scrapy's HTTP handler (set in DOWNLOAD_HANDLERS, its public extension point) refuses anything
that still reaches it. Both refuse with reason ``interrupted``, for which the spider records
no failure: the URLs stay ``discovered`` and the next run fetches them. Downloads already on
the wire finish."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Response

from crawler.failures import INTERRUPTED, RequestRefused
from crawler.shutdown import STOPPING


class StoppingHTTPDownloadHandler(HTTP11DownloadHandler):
    async def download_request(self, request: Request) -> Response:
        if STOPPING.is_set():
            raise RequestRefused(INTERRUPTED, "the crawl is stopping")
        return await super().download_request(request)


def refuse_queued(downloader: Any) -> int:
    """Fail every request waiting in the downloader's per-host queues (not yet sent) with
    ``interrupted``; how many. Their awaiting callers see the refusal at once."""
    refused = 0
    for slot in list(downloader.slots.values()):
        while slot.queue:
            _request, waiting = slot.queue.popleft()
            waiting.errback(RequestRefused(INTERRUPTED, "the crawl is stopping"))
            refused += 1
    return refused
