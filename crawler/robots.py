"""robots.txt policy, chosen on purpose (RFC 9309):
- 2xx: obeyed (only the first 500 KiB are read, as the RFC allows);
- 4xx: no robots.txt, everything allowed;
- 5xx, 429 or no answer (DNS failure, timeout, refused): "unreachable", everything disallowed for
  this run. Scrapy's own middleware fails open here: after a 503 it crawls everything.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._unreachable: dict[str, str] = {}

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        await self.robot_parser(request)
        netloc = urlparse_cached(request).netloc
        if netloc in self._unreachable:
            self._stats.inc_value("robotstxt/unreachable_refused")
            raise IgnoreRequest(f"robots_unreachable: {self._unreachable[netloc]}")
        parser = self._parsers.get(netloc)
        self.process_request_2(None if isinstance(parser, Deferred) else parser, request)

    async def robot_parser(self, request: Request) -> Any:
        # Scrapy's version, except that a failed download is one clear log line (no traceback)
        # and makes the host unreachable instead of allowed.
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robots_request = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(robots_request)
                await self._parse_robots(response, netloc, request)
            except Exception as exc:
                self._robots_error(exc, netloc)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        status = response.status
        if status >= 500 or status == 429:
            self._mark_unreachable(netloc, f"HTTP {status}")
            response = response.replace(body=b"")
        elif status >= 400:
            response = response.replace(body=b"")  # no robots.txt: all allowed
        elif len(response.body) > ROBOTS_MAX_BYTES:
            response = response.replace(body=response.body[:ROBOTS_MAX_BYTES])
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if not isinstance(exc, IgnoreRequest):
            self._mark_unreachable(netloc, f"{type(exc).__name__}: {exc}")
        super()._robots_error(exc, netloc)

    def _mark_unreachable(self, netloc: str, why: str) -> None:
        self._unreachable[netloc] = why
        self._stats.inc_value("robotstxt/unreachable")
        logger.warning(
            "robots.txt of %s is unreachable (%s): not crawling that host this run (RFC 9309)",
            netloc,
            why,
        )
