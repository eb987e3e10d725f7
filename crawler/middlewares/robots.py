"""robots.txt policy, chosen on purpose (RFC 9309):

- 2xx: obeyed, as far as its first 500 KiB go (the RFC's minimum), cut after the last complete
  line: a rule cut short could widen (``Disallow: /private`` read as ``Disallow: /``). A bigger
  file is downloaded only that far, a compressed one decoded only that far
  (``RobotsTxtBodyLimit``), so size never turns a robots.txt into an error;
- redirects: followed up to ``REDIRECT_MAX_TIMES`` (5), to any host (``allow_offsite``); more
  than that means "unavailable", as a 4xx;
- 4xx: no robots.txt, everything allowed;
- 5xx, 429 or no answer (DNS failure, timeout, refused): "unreachable", everything disallowed for
  this run. Scrapy's own middleware fails open here: after a 503 it crawls everything;
- ``Crawl-delay``: the host's downloader slot waits that long between requests (at most
  ``NEWSCRAWL_MAX_CRAWL_DELAY``), unless the outlet file sets its own ``download_delay``.

Parsing goes through Scrapy's public parser interface: ``ROBOTSTXT_PARSER`` names a
``scrapy.robotstxt.RobotParser`` (here ``PoliteRobotParser``, Protego over the first 500 KiB),
built with ``from_crawler(crawler, body)``; the middleware owns only the fetch policy.
"""

from __future__ import annotations

import asyncio
import io
import logging
import weakref
import zlib
from dataclasses import dataclass
from typing import Any

from protego import Protego
from scrapy import Request, signals
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser, decode_robotstxt
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.python import to_unicode

from crawler.failures import RequestRefused, reason_of

logger = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024
#: meta key marking robots.txt requests (and their redirect hops, which copy meta)
ROBOTS_META = "newscrawl_robots"
#: meta key: the Crawl-delay (seconds) the request's host asks for
CRAWL_DELAY_META = "newscrawl_crawl_delay"


def robots_prefix(body: bytes, limit: int = ROBOTS_MAX_BYTES) -> bytes:
    """The part of a robots.txt that is obeyed: all of it up to ``limit`` bytes, else its first
    ``limit`` bytes without the partial last line."""
    if len(body) <= limit:
        return body
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1]


class PoliteRobotParser(RobotParser):
    """``ROBOTSTXT_PARSER``: Protego (Scrapy's default parser) over ``robots_prefix`` of the
    file; ``crawl_delay`` as the file says."""

    def __init__(self, robotstxt_body: bytes, spider: Any) -> None:
        self.spider = spider
        self.rp = Protego.parse(decode_robotstxt(robots_prefix(robotstxt_body), spider))

    @classmethod
    def from_crawler(cls, crawler: Any, robotstxt_body: bytes) -> PoliteRobotParser:
        return cls(robotstxt_body, crawler.spider if crawler else None)

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return bool(self.rp.can_fetch(to_unicode(url), to_unicode(user_agent)))

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        delay = self.rp.crawl_delay(to_unicode(user_agent))
        return None if delay is None else float(delay)


