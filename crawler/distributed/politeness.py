"""Shared politeness for distributed mode: one host's delay and concurrency hold across all
workers, not per worker (N workers used to reach an outlet N times as fast).

- **Delay**: before a request is downloaded, its worker claims the host's start in Redis,
  atomically (one Lua script): if ``now >= next``, ``next = now + delay`` and the request
  starts at once; otherwise the worker sleeps until ``next`` (an asyncio sleep: the reactor
  goes on) and asks again. ``now`` is Redis's own clock (``TIME``), so workers on machines
  whose clocks differ agree. Two requests to one host thus start at least ``delay`` apart
  whichever workers send them, less only the time from the claim to the request leaving (a
  Redis round trip and the worker's own dispatch); a claim answered later than 20 ms pushes
  ``next`` back to its answer's time plus the delay. Claims are made when they can start,
  not booked ahead: a booking for later is spoiled by a worker whose loop wakes late, which
  then starts as close as it likes to the next booking, already held by another worker (the
  loopback test saw 60 ms gaps at a 300 ms delay that way).
- **Concurrency**: the same script grants a lease per request (a sorted set of lease ids,
  scored by expiry) only while fewer than the host's limit are held; the lease is released on
  the response or the exception. A worker killed holding leases blocks nothing for ever: a
  lease expires ``NEWSCRAWL_POLITENESS_LEASE_SECONDS`` after its start (0: the request's
  download timeout plus 10 s), and the next claim for the host reclaims it. Workers waiting
  for room ask again every 0.05-0.1 s: the order among them is not first-come first-served.
- **Which delay**: the outlet's own (``[politeness] download_delay``: the spider's
  ``DOWNLOAD_DELAY``), a ``DOWNLOAD_SLOTS`` entry's, or the robots.txt ``Crawl-delay`` (at most
  ``NEWSCRAWL_MAX_CRAWL_DELAY``; ``crawler.middlewares.robots`` puts it on the request only
  where the outlet file sets no delay), whichever is longest; AutoThrottle's latency-based
  delay for the host, as this worker last measured it, counts too. The limit: a
  ``DOWNLOAD_SLOTS`` entry's ``concurrency``, else ``CONCURRENT_REQUESTS_PER_DOMAIN`` (the
  outlet's ``concurrency``).
- **The local slot** of Scrapy's downloader then waits no more: its delay is set to 0 as each
  request reaches it and after AutoThrottle set it from a response (its own wait, with
  jitter, would start a request later than its claim and so closer than the delay to the
  next one, sent by another worker).
- **Redis unreachable**: the request goes on with local politeness, as without this
  middleware (the host's slot waits the delay), with a warning (once per outage) and the
  counter ``newscrawl/politeness/redis_unavailable``; Redis is tried again after
  ``RETRY_AFTER`` seconds. Nothing is failed or dropped, and the excess is bounded: a worker
  without Redis takes no new requests from the shared queue either, so only those it holds
  are crawled at its own pace. Failing them instead would spend their attempts
  (``NEWSCRAWL_MAX_ATTEMPTS``) and turn a robots.txt fetch into "host unreachable".

Counted in Scrapy stats under ``newscrawl/politeness/``: ``reserved`` (claims granted),
``waited`` (requests that waited), ``wait_seconds``, ``host_full`` (claims refused for
concurrency, retried), ``late`` (claims answered late, next start pushed back),
``lease_expired`` (dead workers' leases reclaimed), ``lease_lost`` (a download outlived its
lease), ``crawl_delay`` (requests spaced by a robots.txt Crawl-delay), ``redis_unavailable``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from time import monotonic
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.distributed.queues import DEFAULT_PREFIX
from crawler.middlewares.robots import CRAWL_DELAY_META

logger = logging.getLogger(__name__)

#: meta key: (host key, lease id) of the lease a request holds while it is downloaded
LEASE_META = "newscrawl_polite_lease"
#: meta key: the delay the host's local slot waits, for a request admitted without Redis
LOCAL_DELAY_META = "newscrawl_polite_local_delay"
STAT = "newscrawl/politeness/"

# KEYS: the host's next-start key, its lease set. ARGV: delay, limit (0: none), lease id,
# lease seconds. Returns {code, seconds, leases reclaimed}: code 1, the request may start now
# (the lease is held, the next start is now + delay); 0, not before ``seconds`` from now;
# -1, the host holds ``limit`` leases, the first expires in ``seconds``. Numbers go back as
# strings: Redis truncates Lua floats to integers.
CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local delay = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[4])
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if limit > 0 and redis.call('ZCARD', KEYS[2]) >= limit then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {-1, string.format('%.6f', tonumber(first[2]) - now), expired}
end
local next_start = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_start > now then
  return {0, string.format('%.6f', next_start - now), expired}
end
local keep = math.ceil(delay * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', now + delay), 'PX', keep)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], math.ceil((tonumber(last[2]) - now) * 1000) + 1000)
return {1, '0', expired}
"""

