"""The outlet spider's part as a worker of the distributed mode: it takes its requests from
the shared Redis queue (``newscrawl schedule`` fills it), waits on it while idle, and records a
polled source's failure so the schedule can back off."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Any, ClassVar

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from twisted.internet.task import LoopingCall

from crawler import runtime
from crawler.registry import Outlet, Source
from storage.sources import record_poll

logger = logging.getLogger(__name__)


class SharedQueueWorker:
    """Mixed into ``OutletSpider``; active when ``distributed`` is set."""

    name: str
    crawler: Any
    outlet: ClassVar[Outlet]
    #: a worker of the distributed mode: requests come from the shared queue, not start()
    distributed: bool = False
    #: close after the queue has been empty this many seconds (None: never)
    until_idle: float | None = None
    #: how often an idle worker looks at the shared queue (seconds)
    queue_check: float = 1.0
    _idle_since: float | None = None
    _queue_watch: LoopingCall | None = None

    def _source_request(self, url: str, kind: str, depth: int) -> Request:
        raise NotImplementedError  # the spider's

    def connect_worker(self, crawler: Any) -> None:
        settings = crawler.settings
        until_idle = settings.get("NEWSCRAWL_WORKER_UNTIL_IDLE")
        self.until_idle = None if until_idle in (None, "") else float(until_idle)
        self.queue_check = settings.getfloat("NEWSCRAWL_WORKER_QUEUE_CHECK")
        crawler.signals.connect(self._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(self._on_response, signal=signals.response_received)
        crawler.signals.connect(self._watch_queue, signal=signals.spider_opened)
        crawler.signals.connect(self._unwatch_queue, signal=signals.spider_closed)

    def _on_response(self, **_kwargs: Any) -> None:
        self._idle_since = None

    def _watch_queue(self) -> None:
        self._queue_watch = LoopingCall(self._wake_if_queued)
        self._queue_watch.start(self.queue_check, now=False)

    def _unwatch_queue(self) -> None:
        if self._queue_watch is not None and self._queue_watch.running:
            self._queue_watch.stop()

    def _wake_if_queued(self) -> None:
        """An idle engine looks at its scheduler only at its heartbeat (5 s); a worker looks at
        the shared queue every ``queue_check`` seconds. A request found there while nothing is
        downloading is handed to the engine (its public ``crawl``), which wakes it; it was let
        through the seen-set once already, so it passes it again."""
        engine = self.crawler.engine
        scheduler = engine.scheduler if engine is not None else None
        if scheduler is None or engine.downloader.active or not scheduler.has_pending_requests():
            return
        request = scheduler.next_request()
        if request is not None:
            engine.crawl(request.replace(dont_filter=True))

    def _on_idle(self) -> None:
        """A worker waits for the shared queue: it stays open while idle (scrapy-redis's
        scheduler is asked again at every engine heartbeat), or until ``until_idle`` seconds
        of an empty queue when it was started to drain the queue and exit."""
        if self.until_idle is None:
            raise DontCloseSpider
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.until_idle:
            raise DontCloseSpider

    def poll_request(self, source: Source, seq: int) -> Request:
        """Poll number ``seq`` of a source, for the shared queue (``newscrawl schedule``)."""
        request = self._source_request(source.url, source.kind, depth=0)
        request.meta.update(poll_root=source.url, poll_seq=seq)
        return request

    def _record_poll_error(
        self, meta: dict[str, Any], error: str, retry_after: float | None
    ) -> None:
        if not self.distributed or "poll_seq" not in meta:
            return
        future = runtime.db_writer().submit(
            record_poll,
            runtime.database(self.crawler.settings),
            self.outlet.id,
            meta["poll_root"],
            meta["poll_seq"],
            error=error,
            retry_after=retry_after,
        )
        future.add_done_callback(self._poll_error_recorded)

    def _poll_error_recorded(self, future: Future[None]) -> None:
        # not awaited (an errback may not be async), but a failed write is said, not lost
        if future.exception() is not None:
            logger.error("%s: could not record a failed poll: %s", self.name, future.exception())