def decode_prefix(body: bytes, encodings: list[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes of ``body`` decoded from its Content-Encoding list (applied in
    order, so decoded last to first); a truncated or broken stream gives what it held.
    Unknown encodings: ``ValueError``."""
    for encoding in reversed([e.strip().lower() for h in encodings for e in h.split(b",")]):
        if encoding in (b"", b"identity"):
            continue
        body = _decode_one(body, encoding, limit)
    return body


def _decode_one(body: bytes, encoding: bytes, limit: int) -> bytes:
    if encoding in (b"gzip", b"x-gzip", b"deflate"):
        # 47: gzip or zlib header, detected; -15: raw deflate (sent as "deflate" by some servers)
        for wbits in (47, -15):
            try:
                return zlib.decompressobj(wbits).decompress(body, limit)
            except zlib.error:
                continue
        return b""
    if encoding == b"br":
        import brotli

        try:
            return bytes(brotli.Decompressor().process(body, output_buffer_limit=limit))[:limit]
        except brotli.error:
            return b""
    if encoding == b"zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
        try:
            return bytes(reader.read(limit))
        except zstandard.ZstdError:
            return b""
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


class RobotsTxtBodyLimit:
    """robots.txt responses only (downloader middleware, between the download and Scrapy's
    HttpCompressionMiddleware): the download stops once ``ROBOTS_MAX_BYTES`` have arrived
    (``StopDownload(fail=False)``: the response keeps what came), and a compressed body is
    decoded to that many bytes here. A 12 MB file used to fail at DOWNLOAD_MAXSIZE (the host
    was then never crawled), an 11 MB gzip-encoded one failed decompression (and counted as
    absent)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._received: weakref.WeakKeyDictionary[Request, int] = weakref.WeakKeyDictionary()
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RobotsTxtBodyLimit:
        return cls(crawler)

    def bytes_received(self, data: bytes, request: Request, spider: Any = None) -> None:
        if not request.meta.get(ROBOTS_META):
            return
        received = self._received.get(request, 0) + len(data)
        self._received[request] = received
        if received > ROBOTS_MAX_BYTES:
            self.crawler.stats.inc_value("newscrawl/robotstxt/truncated")
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        encodings = response.headers.getlist(b"Content-Encoding")
        if not request.meta.get(ROBOTS_META) or not encodings:
            return response
        try:
            body = decode_prefix(response.body, encodings, ROBOTS_MAX_BYTES + 1)
        except ValueError:
            return response  # an encoding nobody here decodes: HttpCompression says so
        headers = response.headers.copy()
        del headers[b"Content-Encoding"]
        return response.replace(body=body, headers=headers)


@dataclass(frozen=True)
class HostRules:
    """What a host's robots.txt said: its parser (None: no rules), or why it was unreachable."""

    parser: RobotParser | None = None
    unreachable: str | None = None
    crawl_delay: float | None = None  # seconds, for our user agent


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with RFC 9309's fetch policy (module docstring). Of
    Scrapy's class it keeps the settings and ``process_request_2`` (the user-agent match and
    the refusal); the fetch and its outcome per host are its own."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.parser_class = load_object(settings["ROBOTSTXT_PARSER"])
        self.user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        self.max_crawl_delay = settings.getfloat("NEWSCRAWL_MAX_CRAWL_DELAY")
        self.hosts: dict[str, HostRules | asyncio.Future[HostRules]] = {}
        crawler.signals.connect(
            self.request_reached_downloader, signal=signals.request_reached_downloader
        )

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        rules = await self.host_rules(request)
        if rules.unreachable is not None:
            self._stats.inc_value("robotstxt/unreachable_refused")
            raise RequestRefused("robots_unreachable", rules.unreachable)
        try:
            self.process_request_2(rules.parser, request)
        except IgnoreRequest as exc:  # Scrapy's own refusal: the only one it makes
            raise RequestRefused("robots_disallowed", str(exc)) from exc
        if rules.crawl_delay and self._crawl_delay_applies():
            request.meta[CRAWL_DELAY_META] = min(rules.crawl_delay, self.max_crawl_delay)
            # AutoThrottle would bring the host's delay down to DOWNLOAD_DELAY again
            request.meta["autothrottle_dont_adjust_delay"] = True

    def _crawl_delay_applies(self) -> bool:
        """Crawl-delay is honoured unless the outlet's file sets its own delay."""
        outlet = getattr(self.crawler.spider, "outlet", None)
        return outlet is None or not outlet.politeness.explicit_delay

    def request_reached_downloader(self, request: Request, spider: Any = None) -> None:
        """The host's downloader slot exists now and has not sent the request yet: it waits
        at least the robots.txt Crawl-delay between requests (the slot may have been made
        anew since the last request, with the crawl's delay: so on every request)."""
        delay = request.meta.get(CRAWL_DELAY_META)
        if not delay:
            return
        slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot", ""))
        if slot is not None and slot.delay < delay:
            slot.delay = delay
            self._stats.inc_value("newscrawl/robotstxt/crawl_delay_applied")

    async def robot_parser(self, request: Request) -> RobotParser | None:
        return (await self.host_rules(request)).parser

    async def host_rules(self, request: Request) -> HostRules:
        """The rules for the request's host, fetched once per run; concurrent requests for a
        host wait for the one fetch."""
        parts = urlparse_cached(request)
        netloc = parts.netloc
        known = self.hosts.get(netloc)
        if isinstance(known, HostRules):
            return known
        if known is not None:
            return await known
        waiting: asyncio.Future[HostRules] = asyncio.get_running_loop().create_future()
        self.hosts[netloc] = waiting
        try:
            rules = await self._fetch(f"{parts.scheme}://{netloc}/robots.txt", netloc, request)
        except BaseException:  # cancelled (the crawl stops): the next request tries again
            del self.hosts[netloc]
            waiting.cancel()  # those waiting are cancelled too (no "exception never retrieved")
            raise
        self.hosts[netloc] = rules
        waiting.set_result(rules)
        return rules

    async def _fetch(self, url: str, netloc: str, request: Request) -> HostRules:
        robots_request = Request(
            url,
            priority=self.DOWNLOAD_PRIORITY,
            callback=NO_CALLBACK,
            meta={
                "dont_obey_robotstxt": True,
                "allow_offsite": True,  # RFC 9309: redirects to other hosts are followed
                ROBOTS_META: True,
                # read to ROBOTS_MAX_BYTES by RobotsTxtBodyLimit, never failed for its size
                "download_maxsize": 0,
                "download_warnsize": 0,
            },
        )
        self._stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots_request)
        except IgnoreRequest as exc:
            # refused (the address policy) or redirected too often: "unavailable", no rules
            logger.debug("robots.txt of %s not fetched (%s): no rules", netloc, exc)
            return HostRules()
        except Exception as exc:
            return self._unreachable(netloc, f"{reason_of(exc)}: {exc}")
        status = response.status
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{status}")
        if status >= 500 or status == 429:
            return self._unreachable(netloc, f"HTTP {status}")
        if status >= 300:  # 4xx, or a redirect that was not followed: no robots.txt
            return HostRules()
        parser = build_from_crawler(self.parser_class, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request
        )
        return HostRules(parser, crawl_delay=parser.crawl_delay(self.user_agent))

    def _unreachable(self, netloc: str, why: str) -> HostRules:
        self._stats.inc_value("robotstxt/unreachable")
        logger.warning(
            "robots.txt of %s is unreachable (%s): not crawling that host this run (RFC 9309)",
            netloc,
            why,
        )
        return HostRules(unreachable=why)