# KEYS: the host's next-start key. ARGV: delay. The next start is at least now + delay: for a
# request that starts later than it claimed (its worker's loop was busy, Redis slow).
PUSH_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local delay = tonumber(ARGV[1])
local keep = math.ceil(delay * 1000) + 1000
if now + delay > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', now + delay), 'PX', keep)
end
return 1
"""


@dataclass(frozen=True)
class Grant:
    waited: float  # seconds slept: for the host to have room, or for its next start
    full: int  # claims refused because the host was at its limit
    expired: int  # dead leases reclaimed on the way
    late: bool  # the claim's answer came late, so the host's next start was pushed back


class HostLimiter:
    """The Redis side: claims and leases under ``<prefix>:polite:<host>:*``. One per
    crawler; its client is made on first use, on the running asyncio loop."""

    #: longest pause between two tries while a host is at its limit (jittered)
    poll = 0.1
    #: a claim answered later than this after it was sent pushes the host's next start back
    late = 0.02

    def __init__(self, redis_url: str, prefix: str, timeout: float = 3.0) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.timeout = timeout
        self._client: Any = None
        self._claim: Any = None
        self._push_back: Any = None
        self._ids = itertools.count()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def keys(self, host: str) -> list[str]:
        return [f"{self.prefix}:polite:{host}:next", f"{self.prefix}:polite:{host}:leases"]

    def new_lease_id(self) -> str:
        return f"{self._owner}:{next(self._ids)}"

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(
                self.redis_url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
            self._claim = self._client.register_script(CLAIM)
            self._push_back = self._client.register_script(PUSH_BACK)
        return self._client

    async def acquire(
        self, host: str, lease_id: str, delay: float, limit: int, lease_seconds: float
    ) -> Grant:
        """Wait (without blocking the loop) until the host has room and its next start has
        come, and claim that start; the lease is then held. Redis errors propagate, holding
        nothing."""
        self._redis()
        full = expired = 0
        slept = 0.0
        while True:
            asked = monotonic()
            code, seconds, reclaimed = await self._claim(
                keys=self.keys(host), args=[delay, max(limit, 0), lease_id, lease_seconds]
            )
            expired += int(reclaimed)
            if int(code) == 1:
                break
            wait = max(float(seconds), 0.0)
            if int(code) < 0:
                full += 1
                pause = min(wait, self.poll) * random.uniform(0.5, 1.0)
            else:  # a little jitter: the workers waiting for one start do not all ask at once
                pause = wait + random.uniform(0.0, min(0.01, delay / 10))
            await asyncio.sleep(pause)
            slept += pause
        late = monotonic() - asked > self.late
        if late:
            try:
                await self._push_back(keys=self.keys(host)[:1], args=[delay])
            except BaseException:  # Redis failed, or the crawl stops: the lease goes back
                task = asyncio.ensure_future(self.release(host, lease_id))
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                raise
        return Grant(slept, full, expired, late)

    async def release(self, host: str, lease_id: str) -> bool:
        """False when the lease was no longer held (it expired and was reclaimed)."""
        return bool(await self._redis().zrem(self.keys(host)[1], lease_id))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


class SharedPolitenessMiddleware:
    """Downloader middleware, last before the download (module docstring). Active in
    distributed mode (``NEWSCRAWL_DISTRIBUTED`` with ``NEWSCRAWL_REDIS_URL``) unless
    ``NEWSCRAWL_SHARED_POLITENESS`` is false."""

    #: seconds without trying Redis after it failed (requests get local politeness meanwhile)
    RETRY_AFTER = 5.0

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        redis_url = settings.get("NEWSCRAWL_REDIS_URL")
        if not (
            settings.getbool("NEWSCRAWL_DISTRIBUTED")
            and redis_url
            and settings.getbool("NEWSCRAWL_SHARED_POLITENESS", True)
        ):
            raise NotConfigured  # distributed mode only; a message would warn on every run
        self.crawler = crawler
        self.stats = crawler.stats
        prefix = settings.get("NEWSCRAWL_REDIS_PREFIX") or DEFAULT_PREFIX
        self.limiter = HostLimiter(redis_url, prefix)
        self.delay = settings.getfloat("DOWNLOAD_DELAY")
        self.concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.per_slot: dict[str, dict[str, Any]] = settings.getdict("DOWNLOAD_SLOTS")
        self.lease_seconds = settings.getfloat("NEWSCRAWL_POLITENESS_LEASE_SECONDS")
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        #: host -> the delay its local slot had when this worker last sent to it (AutoThrottle)
        self.local_delays: dict[str, float] = {}
        self._redis_down_until = 0.0
        crawler.signals.connect(
            self.request_reached_downloader, signal=signals.request_reached_downloader
        )
        # after AutoThrottle's handler (extensions connect first), before the slot looks at
        # its delay again
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedPolitenessMiddleware:
        return cls(crawler)

    @staticmethod
    def host_key(request: Request) -> str:
        """The key of the request's downloader slot (as Scrapy's ``get_slot_key``)."""
        meta_slot = request.meta.get("download_slot")
        if meta_slot is not None:
            return str(meta_slot)
        return urlparse_cached(request).hostname or ""

    def host_delay(self, request: Request, host: str) -> float:
        delay = float(self.per_slot.get(host, {}).get("delay", self.delay))
        crawl_delay = request.meta.get(CRAWL_DELAY_META)
        if crawl_delay and float(crawl_delay) > delay:
            delay = float(crawl_delay)
            self.stats.inc_value(STAT + "crawl_delay")
        return max(delay, self.local_delays.get(host, 0.0))

    def host_limit(self, host: str) -> int:
        return int(self.per_slot.get(host, {}).get("concurrency", self.concurrency))

    def lease_for(self, request: Request) -> float:
        if self.lease_seconds > 0:
            return float(self.lease_seconds)
        return float(request.meta.get("download_timeout", self.timeout)) + 10.0

    async def process_request(self, request: Request) -> None:
        request.meta.pop(LEASE_META, None)  # a retry's or redirect's copy: not its lease
        request.meta.pop(LOCAL_DELAY_META, None)
        host = self.host_key(request)
        delay = self.host_delay(request, host)
        if monotonic() < self._redis_down_until:
            self._local(request, delay)
            return
        lease_id = self.limiter.new_lease_id()
        try:
            grant = await self.limiter.acquire(
                host, lease_id, delay, self.host_limit(host), self.lease_for(request)
            )
        except (OSError, RedisError) as exc:  # TimeoutError is an OSError
            self._redis_failed(exc)
            self._local(request, delay)
            return
        self._redis_down_until = 0.0  # (again) reachable: a later outage is logged again
        request.meta[LEASE_META] = (host, lease_id)
        self.stats.inc_value(STAT + "reserved")
        if grant.full:
            self.stats.inc_value(STAT + "host_full", grant.full)
        if grant.expired:
            self.stats.inc_value(STAT + "lease_expired", grant.expired)
            logger.info("reclaimed %d expired politeness lease(s) of %s", grant.expired, host)
        if grant.late:
            self.stats.inc_value(STAT + "late")
        if grant.waited > 0:
            self.stats.inc_value(STAT + "waited")
            self.stats.inc_value(STAT + "wait_seconds", round(grant.waited, 3), start=0.0)

    def _local(self, request: Request, delay: float) -> None:
        request.meta[LOCAL_DELAY_META] = delay
        self.stats.inc_value(STAT + "redis_unavailable")

    def _redis_failed(self, exc: BaseException) -> None:
        if self._redis_down_until == 0.0:  # once per outage
            logger.warning(
                "shared politeness: Redis at %s is unreachable (%s: %s); requests use this "
                "worker's own delay and concurrency until it answers again",
                self.limiter.redis_url,
                type(exc).__name__,
                exc,
            )
        self._redis_down_until = monotonic() + self.RETRY_AFTER

    async def process_response(self, request: Request, response: Response) -> Response:
        await self._release(request)
        return response

    async def process_exception(self, request: Request, exception: BaseException) -> None:
        await self._release(request)

    async def _release(self, request: Request) -> None:
        held = request.meta.pop(LEASE_META, None)
        if held is None:
            return
        try:
            if not await self.limiter.release(*held):
                self.stats.inc_value(STAT + "lease_lost")
        except (OSError, RedisError) as exc:  # TimeoutError is an OSError
            self._redis_failed(exc)  # the lease expires by itself

    def request_reached_downloader(self, request: Request, spider: Any = None) -> None:
        """The host's local slot exists now: it waits no more (the claim did), unless Redis
        was unreachable, then it waits the host's delay itself."""
        slot = self._slot(request)
        if slot is None:
            return
        local = request.meta.get(LOCAL_DELAY_META)
        if local is not None:
            slot.delay = max(float(local), slot.delay)
        else:
            self._take_delay(request, slot)

    def response_downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        """AutoThrottle has just set the slot's delay from the response's latency, and the slot
        is about to look at it (an idle slot with a delay schedules a wake-up it then waits
        for): this worker keeps it as its view of the host, and the slot is left at 0."""
        slot = self._slot(request)
        if slot is not None and LEASE_META in request.meta:
            self._take_delay(request, slot)

    def _slot(self, request: Request) -> Any:
        engine = getattr(self.crawler, "engine", None)
        if engine is None:
            return None
        return engine.downloader.slots.get(request.meta.get("download_slot", ""))

    def _take_delay(self, request: Request, slot: Any) -> None:
        if slot.delay > 0:
            self.local_delays[request.meta.get("download_slot", "")] = slot.delay
            slot.delay = 0.0

    async def spider_closed(self, spider: Any = None) -> None:
        await self.limiter.close()
