"""Scrapy settings for newscrawl: polite and safe by default. Everything a user tunes has a
``NEWSCRAWL_*`` name documented in README.md."""

from __future__ import annotations

import os

BOT_NAME = "newscrawl"
VERSION = "0.1.0"

# Spiders come from the outlet registry (crawler/outlets/*.toml and NEWSCRAWL_OUTLETS_DIR).
SPIDER_MODULES: list[str] = []
SPIDER_LOADER_CLASS = "crawler.spiderloader.OutletSpiderLoader"
# `scrapy crawl` exits with the run's exit code, as `newscrawl crawl` does
COMMANDS_MODULE = "crawler.commands"
NEWSCRAWL_OUTLETS_DIR = os.environ.get("NEWSCRAWL_OUTLETS_DIR")

# Storage: SQLite file in the working folder unless a database URL is given.
NEWSCRAWL_DATABASE_URL = os.environ.get("NEWSCRAWL_DATABASE_URL")

# Politeness. Per-outlet delay and concurrency come from the outlet file.
NEWSCRAWL_CONTACT_URL = os.environ.get(
    "NEWSCRAWL_CONTACT_URL", "https://github.com/newscrawl/newscrawl"
)
USER_AGENT = f"newscrawl/{VERSION} (+{NEWSCRAWL_CONTACT_URL})"
ROBOTSTXT_OBEY = True
# Protego over the first 500 KiB of the file, cut after its last complete line (RFC 9309).
ROBOTSTXT_PARSER = "crawler.middlewares.robots.PoliteRobotParser"
# A robots.txt Crawl-delay is honoured (for outlets whose file sets no download_delay) up to:
NEWSCRAWL_MAX_CRAWL_DELAY = 30.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
CONCURRENT_REQUESTS = 32
# Scrapy starts this many asyncio tasks for every response's output; an article page yields one
# item and a feed a few hundred requests, so the default 100 mostly creates idle tasks.
CONCURRENT_ITEMS = 2
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Downloads outpace extraction ten to one: past this many bytes of responses still in processing
# an outlet's downloads wait. Scrapy's 5 MB default, held as bytes, text, item and a pickled copy
# for the pool, in one slot per outlet, took a 20-outlet crawl's main process to 544 MiB (USS);
# 500 kB took it to 248 MiB at the same speed (bench/crawl_bench.py --memory).
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 500_000
DOWNLOAD_DELAY = 1.0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening port on a cron crawler

