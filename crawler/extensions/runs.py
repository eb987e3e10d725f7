"""Crawl-run bookkeeping: the outlet's row and sources are recorded when its spider opens, and one
crawl-run row per spider run says when, what happened and whether it succeeded."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import runtime
from crawler.failures import run_failure
from storage.outlets import sync_outlets
from storage.runs import finish_run, mark_abandoned_runs, start_run
from storage.url_state import pending_count

logger = logging.getLogger(__name__)

#: the stats key holding why the run failed (also its row's message)
RUN_FAILURE = "newscrawl/run_failure"
#: close reasons that mean "the run did its job"
SUCCESS_REASONS = frozenset({"finished"})
INTERRUPTED_REASONS = frozenset({"shutdown", "cancelled"})
#: closed by RunTimeLimit: the run did its job within its budget, the rest is on record
TIME_LIMIT_REASON = "time_limit"


def run_status(close_reason: str, stats: dict[str, Any]) -> tuple[str, int]:
    """(status, exit code) for a finished spider: 0 finished (or stopped at its time limit,
    status ``time_limit``), 1 failed, 2 interrupted."""
    if stats.get("newscrawl/storage_error") or close_reason == "storage_error":
        return "failed", 1
    if stats.get("newscrawl/warc_error") or close_reason == "warc_error":
        return "failed", 1
    if stats.get("newscrawl/source/failed") and not stats.get("newscrawl/source/ok"):
        return "failed", 1  # not one source answered: the outlet was not crawled at all
    if close_reason in SUCCESS_REASONS:
        return "finished", 0
    if close_reason == TIME_LIMIT_REASON:
        return "time_limit", 0
    if close_reason in INTERRUPTED_REASONS:
        return "interrupted", 2
    return "failed", 1


def _counts(stats: dict[str, Any]) -> dict[str, Any]:
    """A run row's counters, from the crawler's stats."""

    def n(key: str) -> int:
        return int(stats.get(key, 0))

    return {
        "pages_fetched": n("downloader/response_count"),
        "articles_discovered": n("newscrawl/discovery/articles")
        + n("newscrawl/discovery/known_skipped"),
        "articles_stored": n("newscrawl/store/created") + n("newscrawl/store/updated"),
        "articles_unchanged": n("newscrawl/store/unchanged"),
        "known_skipped": n("newscrawl/discovery/known_skipped"),
        "duplicates": n("newscrawl/dedup/duplicates"),
        "failed": n("newscrawl/store/failures_recorded"),
    }


class CrawlRunRecorder:
    #: recorders of this process whose run is open, for ``record_stopped_at_once``
    open: ClassVar[set[CrawlRunRecorder]] = set()

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlRunRecorder:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        outlet = getattr(spider, "outlet", None)
        if outlet is None:
            return
        db = runtime.database(self.crawler.settings)
        sync_outlets(db, [outlet.record()])
        gone = mark_abandoned_runs(db)  # runs of killed crawls, found at the next start
        if gone:
            logger.warning(
                "crawl runs %s were left running by processes that are gone: marked abandoned",
                ", ".join(map(str, gone)),
            )
        self.run_id = start_run(db, outlet.id)
        CrawlRunRecorder.open.add(self)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats.get_stats()
        status, exit_code = run_status(reason, stats)
        self.crawler.stats.set_value("newscrawl/exit_code", exit_code)
        counts = _counts(stats)
        db = runtime.database(self.crawler.settings)
        message = run_failure(reason, stats)
        if status == "failed" and message is None:
            message = f"closed: {reason}"
        if message is not None:
            self.crawler.stats.set_value(RUN_FAILURE, message)
        try:
            if reason == TIME_LIMIT_REASON:
                pending = pending_count(
                    db, spider.outlet.id, self.crawler.settings.getint("NEWSCRAWL_MAX_ATTEMPTS")
                )
                limit = self.crawler.settings.getfloat("NEWSCRAWL_RUN_TIME_LIMIT")
                message = (
                    f"stopped at the run time limit ({limit:g} s): {pending} URLs pending "
                    "for the next run"
                )
                logger.warning("%s: %s", spider.name, message)
            finish_run(
                db,
                self.run_id,
                status=status,
                close_reason=reason,
                exit_code=exit_code,
                message=message,
                **counts,
            )
        except Exception as exc:  # the database may be what failed; say so, do not hide it
            logger.error("could not record the end of crawl run %s: %s", self.run_id, exc)
        CrawlRunRecorder.open.discard(self)
        if status == "failed":
            logger.error("%s: run %s failed: %s", spider.name, self.run_id, message)
        logger.info(
            "%s: run %s %s (%s): stored %d, unchanged %d, known skipped %d, failed %d",
            spider.name,
            self.run_id,
            status,
            reason,
            counts["articles_stored"],
            counts["articles_unchanged"],
            counts["known_skipped"],
            counts["failed"],
        )


def record_stopped_at_once(reason: str) -> int:
    """Record every run of this process still open as ``interrupted`` (exit 2), when the crawl
    is stopped at once (a second SIGINT) and no spider will close. Runs on its own connections:
    the process's pool may be held by the code the signal interrupted. Returns how many."""
    from storage.db import Database
    from storage.location import database_url

    recorded = 0
    by_url: dict[str, Database] = {}
    try:
        for rec in list(CrawlRunRecorder.open):
            if rec.run_id is None:
                continue
            url = database_url(rec.crawler.settings.get("NEWSCRAWL_DATABASE_URL"))
            if url not in by_url:
                by_url[url] = Database(url, migrate=False)
            rec.crawler.stats.set_value("newscrawl/exit_code", 2)
            finish_run(
                by_url[url],
                rec.run_id,
                only_if_running=True,
                status="interrupted",
                close_reason=reason,
                exit_code=2,
                **_counts(rec.crawler.stats.get_stats()),
            )
            recorded += 1
    finally:
        for db in by_url.values():
            db.dispose()
    return recorded


class RunTimeLimit:
    """A run ends within ``NEWSCRAWL_RUN_TIME_LIMIT`` seconds (0: no limit): then its spider is
    closed with reason ``time_limit``. Nothing more is downloaded; downloads in flight end
    (within ``DOWNLOAD_TIMEOUT``) and are recorded; the URLs not reached stay on record as
    discovered (or failed), so the next run's pending list fetches them. Scrapy's
    ``CLOSESPIDER_TIMEOUT`` does the same under another close reason; this one has a
    newscrawl name and the run row and exit status that go with it. Distributed workers run
    until stopped, so they have no limit."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.limit = crawler.settings.getfloat("NEWSCRAWL_RUN_TIME_LIMIT")
        if self.limit <= 0 or crawler.settings.getbool("NEWSCRAWL_DISTRIBUTED"):
            raise NotConfigured
        self._timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunTimeLimit:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.limit, self._expire)

    def _expire(self) -> None:
        self.crawler.stats.set_value("newscrawl/run_time_limit", self.limit)
        logger.warning("run time limit of %g s reached: closing the spider", self.limit)
        self._closing = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason=TIME_LIMIT_REASON)
        )

    def spider_closed(self, spider: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
