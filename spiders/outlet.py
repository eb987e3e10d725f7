"""The generic outlet spider: an outlet's sources in, article pages out.

One class serves every outlet; ``spider_class_for`` makes a named subclass per registry entry so
Scrapy's ``crawl``/``list`` commands see one spider per outlet. Metadata from feeds and sitemaps
rides in ``request.meta`` as plain values (serialisable for JOBDIR and scrapy-redis)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import runtime
from crawler.dates import utcnow
from crawler.decoding import Undecodable, charset_from_content_type, decode_html
from crawler.failures import FIRST_SOURCE_FAILURE, INTERRUPTED, failure_reason
from crawler.items import ArticleItem, Discovery, FetchFailure
from crawler.polling import retry_after_seconds
from crawler.registry import FEED_KINDS, PAGE_KINDS, Outlet
from crawler.urls import BadUrl, canonical_url, check_url
from spiders.conditional import ConditionalPolling
from spiders.feeds import parse_feed
from spiders.links import parse_links
from spiders.pages import HTML_TYPES, declared_canonical, looks_binary
from spiders.sitemaps import parse_sitemap_bytes, sitemaps_from_robots
from spiders.worker import SharedQueueWorker
from storage.url_state import pending_urls

logger = logging.getLogger(__name__)


class OutletSpider(ConditionalPolling, SharedQueueWorker, Spider):
    """Crawl one outlet's feeds and sitemaps; yield article pages with their discovery data."""

    outlet: ClassVar[Outlet]  # one per subclass (spider_class_for)
    max_articles: int
    max_sitemaps: int
    max_sitemap_depth: int
    max_source_bytes: int
    parse_timeout: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._requested: set[str] = set()
        self._sitemaps_seen = 0
        self._idle_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletSpider:
        spider: OutletSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_articles = settings.getint("NEWSCRAWL_MAX_ARTICLES_PER_RUN")
        spider.max_sitemaps = settings.getint("NEWSCRAWL_MAX_SITEMAPS_PER_OUTLET")
        spider.max_sitemap_depth = settings.getint("NEWSCRAWL_MAX_SITEMAP_DEPTH")
        spider.max_source_bytes = settings.getint("DOWNLOAD_MAXSIZE")
        spider.parse_timeout = settings.getfloat("NEWSCRAWL_PARSE_TIMEOUT")
        spider.distributed = settings.getbool("NEWSCRAWL_DISTRIBUTED")
        if spider.distributed:
            spider.connect_worker(crawler)
        return spider

    def article_requests(
        self, entry: Discovery, *, refetch: bool = False
    ) -> list[Request | FetchFailure]:
        """The article's request (or its failure: a URL that cannot be requested); ``refetch``
        (the database says it is due) passes the shared seen-set, which may remember a
        request that a dead worker never finished."""
        return list(self._article_request(entry, dont_filter=refetch or not self.distributed))

    def _inc(self, key: str, count: int = 1) -> None:
        # no crawler when ``newscrawl schedule`` builds requests with the spider
        crawler = getattr(self, "crawler", None)
        if crawler is not None:
            crawler.stats.inc_value(f"newscrawl/{key}", count)

    async def start(self) -> AsyncIterator[Request | FetchFailure]:
        if self.distributed:
            return  # workers take their requests from the shared queue
        # The record's backlog first: the per-run cap admits in this order, oldest work first.
        for request in await self._pending_from_database():
            yield request
        polls = await self._conditional_polls()
        for source in self.outlet.sources:
            request = self._source_request(source.url, source.kind, depth=0)
            if polls is not None and source.kind != "robots":
                polls.prepare(request)
            yield request

    async def _pending_from_database(self) -> list[Request | FetchFailure]:
        """URLs the database says are due: discovered but never stored (in flight when an
        earlier run died), failed fewer than NEWSCRAWL_MAX_ATTEMPTS times, or stored and due
        again by the NEWSCRAWL_REFETCH_AFTER schedule or because their declared modification
        date moved (NEWSCRAWL_REFETCH_WHILE_MODIFIED)."""
        settings = self.crawler.settings
        if not settings.getbool("NEWSCRAWL_RECORD_DISCOVERED"):
            return []
        refetch = runtime.refetch_policy(settings)
        pending = await asyncio.wrap_future(
            runtime.db_writer().submit(
                pending_urls,
                runtime.database(settings),
                self.outlet.id,
                settings.getint("NEWSCRAWL_MAX_ATTEMPTS"),
                self.max_articles,
                refetch.schedule,
                refetch.follow,
            )
        )
        requests: list[Request | FetchFailure] = []
        for _canonical, meta in pending:
            entry = Discovery.from_meta(meta)
            requests.extend(self._article_request(entry))
        self._inc("discovery/from_record", sum(isinstance(r, Request) for r in requests))
        return requests

    def _source_request(self, url: str, kind: str, depth: int) -> Request:
        """A feed's or sitemap's request; ``ValueError`` for a URL that cannot be one."""
        request = Request(
            url,
            callback=self.parse_source,
            errback=self.source_failed,
            meta={"source_kind": kind, "sitemap_depth": depth},
            priority=10,  # discover before fetching articles, so caps apply in order
        )
        check_url(request.url)  # as sent: percent-encoded, so perhaps longer than written
        return request

    # -- sources -------------------------------------------------------------------------------

    async def _parse_off_reactor(self, fn: Any, *args: Any) -> Any:
        """Feed and sitemap parsing runs in the worker pool under a wall-clock budget:
        feedparser has quadratic corners (a 64 KB <author> takes seconds) and a big sitemap
        is real CPU work that must not stall the reactor."""
        return await runtime.run_in_pool(
            self.crawler.settings, fn, *args, timeout=self.parse_timeout
        )

    async def parse_source(self, response: Response) -> AsyncIterator[Request | FetchFailure]:
        kind = response.meta["source_kind"]
        self._inc("source/ok")
        self._inc(f"source/{kind}/fetched")
        if self.polls is not None and (same := self.polls.unchanged(response)):
            self._inc(f"source/{same}")  # not_modified (304) or unchanged (same body)
            return
        if kind == "robots":
            for url in self._capped(sitemaps_from_robots(response.body, response.url)):
                for request in self._sitemap_request(url, 0, response.meta):
                    yield request
            return
        # Decompressing (.xml.gz) and parsing both happen in the worker pool.
        try:
            if kind in FEED_KINDS:
                result = await self._parse_off_reactor(
                    parse_feed, response.body, response.url, kind
                )
            elif kind in PAGE_KINDS:
                result = await self._parse_off_reactor(
                    parse_links, response.body, response.url, kind
                )
            else:
                result = await self._parse_off_reactor(
                    parse_sitemap_bytes, response.body, response.url, kind, self.max_source_bytes
                )
        except FutureTimeout:
            self._inc("source/parse_timeout")
            self._source_invalid(response, f"parsing took over {self.parse_timeout:g} s")
            return
        except Exception as exc:  # a parser crash on hostile bytes: this source only
            self._source_invalid(response, f"{type(exc).__name__}: {exc}")
            return
        if kind in FEED_KINDS or kind in PAGE_KINDS:
            family = "feed" if kind in FEED_KINDS else "links"  # a homepage's links
            for reason, count in result.skipped.items():
                self._inc(f"{family}/entries_skipped/{reason}", count)
            if not result.valid:
                self._source_invalid(response, result.error or "not a feed")
                return
            self._inc(f"{family}/entries", len(result.entries))
        else:
            for reason, count in result.skipped.items():
                self._inc(f"sitemap/entries_skipped/{reason}", count)
            if result.kind == "invalid":
                self._source_invalid(response, result.error or "not a sitemap")
                return
            depth = response.meta.get("sitemap_depth", 0)
            for url in self._capped(result.sitemaps):
                for request in self._sitemap_request(url, depth + 1, response.meta):
                    yield request
            self._inc("sitemap/entries", len(result.entries))
        for entry in result.entries:
            for obj in self.article_requests(entry):
                yield obj
        # a sitemap index is read every run: its children change while it stays the same
        if self.polls is not None and not getattr(result, "sitemaps", None):
            self.polls.parsed(response)

    def _source_invalid(self, response: Response, why: str) -> None:
        self._inc("source/invalid")
        logger.warning("%s: source %s skipped: %s", self.name, response.url, why)
        self._record_poll_error(response.meta, "invalid", None)

    def _capped(self, urls: list[str]) -> list[str]:
        """A one-off crawl caps the sitemaps of its whole run (``_sitemap_request``); a
        long-running worker, whose lifetime has no end to count to, caps each sitemap's
        children."""
        if not self.distributed or len(urls) <= self.max_sitemaps:
            return urls
        self._inc("sitemap/cap_reached", len(urls) - self.max_sitemaps)
        return urls[: self.max_sitemaps]

    def _sitemap_request(
        self, url: str, depth: int, parent_meta: dict[str, Any]
    ) -> Iterator[Request]:
        if depth > self.max_sitemap_depth:
            self._inc("sitemap/too_deep")
            return
        if not self.distributed and self._sitemaps_seen >= self.max_sitemaps:
            self._inc("sitemap/cap_reached")
            return
        try:
            request = self._source_request(url, "sitemap", depth)
        except ValueError as exc:  # this link only: its siblings are still followed
            reason = exc.reason if isinstance(exc, BadUrl) else "bad_url"
            self._inc(f"sitemap/{reason}")
            logger.warning(
                "%s: sitemap link %s skipped: %s (%s)", self.name, url[:200], reason, exc
            )
            return
        if not self.distributed:
            self._sitemaps_seen += 1
        if "poll_seq" in parent_meta:  # a sitemap under a polled source is part of that poll
            request.meta.update(
                poll_root=parent_meta["poll_root"], poll_seq=parent_meta["poll_seq"]
            )
        yield request

    def source_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        reason, detail = failure_reason(failure)
        if reason == INTERRUPTED:  # not sent: the crawl is stopping
            self._inc("source/not_sent_stopping")
            return
        self._inc("source/failed")
        self._inc(f"source/failed/{reason}")
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats.get_value(FIRST_SOURCE_FAILURE) is None:
            # kept for the run's row and summary: which source failed first, and why
            crawler.stats.set_value(FIRST_SOURCE_FAILURE, f"{request.url}: {detail[:300]}")
        logger.error(
            "%s: could not fetch source %s: %s (%s)", self.name, request.url, reason, detail
        )
        retry_after = None
        if isinstance(failure.value, HttpError):
            retry_after = retry_after_seconds(
                failure.value.response.headers.get(b"Retry-After"), utcnow()
            )
        self._record_poll_error(request.meta, reason, retry_after)

    # -- articles ------------------------------------------------------------------------------

    def _article_request(
        self, entry: Discovery, *, dont_filter: bool = True
    ) -> Iterator[Request | FetchFailure]:
        """The entry's request, or nothing (not an article, or repeated in this run), or a
        ``FetchFailure`` when its URL cannot be requested: that entry is recorded as failed
        and skipped, and its source's other entries are not affected."""
        try:
            canonical = canonical_url(entry.url)
        except ValueError as exc:
            yield self._bad_url(entry.url, exc)
            return
        if not self.outlet.is_article_url(canonical):
            self._inc("discovery/not_article")
            return
        # A worker's lifetime has no end: the shared seen-set and the database stand in for
        # this per-run set there. The per-run cap on new work is the record's to apply
        # (crawler.middlewares.known_urls.KnownUrlFilter): only it knows what is stored.
        if not self.distributed:
            if canonical in self._requested:
                self._inc("discovery/repeated")
                return
            self._requested.add(canonical)
        try:
            request = Request(
                entry.url,
                callback=self.parse_article,
                errback=self.article_failed,
                meta={"discovery": entry.to_meta(), "canonical_url": canonical},
                # One crawl deduplicates above by canonical URL; Scrapy's dupefilter would
                # silently drop a redirect back to a seen URL (a loop) and leave no reason
                # behind. Workers pass False: the shared seen-set keeps two of them off one URL.
                dont_filter=dont_filter,
            )
            # as sent (tracking parameters kept, percent-encoded): Scrapy's URLLENGTH_LIMIT
            # would drop a longer one silently, after it was recorded as discovered
            check_url(request.url)
        except ValueError as exc:  # Request() is the last judge of what can be fetched
            yield self._bad_url(entry.url, exc)
            return
        self._inc("discovery/articles")
        yield request

    def _bad_url(self, url: str, exc: ValueError) -> FetchFailure:
        reason = exc.reason if isinstance(exc, BadUrl) else "bad_url"
        self._inc(f"discovery/{reason}")
        logger.debug("%s: article link %s skipped: %s (%s)", self.name, url[:200], reason, exc)
        return FetchFailure(self.outlet.id, url, reason, str(exc)[:500])

    # Article callbacks return lists, not generators: Scrapy re-reads a generator callback's source
    # (inspect + ast) on every response to warn about return values, a few ms per article.
    def parse_article(self, response: Response) -> list[ArticleItem | FetchFailure]:
        discovery = Discovery.from_meta(response.meta["discovery"])
        # URL state is keyed by canonical URL, as the discovery record is
        canonical = response.meta["canonical_url"]
        content_type = (response.headers.get(b"Content-Type") or b"").lower()
        if not isinstance(response, TextResponse) or (
            content_type and not content_type.startswith(HTML_TYPES)
        ):
            return [
                FetchFailure(
                    self.outlet.id, canonical, "not_html", content_type.decode("latin-1")[:100]
                )
            ]
        if looks_binary(response.body):
            return [FetchFailure(self.outlet.id, canonical, "binary_body", "NUL/control bytes")]
        try:  # not response.text: its charset label is believed even when the bytes say not
            decoded = decode_html(response.body, charset_from_content_type(content_type))
        except Undecodable as exc:
            return [FetchFailure(self.outlet.id, canonical, "undecodable", exc.detail)]
        self._inc(f"decode/{decoded.evidence}")
        html = decoded.text
        item = ArticleItem(
            outlet_id=self.outlet.id,
            url=discovery.url,
            response_url=response.url,
            html=html,
            fetched_at=utcnow(),
            discovery=discovery,
            declared_canonical=declared_canonical(html[:65536], response.url),
        )
        return [item]

    def article_failed(self, failure: Failure) -> list[FetchFailure]:
        reason, detail = failure_reason(failure)
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy on errbacks
        url = request.meta.get("canonical_url") or request.url  # the key of its URL state
        if reason == INTERRUPTED:  # not sent: the crawl is stopping; it stays discovered
            self._inc("article/not_sent_stopping")
            return []
        self._inc(f"article/failed/{reason}")
        logger.debug("%s: article %s not fetched: %s", self.name, url, reason)
        return [FetchFailure(self.outlet.id, url, reason, detail)]


def spider_class_for(outlet: Outlet) -> type[OutletSpider]:
    """A spider class named after the outlet, with the outlet's politeness as its settings."""
    delay = outlet.politeness.download_delay
    attrs: dict[str, Any] = {
        "name": outlet.id,
        "outlet": outlet,
        "allowed_domains": list(outlet.allowed_domains),
        "custom_settings": {
            "DOWNLOAD_DELAY": delay,
            "AUTOTHROTTLE_START_DELAY": max(delay, 0.5) if delay else 0.0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": outlet.politeness.concurrency,
        },
        "__module__": __name__,
    }
    class_name = "".join(part.capitalize() for part in outlet.id.split("_")) + "Spider"
    return type(class_name, (OutletSpider,), attrs)