# Safety: http(s) only, bounded sizes, redirects, time and errors.
DOWNLOAD_HANDLERS = {
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
    # Scrapy's HTTP handler, refusing what is not yet sent once the crawl is stopping, and
    # starting an article download only when the extraction backlog has room
    "http": "crawler.middlewares.backlog.GatedHTTPDownloadHandler",
    "https": "crawler.middlewares.backlog.GatedHTTPDownloadHandler",
}
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 5
RETRY_TIMES = 2
# Scrapy's list without 429: a server that asks us to slow down is not asked again at once; the
# URL is recorded as failed (retried on a later run), a polled source waits for its Retry-After.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
DNS_TIMEOUT = 20
TWISTED_DNS_RESOLVER = "crawler.resolver.LocalhostAwareResolver"
CLOSESPIDER_ERRORCOUNT = 1000
# A run (each outlet's spider; they run at once) is closed this many seconds after it started
# (0: no limit): run status "time_limit", what it did not reach pending for the next run.
# In-flight downloads end within DOWNLOAD_TIMEOUT after it.
NEWSCRAWL_RUN_TIME_LIMIT = 1800.0
NEWSCRAWL_MAX_ARTICLES_PER_RUN = 5000
NEWSCRAWL_MAX_SITEMAPS_PER_OUTLET = 50
NEWSCRAWL_MAX_SITEMAP_DEPTH = 2
NEWSCRAWL_SKIP_KNOWN = True
# New article URLs are recorded before they are fetched; on the next run, URLs discovered but
# never stored (in flight at a crash) or failed fewer than MAX_ATTEMPTS times are fetched again.
NEWSCRAWL_RECORD_DISCOVERED = True
NEWSCRAWL_MAX_ATTEMPTS = 5
# Stored articles fetched again this many seconds after they were first stored, to catch edits
# (kept as revisions), e.g. [3600, 21600, 86400]: each step is one more fetch per article, so
# off by default; articles whose feed or sitemap entry says they changed are refetched anyway.
# Applied through the record's pending URLs, within NEWSCRAWL_MAX_ARTICLES_PER_RUN, after the
# backlog of never-stored URLs; steps that passed while no crawl ran are one refetch. In
# distributed mode `newscrawl schedule` sends them (and the followed stories below) alike.
NEWSCRAWL_REFETCH_AFTER: list[float] = []
# A refetch (by that schedule, or because the feed or sitemap said so) that finds the page's
# declared modification date (article:modified_time, JSON-LD dateModified) moved follows the
# story: it is fetched again this many seconds later, and again while the date keeps moving,
# for articles first stored less than NEWSCRAWL_REFETCH_WHILE_MODIFIED_FOR seconds ago (a live
# story, a correction). 0 turns it off.
NEWSCRAWL_REFETCH_WHILE_MODIFIED = 21600.0
NEWSCRAWL_REFETCH_WHILE_MODIFIED_FOR = 259200.0
# Declared feeds and sitemaps are polled with If-None-Match / If-Modified-Since from the last
# finished run, and a body seen before is not parsed again (spiders/conditional.py).
NEWSCRAWL_CONDITIONAL_POLLS = True
# Feeds and sitemaps are parsed in the worker pool within this many seconds each.
NEWSCRAWL_PARSE_TIMEOUT = 20.0
# Addresses that are not public but may be fetched: "127.0.0.1:8080", "10.0.0.0/8", "::1".
# Everything private, loopback, link-local (cloud metadata) or reserved is refused otherwise.
NEWSCRAWL_ALLOWED_ADDRESSES: list[str] = [
    a for a in os.environ.get("NEWSCRAWL_ALLOWED_ADDRESSES", "").split(",") if a.strip()
]

# Extraction in worker processes (0 = one per core), with a per-document time limit in seconds.
NEWSCRAWL_EXTRACT_WORKERS = int(os.environ.get("NEWSCRAWL_EXTRACT_WORKERS", "0"))
NEWSCRAWL_EXTRACT_TIMEOUT = 30.0
# Article pages downloading or waiting for extraction at once in a process, over all its
# outlets (0: four per extraction process). More only holds more pages in memory.
NEWSCRAWL_EXTRACT_IN_HAND = 0

# Near-duplicate detection (see pipelines/dedup/): signatures stored within the window are the
# memory every run starts from; thresholds decide when a candidate counts as a copy.
NEWSCRAWL_DEDUP_ENABLED = True
# Articles are stored up to this many per transaction (group commit): while the database thread
# writes one batch the next gathers, so an idle crawl still writes each article at once. 1: one
# transaction per article (always so with NEWSCRAWL_DEDUP_INDEX = "database"). Each article
# passes on only after its batch committed.
NEWSCRAWL_STORE_BATCH = 50
NEWSCRAWL_DEDUP_WINDOW_DAYS = 30.0
# A copy shares passages (runs of NEWSCRAWL_DEDUP_PASSAGE_WORDS words and more) that cover at
# least COVERAGE_MIN of the shorter text and COVERAGE_LONGER_MIN of the longer, or has a
# Jaccard of JACCARD_MIN. Defaults: DedupParams in pipelines/dedup/params.py (None: those).
NEWSCRAWL_DEDUP_PASSAGE_WORDS = None
NEWSCRAWL_DEDUP_COVERAGE_MIN = None
NEWSCRAWL_DEDUP_COVERAGE_LONGER_MIN = None
NEWSCRAWL_DEDUP_JACCARD_MIN = None
# "memory": each process rebuilds its own index at start (one machine). "database": one index in
# the database's band table that every process sees (distributed mode sets it).
NEWSCRAWL_DEDUP_INDEX = os.environ.get("NEWSCRAWL_DEDUP_INDEX", "memory")
# Changing the seed changes every signature: a database refuses signatures of another seed.
NEWSCRAWL_DEDUP_SEED = 20151009

