"""Commands that crawl: ``crawl`` (cron-safe, one process), ``worker`` and ``schedule``
(distributed mode), ``demo`` (a bundled sample web on loopback)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from crawler.cli.common import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    PORT,
    UsageError,
    add_db_option,
    add_set_option,
    number,
    overrides,
    prepare,
    run_crawl,
    scrapy_settings,
)
from storage.location import StorageError, database_url

DEMO_PORT = 47265


def cmd_crawl(args: argparse.Namespace) -> int:
    from storage import locks

    if args.warc:
        from crawler.extensions.warc import WarcFolderError, check_folder

        try:  # before anything is crawled or written
            check_folder(args.warc)
        except WarcFolderError as exc:
            raise UsageError("--warc", str(exc)) from exc
    url = database_url(args.db)
    extra = overrides(args.set)
    if args.warc:
        extra["NEWSCRAWL_WARC_DIR"] = args.warc
    settings = scrapy_settings(url, args.outlets_dir, **extra)
    with locks.crawl_lock(url, Path(args.lock) if args.lock else None) as lock:
        if not lock.held:
            print(f"newscrawl: another crawl holds {lock.name}; not starting", file=sys.stderr)
            return EXIT_LOCKED
        names = prepare(url, args.outlets_dir, args.outlets)
        if settings.getbool("NEWSCRAWL_DISTRIBUTED"):
            # NEWSCRAWL_REDIS_URL is set for the workers; a one-off crawl still crawls here and
            # now, with Scrapy's own queue, and keeps the shared dedup index the workers use.
            for name, value in (
                ("NEWSCRAWL_DISTRIBUTED", False),
                ("SCHEDULER", "scrapy.core.scheduler.Scheduler"),
                ("DUPEFILTER_CLASS", "scrapy.dupefilters.RFPDupeFilter"),
            ):
                settings.set(name, value, priority="cmdline")
        return run_crawl(names, settings)


def _distributed(args: argparse.Namespace, **extra: Any) -> tuple[str, Any]:
    """The database URL and the Scrapy settings of a distributed command, after checking that
    Redis answers (a clear error now, not a traceback from inside Scrapy)."""
    import redis

    from crawler.distributed import DEFAULT_PREFIX, distributed_settings

    redis_url = args.redis or os.environ.get("NEWSCRAWL_REDIS_URL")
    if not redis_url:
        raise UsageError("--redis", "give --redis or $NEWSCRAWL_REDIS_URL")
    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        raise StorageError(f"cannot reach Redis at {redis_url!r}: {exc}") from exc
    url = database_url(args.db)
    prefix = args.prefix or os.environ.get("NEWSCRAWL_REDIS_PREFIX") or DEFAULT_PREFIX
    settings = {**distributed_settings(redis_url, prefix), **extra, **overrides(args.set)}
    return url, scrapy_settings(url, args.outlets_dir, **settings)


def cmd_worker(args: argparse.Namespace) -> int:
    """Take requests from the shared queues of the named (default: all) outlets until stopped,
    or until the queues have been empty ``--until-idle`` seconds. An idle worker looks at the
    queue at each of Scrapy's engine heartbeats (5 s)."""
    url, settings = _distributed(args, NEWSCRAWL_WORKER_UNTIL_IDLE=args.until_idle)
    names = prepare(url, args.outlets_dir, args.outlets)
    return run_crawl(names, settings)


