"""``newscrawl ingest FILE.warc[.gz]...``: articles from WARC files (the crawl's ``--warc``
archives, CC-NEWS) into the corpus, through the crawl's decoding, extraction, dedup and store
(``pipelines.ingest``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from crawler.cli.common import (
    DAYS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    add_db_option,
    add_set_option,
    number,
    overrides,
    scrapy_settings,
)


def cmd_ingest(args: argparse.Namespace) -> int:
    from crawler import runtime
    from crawler.output.progress import IngestProgress
    from crawler.registry import load_registry
    from pipelines.ingest.run import Ingest, IngestOptions, summary_line

    paths = [Path(name) for name in args.files]
    for path in paths:
        if not path.is_file():
            raise UsageError("FILE", f"{path} is not a file")
    # against everything the database holds, not only the crawl's recent window
    settings = scrapy_settings(
        args.db,
        args.outlets_dir,
        **{"NEWSCRAWL_DEDUP_WINDOW_DAYS": DAYS, **overrides(args.set)},
    )
    if args.workers:
        settings.set("NEWSCRAWL_EXTRACT_WORKERS", args.workers, priority="cmdline")
    workers = runtime.extraction_workers(settings)
    options = IngestOptions(
        max_size=settings.getint("DOWNLOAD_MAXSIZE"),
        timeout=settings.getfloat("NEWSCRAWL_EXTRACT_TIMEOUT"),
        in_flight=args.in_flight or 8 * workers,
        store_batch=runtime.store_batch(settings),
    )
    live = sys.stderr.isatty() if args.progress is None else args.progress
    display = IngestProgress(sys.stderr) if live else None
    started = time.monotonic()
    ingest: Any = None
    try:
        ingest = Ingest(
            settings,
            load_registry(args.outlets_dir),
            options,
            on_progress=display.update if display else None,
        )
        if display:
            display.start()
        counts = ingest.run(paths)
    except KeyboardInterrupt:
        runtime.stop_workers_now()
        if ingest is not None:
            _close(display)
            print(
                summary_line(ingest.counts, EXIT_INTERRUPTED, time.monotonic() - started),
                file=sys.stderr,
                flush=True,
            )
            return EXIT_INTERRUPTED
        raise
    except BaseException:
        runtime.stop_workers_now()
        raise
    finally:
        _close(display)
        runtime.shutdown()
    code = EXIT_FAILED if counts.damaged else EXIT_OK
    print(summary_line(counts, code, time.monotonic() - started), file=sys.stderr, flush=True)
    return code


def _close(display: Any) -> None:
    if display is not None:
        display.stop()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ingest",
        help="store the articles of WARC files (--warc archives, CC-NEWS): extracted, "
        "deduplicated and linked as a crawl stores them, with their provenance",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="WARC file, .warc or .warc.gz")
    add_db_option(p)
    p.add_argument(
        "--workers",
        type=number(int, 1, 256),
        help="extraction processes (default: $NEWSCRAWL_EXTRACT_WORKERS, else one per core)",
    )
    p.add_argument(
        "--in-flight",
        type=number(int, 1, 100_000),
        metavar="N",
        help="records read but not yet stored, at most (bounds memory; default 8 per worker)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a live line of counts (default: on when standard error is a terminal)",
    )
    add_set_option(p)
    p.set_defaults(func=cmd_ingest)