DOWNLOADER_MIDDLEWARES = {
    # First of all, on every request and redirect hop: stay on the outlet's domains...
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.safety.OffsiteRedirectMiddleware": 45,
    # ...and before robots.txt is fetched for a host, refuse non-public addresses.
    "crawler.middlewares.safety.AddressPolicyMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.PoliteRobotsTxtMiddleware": 100,
    # robots.txt read to its first 500 KiB (download and decompression): before
    # HttpCompressionMiddleware (590) decodes anything, after RedirectMiddleware (600)
    "crawler.middlewares.robots.RobotsTxtBodyLimit": 595,
    # Scrapy's own, at their own places, raising their refusals as typed reasons
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.failures.TypedMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.failures.TypedHttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.failures.TypedRedirectMiddleware": 600,
    # Last before the download: distributed mode's per-host delay and concurrency, shared by
    # all workers through Redis (crawler/distributed/politeness.py; inactive otherwise)
    "crawler.distributed.politeness.SharedPolitenessMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    "crawler.middlewares.known_urls.KnownUrlFilter": 950,
}
# One concern each, with gaps so a step can be inserted without renumbering.
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.extract.pipeline.ExtractPipeline": 300,
    "pipelines.dedup.pipeline.DedupPipeline": 400,
    "pipelines.store.StorePipeline": 800,
}
EXTENSIONS = {
    "crawler.extensions.runs.CrawlRunRecorder": 500,
    "crawler.middlewares.safety.ContentTypeGuard": 510,
    "crawler.extensions.warc.WarcArchive": 520,  # only when NEWSCRAWL_WARC_DIR is set
    "crawler.extensions.runs.RunTimeLimit": 530,  # NEWSCRAWL_RUN_TIME_LIMIT
}
NEWSCRAWL_WARC_DIR = os.environ.get("NEWSCRAWL_WARC_DIR")

# Distributed mode (docs/scale-out.md): set NEWSCRAWL_REDIS_URL and every crawler becomes a
# worker on the shared scrapy-redis queues, with the database's shared dedup index.
NEWSCRAWL_DISTRIBUTED = False
NEWSCRAWL_REDIS_URL = os.environ.get("NEWSCRAWL_REDIS_URL")
NEWSCRAWL_REDIS_PREFIX = os.environ.get("NEWSCRAWL_REDIS_PREFIX", "newscrawl")
# The Redis seen-set is dropped this long after it was started (the database is the record).
NEWSCRAWL_SEEN_TTL = 24 * 3600
# A source poll not answered this long after it was queued counts as lost and is queued again.
NEWSCRAWL_POLL_LEASE = 900.0
# A URL discovered but not stored (or failed) this long ago is sent again by the schedule.
NEWSCRAWL_RESCHEDULE_AFTER = 600.0
# A worker exits after its queues have been empty this many seconds ("" or None: never).
NEWSCRAWL_WORKER_UNTIL_IDLE: float | None = None
# A worker takes no more requests from the shared queue while its extraction backlog and
# downloads reach this many (0: four per extraction process).
NEWSCRAWL_WORKER_PREFETCH = 0
# Per-host delay and concurrency hold across all workers (a Redis limiter,
# crawler/distributed/politeness.py).
NEWSCRAWL_SHARED_POLITENESS = True
# A request's host lease (one of its concurrency) expires this long after the request started,
# so a killed worker's leases free their host (0: the download timeout plus 10 s).
NEWSCRAWL_POLITENESS_LEASE_SECONDS = 0.0
# How often an idle worker looks at the shared queues, in seconds.
NEWSCRAWL_WORKER_QUEUE_CHECK = 1.0
if NEWSCRAWL_REDIS_URL:
    from crawler.distributed import distributed_settings

    globals().update(distributed_settings(NEWSCRAWL_REDIS_URL, NEWSCRAWL_REDIS_PREFIX))

LOG_LEVEL = os.environ.get("NEWSCRAWL_LOG_LEVEL", "INFO")
FEED_EXPORT_ENCODING = "utf-8"
