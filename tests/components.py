"""A harness for component tests: the project's real Scrapy components (spider, downloader and
spider middlewares), built from a throwaway crawler (``scrapy.utils.test.get_crawler``) with the
project's settings, driven by hand-made responses. Nothing touches the network: host names
resolve from a table and downloads are answered from a dict, while requests and redirect hops
go through the real downloader middleware chain, as the engine sends them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

from scrapy import Request, signals
from scrapy.core.downloader import Slot
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.core.spidermw import SpiderMiddlewareManager
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

import crawler.settings as project_settings_module
from crawler.registry import Outlet, Politeness, Source
from spiders.outlet import OutletSpider, spider_class_for

T = TypeVar("T")

#: host name -> address for the harness; 198.51.100.0/24 (TEST-NET-2) is allowed in the
#: settings below, so the address policy runs on every request without refusing these
HOSTS = {
    "news.example": "198.51.100.1",
    "www.news.example": "198.51.100.1",
    "cdn.news.example": "198.51.100.2",
    "other.example": "198.51.100.9",
    "robots-home.example": "198.51.100.10",
    "internal.news.example": "10.0.0.5",
}


#: the thread that owns the reactor's asyncio loop: the session's Playwright browser (the
#: browser tests) keeps a loop running on the main thread, where no other loop may run
_loop_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-loop")


def _install_reactor() -> Any:
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed
    from twisted.internet import error

    with contextlib.suppress(error.ReactorAlreadyInstalledError):
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    assert is_asyncio_reactor_installed()
    from twisted.internet import defer
    from twisted.internet import reactor as installed

    def resolve(name: str, timeout: Any = ()) -> Any:
        if name in HOSTS:
            return defer.succeed(HOSTS[name])
        return defer.fail(OSError(f"harness: unknown host {name}"))

    installed.resolve = resolve
    return installed


def reactor() -> Any:
    """The asyncio reactor, installed once in the test process on the harness's loop thread
    (Scrapy's components await Twisted deferreds and asyncio futures on its loop)."""
    return _loop_thread.submit(_install_reactor).result()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the reactor's asyncio loop, on the loop's thread (the reactor itself
    is never started)."""
    loop: asyncio.AbstractEventLoop = reactor()._asyncioEventloop
    return _loop_thread.submit(loop.run_until_complete, coro).result()


OUTLET = Outlet(
    id="probe",
    name="Probe",
    homepage="https://news.example/",
    language="en",
    allowed_domains=("news.example",),
    sources=(Source("rss", "https://news.example/rss.xml"),),
    article_url_patterns=("/news/",),
    politeness=Politeness(download_delay=0.0, concurrency=4),
)


def project_settings(**overrides: Any) -> dict[str, Any]:
    """crawler/settings.py as a dict, with test overrides."""
    names = [n for n in dir(project_settings_module) if n.isupper()]
    values = {n: getattr(project_settings_module, n) for n in names}
    values["NEWSCRAWL_ALLOWED_ADDRESSES"] = ["198.51.100.0/24"]
    return {**values, **overrides}


@dataclass
class Page:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: Exception | None = None  # raised by the "download" instead of a response


@dataclass
class Web:
    """URL -> answer; every download is logged. Unknown URLs answer 404."""

    pages: dict[str, Page] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def add(
        self,
        url: str,
        body: bytes | str = b"",
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        **headers: str,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[url] = Page(status, {"Content-Type": content_type, **headers}, data)
        return url

    def redirect(self, url: str, to: str, status: int = 302) -> str:
        self.pages[url] = Page(status, {"Location": to}, b"")
        return url

    def fail(self, url: str, error: Exception) -> str:
        self.pages[url] = Page(error=error)
        return url

    def count(self, url: str) -> int:
        return self.log.count(url)

    async def download(self, request: Request) -> Response:
        self.log.append(request.url)
        page = self.pages.get(request.url, Page(404, {"Content-Type": "text/html"}, b"gone"))
        if page.error is not None:
            raise page.error
        cls = responsetypes.from_args(headers=page.headers, url=request.url, body=page.body)
        return cls(
            request.url, status=page.status, headers=page.headers, body=page.body, request=request
        )


class FakeEngine:
    """What the components ask of the engine: ``download_async`` (robots.txt) runs a request
    through the downloader middlewares, following the requests they return."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.closed: list[str] = []
        # the downloader's slots (one per host, as Scrapy's); AutoThrottle sets _delay
        self.downloader = SimpleNamespace(slots={}, _delay=0.0)

    async def download_async(self, request: Request) -> Response:
        while True:
            result = await self.harness.downloader.download_async(self.harness.enqueue, request)
            if isinstance(result, Response):
                return result
            request = result

    async def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.closed.append(reason)


@dataclass
class Harness:
    crawler: Any
    spider: OutletSpider
    web: Web
    downloader: DownloaderMiddlewareManager
    spidermw: SpiderMiddlewareManager
    components: dict[str, Any] = field(default_factory=dict)
    dropped: list[Request] = field(default_factory=list)

    def schedule(self, request: Request) -> bool:
        """What ``engine.crawl`` does before queueing: the request_scheduled signal, whose
        handlers may drop the request (silently, as the engine does)."""
        results = self.crawler.signals.send_catch_log(
            signals.request_scheduled, request=request, spider=self.spider, dont_log=IgnoreRequest
        )
        for _, result in results:
            if isinstance(result, Failure) and isinstance(result.value, IgnoreRequest):
                self.dropped.append(request)
                return False
        return True

    async def enqueue(self, request: Request) -> Response:
        """What the downloader does once the middlewares let a request through: its host's
        slot (made with the crawl's delay if new), the request_reached_downloader signal,
        then the download."""
        slots = self.crawler.engine.downloader.slots
        key = urlparse_cached(request).hostname or ""
        if key not in slots:
            settings = self.crawler.settings
            slots[key] = Slot(
                settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                settings.getfloat("DOWNLOAD_DELAY"),
            )
        request.meta["download_slot"] = key
        self.crawler.signals.send_catch_log(
            signal=signals.request_reached_downloader, request=request, spider=self.spider
        )
        return await self.web.download(request)

    async def start(self) -> list[Any]:
        """The spider's start output, through the spider middlewares."""
        start = await self.spidermw.process_start()
        assert start is not None
        return [x async for x in start]

    async def scrape(self, response: Response) -> list[Any]:
        """A response's callback output, through the spider middlewares (as the scraper)."""
        assert response.request is not None
        chain = await self.spidermw.scrape_response_async(
            self._call_spider, response, response.request
        )
        return [x async for x in chain]

    async def _call_spider(self, result: Response | Failure, request: Request) -> Any:
        if isinstance(result, Response):
            return (request.callback or self.spider.parse)(result)
        result.request = request  # type: ignore[attr-defined]  # as Scrapy does
        assert request.errback is not None, request
        return request.errback(result)

    async def fetch(self, request: Request) -> list[Any]:
        """Crawl one request as the engine would: scheduled, downloaded through the
        middlewares, each redirect hop scheduled again; then its callback's output through
        the spider middlewares, or its errback's (an empty list when a scheduling handler
        dropped it)."""
        while True:
            if not self.schedule(request):
                return []
            try:
                result = await self.downloader.download_async(self.enqueue, request)
            except Exception as exc:
                return list(await _maybe_async(await self._call_spider(Failure(exc), request)))
            if isinstance(result, Request):
                request = result
                continue
            return await self.scrape(result)

    async def crawl(self, requests: Iterable[Request]) -> list[Any]:
        out: list[Any] = []
        for request in requests:
            out.extend(await self.fetch(request))
        return out


async def _maybe_async(value: Any) -> Iterable[Any]:
    if value is None:
        return []
    if hasattr(value, "__aiter__"):
        return [x async for x in value]
    if asyncio.iscoroutine(value):
        return await _maybe_async(await value)
    return list(value)


async def _parse_inline(fn: Any, *args: Any) -> Any:
    return fn(*args)


async def collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in iterator]


