"""Distributed mode: many worker processes on many machines, one Redis, one database.

- The request queue and the seen-set are scrapy-redis's scheduler and dupefilter, one queue per
  outlet (``<prefix>:<outlet>:requests``), selected by settings alone (``distributed_settings``).
- ``schedule`` (``newscrawl schedule``) is the only thing that puts sources in the queues: the
  due feeds and sitemaps (adaptive polling, ``crawler.polling``) and the article URLs the
  database says were discovered but never stored (a worker died holding them) or failed fewer
  than ``NEWSCRAWL_MAX_ATTEMPTS`` times; then stored articles due again (the refetch schedule,
  following a moved modification date: ``runtime.refetch_policy``), each claimed as it is sent.
- The seen-set in Redis only saves fetches. It expires (``NEWSCRAWL_SEEN_TTL``) and may be lost
  with Redis: URL state in the database stays the record, and what it says is pending is sent
  again past the seen-set.
- Dedup uses the database's band table (``NEWSCRAWL_DEDUP_INDEX = "database"``), so every worker
  sees every other worker's articles; see ``storage.bands.lock_keys``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler.dates import utcnow
from crawler.items import Discovery, FetchFailure
from crawler.polling import plan
from crawler.registry import Outlet

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "newscrawl"


def distributed_settings(redis_url: str, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The settings that make a crawler a distributed worker (no code change needed)."""
    return {
        "NEWSCRAWL_REDIS_URL": redis_url,
        "NEWSCRAWL_REDIS_PREFIX": prefix,
        "NEWSCRAWL_DISTRIBUTED": True,
        "NEWSCRAWL_DEDUP_INDEX": "database",
        "REDIS_URL": redis_url,
        "SCHEDULER": "crawler.distributed.SharedQueueScheduler",
        "SCHEDULER_PERSIST": True,  # the queue outlives any one worker
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:seen",
        "DUPEFILTER_CLASS": "crawler.distributed.ExpiringSeenFilter",
    }


def queue_key(prefix: str, outlet_id: str) -> str:
    return f"{prefix}:{outlet_id}:requests"


class ExpiringSeenFilter(RFPDupeFilter):  # type: ignore[misc]  # scrapy-redis has no types
    """scrapy-redis's seen-set, keyed by the article's canonical URL (tracking parameters and
    http/https variants are one article), and expiring: the set is dropped
    ``NEWSCRAWL_SEEN_TTL`` seconds after it was started, so it never grows without bound. What
    it forgets, the database still knows (stored URLs are skipped by ``KnownUrlFilter``)."""

    ttl = 86400

    @classmethod
    def from_spider(cls, spider: Any) -> ExpiringSeenFilter:
        instance: ExpiringSeenFilter = super().from_spider(spider)
        instance.ttl = spider.settings.getint("NEWSCRAWL_SEEN_TTL", cls.ttl)
        return instance

    def request_fingerprint(self, request: Any) -> str:
        key = request.meta.get("canonical_url") or request.url
        return hashlib.sha1(f"{request.method} {key}".encode()).hexdigest()

    def request_seen(self, request: Any) -> bool:
        pipe = self.server.pipeline(transaction=False)
        pipe.sadd(self.key, self.request_fingerprint(request))
        pipe.expire(self.key, self.ttl, nx=True)  # one round trip for both
        added, _ = pipe.execute()
        return bool(added == 0)


class SharedQueueScheduler(RedisScheduler):  # type: ignore[misc]  # scrapy-redis has no types
    """scrapy-redis's scheduler, taking from the shared queue only what this process can work
    on soon. Scrapy pulls requests until its downloader is full (``CONCURRENT_REQUESTS``) and
    loopback or fast sites answer in milliseconds: the first worker to see a feed would take
    its whole list and leave the other workers idle while its extraction pool works through it.
    Here a crawler takes no request while the process's extraction backlog plus its own
    downloads reach ``NEWSCRAWL_WORKER_PREFETCH`` (default: four per extraction process)."""

    crawler: Any = None
    prefetch = 8

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedQueueScheduler:
        from crawler import runtime

        instance: SharedQueueScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        configured = crawler.settings.getint("NEWSCRAWL_WORKER_PREFETCH")
        instance.prefetch = configured or 4 * runtime.extraction_workers(crawler.settings)
        return instance

    def next_request(self) -> Any:
        from crawler import runtime

        engine = self.crawler.engine if self.crawler is not None else None
        downloading = len(engine.downloader.active) if engine is not None else 0
        if runtime.extraction_backlog + downloading >= self.prefetch:
            return None  # the engine asks again as each request in hand completes
        return super().next_request()


