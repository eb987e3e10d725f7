"""``newscrawl reextract [--outlet ID] [--older-than VERSION] [--dry-run]``: ingested articles
extracted again from their WARC records when the extractor changed; text, signature and
cluster updated in place, the old version kept as a revision (``pipelines.ingest.reextract``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crawler.cli.common import (
    DAYS,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_db_option,
    add_set_option,
    overrides,
    scrapy_settings,
)


def cmd_reextract(args: argparse.Namespace) -> int:
    from crawler import runtime
    from crawler.registry import load_registry
    from pipelines.ingest.reextract import Reextract, is_outdated, summary_line
    from pipelines.ingest.run import extractor_version

    if args.older_than is not None:
        try:
            is_outdated(args.older_than, args.older_than, older_than=True)
        except ValueError as exc:
            raise UsageError("--older-than", str(exc)) from exc
    settings = scrapy_settings(
        args.db,
        args.outlets_dir,
        **{"NEWSCRAWL_DEDUP_WINDOW_DAYS": DAYS, **overrides(args.set)},
    )
    try:
        db = runtime.database(settings)
        registry = load_registry(args.outlets_dir)
        dedup = None if args.dry_run else runtime.dedup_state(settings)
        job = Reextract(
            db, dedup, registry, extractor_version(), settings.getint("DOWNLOAD_MAXSIZE")
        )
        counts = job.run(job.selected(args.outlet, args.older_than), dry_run=args.dry_run)
    finally:
        runtime.shutdown()
    for p in counts.problems:
        print(f"newscrawl: reextract: {p.url}: {p.reason}: {p.detail}", file=sys.stderr)
    code = EXIT_FAILED if counts.failed and not args.dry_run else EXIT_OK
    print(summary_line(counts, code, args.dry_run), file=sys.stderr, flush=True)
    return code


def register(sub: Any) -> None:
    p = sub.add_parser(
        "reextract",
        help="extract ingested articles again from their WARC records when the extractor "
        "changed: text, fingerprint and cluster updated in place, old versions kept",
    )
    add_db_option(p)
    p.add_argument("--outlet", metavar="ID", help="only this outlet's articles")
    p.add_argument(
        "--older-than",
        metavar="VERSION",
        help="only articles extracted by an older version than VERSION ('newscrawl 0.9; "
        "trafilatura 2.0', or newscrawl's alone: '0.9'; default: every article whose "
        "extractor version is not the current one)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="count what would be reextracted; store nothing"
    )
    add_set_option(p)
    p.set_defaults(func=cmd_reextract)