async def aiter_of(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def build(
    outlet: Outlet = OUTLET,
    *,
    web: Web | None = None,
    db_url: str | None = None,
    components: Iterable[str] = (),
    **settings: Any,
) -> Harness:
    """A crawler for ``outlet`` with the project's settings (and ``settings``), its spider, its
    downloader and spider middleware chains (``db_url``: the database the latter record in;
    give one whenever spider output goes through them), the named ``components`` (spider middlewares, extensions:
    import paths) and a fake engine; then the spider_opened signal is sent."""
    reactor()
    if db_url is not None:
        settings["NEWSCRAWL_DATABASE_URL"] = db_url
    spidercls = spider_class_for(outlet)
    crawler = get_crawler(spidercls, project_settings(**settings))
    spider = spidercls.from_crawler(crawler)
    # Feeds and sitemaps are parsed in this process: the worker pool that runs them in a crawl
    # is not what these tests are about, and would cost seconds to start.
    spider._parse_off_reactor = _parse_inline  # type: ignore[method-assign]
    crawler.spider = spider
    downloader = DownloaderMiddlewareManager.from_crawler(crawler)
    spidermw = SpiderMiddlewareManager.from_crawler(crawler)
    built = {path: build_from_crawler(load_object(path), crawler) for path in components}
    harness = Harness(crawler, spider, web or Web(), downloader, spidermw, built)
    crawler.engine = FakeEngine(harness)
    run(crawler.signals.send_catch_log_async(signals.spider_opened, spider=spider))
    return harness