@dataclass
class ScheduleReport:
    sources: dict[str, int] = field(default_factory=dict)  # plan reason -> count
    enqueued_sources: int = 0
    enqueued_articles: int = 0
    enqueued_refetches: int = 0  # of the articles: stored ones due again
    bands_backfilled: int = 0
    bands_pruned: int = 0

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.sources.items()))
        return (
            f"scheduled {self.enqueued_sources} source polls and {self.enqueued_articles} "
            f"article URLs, {self.enqueued_refetches} of them refetches "
            f"({reasons or 'no sources'})"
        )


class Scheduler:
    """Puts due work in the outlets' Redis queues; one pass per ``run``."""

    def __init__(self, settings: Any, outlets: dict[str, Outlet]) -> None:
        import redis
        from scrapy_redis import picklecompat
        from scrapy_redis.queue import PriorityQueue

        from crawler import runtime
        from spiders.outlet import spider_class_for

        self.settings = settings
        self.outlets = outlets
        self.db = runtime.database(settings)
        self.prefix = settings.get("NEWSCRAWL_REDIS_PREFIX") or DEFAULT_PREFIX
        self.server = redis.Redis.from_url(settings.get("NEWSCRAWL_REDIS_URL"))
        self.server.ping()  # fail now, clearly, not at the first push
        self.lease = settings.getfloat("NEWSCRAWL_POLL_LEASE")
        self.reschedule_after = settings.getfloat("NEWSCRAWL_RESCHEDULE_AFTER")
        self.max_attempts = settings.getint("NEWSCRAWL_MAX_ATTEMPTS")
        self.refetch = runtime.refetch_policy(settings)
        self.batch = settings.getint("NEWSCRAWL_MAX_ARTICLES_PER_RUN")
        self.spiders = {}
        self.queues = {}
        for outlet_id, outlet in outlets.items():
            # Requests are serialised as scrapy-redis does in a worker: callbacks by name.
            spider = spider_class_for(outlet)()
            spider.distributed = True
            self.spiders[outlet_id] = spider
            self.queues[outlet_id] = PriorityQueue(
                server=self.server,
                spider=spider,
                key=queue_key(self.prefix, outlet_id),
                serializer=picklecompat,
            )

    def maintain_index(self, report: ScheduleReport) -> None:
        """Keep the shared dedup index to the window: old keys out, missing keys in."""
        from crawler import runtime
        from pipelines.dedup.rebuild import backfill_bands
        from pipelines.dedup.store import ensure_scheme
        from storage import bands

        params = runtime.dedup_params(self.settings)
        scheme_id = ensure_scheme(self.db, params)
        window = self.settings.getfloat("NEWSCRAWL_DEDUP_WINDOW_DAYS")
        report.bands_pruned = bands.prune_bands(self.db, window)
        report.bands_backfilled = backfill_bands(self.db, scheme_id, params, window)

    def run(self, now: datetime | None = None) -> ScheduleReport:
        from storage.sources import save_source_plan, source_states
        from storage.url_state import claim_due_refetches, claim_pending_urls, record_failure

        now = now or utcnow()
        report = ScheduleReport()
        for outlet_id, outlet in self.outlets.items():
            spider, queue = self.spiders[outlet_id], self.queues[outlet_id]
            states = source_states(self.db, outlet_id)
            for source in outlet.sources:
                if source.url not in states:
                    continue  # not synced yet: the next run has it
                source_id, state = states[source.url]
                decision = plan(state, source.polling, now, self.lease)
                report.sources[decision.reason] = report.sources.get(decision.reason, 0) + 1
                if decision.state == state:
                    continue
                if not save_source_plan(self.db, source_id, state, decision.state):
                    continue  # another scheduler got there first
                if decision.enqueue:
                    queue.push(spider.poll_request(source, decision.state.poll_seq))
                    report.enqueued_sources += 1
            pending = claim_pending_urls(
                self.db, outlet_id, self.max_attempts, self.reschedule_after, self.batch
            )
            # then, within the same cap, stored articles due again (as in a single crawl)
            refetches = claim_due_refetches(
                self.db,
                outlet_id,
                self.refetch.schedule,
                self.batch - len(pending),
                now,
                self.refetch.follow,
            )
            for due, metas in ((False, pending), (True, refetches)):
                for _url, meta in metas:
                    entry = Discovery.from_meta(meta)
                    for request in spider.article_requests(entry, refetch=True):
                        if isinstance(request, FetchFailure):  # a URL that cannot be requested
                            record_failure(
                                self.db, outlet_id, request.url, request.reason, request.detail
                            )
                            continue
                        queue.push(request)
                        report.enqueued_articles += 1
                        report.enqueued_refetches += due
        return report

    def queued(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def close(self) -> None:
        self.server.close()