def cmd_schedule(args: argparse.Namespace) -> int:
    """Queue the due source polls and the pending article URLs; once, or every N seconds."""
    import time

    from crawler import runtime
    from crawler.distributed import Scheduler
    from crawler.registry import load_registry

    url, settings = _distributed(args)
    names = prepare(url, args.outlets_dir, args.outlets)
    registry = load_registry(args.outlets_dir)
    scheduler = Scheduler(settings, {name: registry[name] for name in names})
    try:
        while True:
            report = scheduler.run()
            # Index upkeep after queueing, so workers are not kept waiting for it.
            scheduler.maintain_index(report)
            extra = ""
            if report.bands_backfilled or report.bands_pruned:
                extra = (
                    f"; dedup index: {report.bands_backfilled} articles added, "
                    f"{report.bands_pruned} keys past the window dropped"
                )
            print(f"newscrawl: {report.line()}{extra}", file=sys.stderr, flush=True)
            if not args.every:
                return EXIT_OK
            time.sleep(args.every)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        scheduler.close()
        runtime.shutdown()


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.cli.corpus import print_stats
    from crawler.demo import mockweb
    from storage.db import Database
    from storage.stats import recent_articles

    try:
        server, web = mockweb.serve(port=args.port)
    except OSError as exc:
        print(
            f"newscrawl: cannot listen on 127.0.0.1:{args.port} ({exc}); try --port",
            file=sys.stderr,
        )
        return EXIT_FAILED
    port = server.server_address[1]
    url = database_url(args.db)
    with tempfile.TemporaryDirectory(prefix="newscrawl-demo-") as folder:
        web.write_outlet_files(Path(folder))
        names = [o.spec["id"] for o in web.outlets]
        prepare(url, folder, names)
        print(
            f"demo: serving {len(web.outlets)} sample outlets on http://127.0.0.1:{port} "
            f"({sum(len(o.articles) for o in web.outlets)} articles); crawling into {url}"
        )
        settings = scrapy_settings(
            url,
            folder,
            LOG_LEVEL=args.log_level,
            # the sample web is on loopback, which the safety layer refuses unless allowed
            NEWSCRAWL_ALLOWED_ADDRESSES=[f"127.0.0.1:{port}"],
        )
        code = run_crawl(names, settings)
    server.shutdown()
    db = Database(url)
    print()
    for article in reversed(recent_articles(db, limit=args.show)):
        when = article.published_at.strftime("%Y-%m-%d %H:%M") if article.published_at else "?"
        dup = f"  [copy of #{article.duplicate_of}]" if article.duplicate_of else ""
        print(f"#{article.id:<4} {article.outlet_id:<13} {when}  {article.title}{dup}")
    print()
    print_stats(db)
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("crawl", help="crawl all or the named outlets (cron-safe)")
    p.add_argument("outlets", nargs="*", help="outlet ids (default: all)")
    p.add_argument(
        "--lock",
        help="lock file (default: FILE.lock next to a SQLite database; PostgreSQL: an advisory "
        "lock in the database)",
    )
    add_set_option(p)
    p.add_argument("--warc", metavar="DIR", help="also write every fetched response to WARC files")
    add_db_option(p)
    p.set_defaults(func=cmd_crawl)

    def distributed(p: argparse.ArgumentParser) -> None:
        p.add_argument("outlets", nargs="*", help="outlet ids (default: all)")
        p.add_argument("--redis", help="Redis URL of the shared queues ($NEWSCRAWL_REDIS_URL)")
        p.add_argument(
            "--prefix", help="Redis key prefix, to run several crawls on one Redis (newscrawl)"
        )
        add_set_option(p)
        add_db_option(p)

    p = sub.add_parser("worker", help="distributed mode: crawl from the shared Redis queues")
    p.add_argument(
        "--until-idle",
        type=number(float, 0, 10**9),
        metavar="SECONDS",
        help="exit once the queues have been empty this long (default: run until stopped)",
    )
    distributed(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "schedule", help="distributed mode: queue due feeds, sitemaps and pending articles"
    )
    p.add_argument(
        "--every",
        type=number(float, 0.001, 10**9),
        metavar="SECONDS",
        help="run again every SECONDS (default: once)",
    )
    distributed(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("demo", help="crawl a bundled sample news web on loopback, offline")
    p.add_argument(
        "--show", type=number(int, 0, 10**6), default=30, help="how many stored articles to list"
    )
    # A fixed port keeps the sample's URLs stable, so a second demo run finds them stored.
    p.add_argument("--port", type=PORT, default=DEMO_PORT, help="loopback port to serve on")
    p.add_argument("--log-level", default="WARNING")
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_demo)
