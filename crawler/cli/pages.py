"""Commands about outlets and single pages: ``extract`` (the crawl's extraction on saved
pages) and ``outlets`` (the registry)."""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from typing import Any, TextIO

from crawler.cli.common import EXIT_FAILED, EXIT_OK, UsageError, scrapy_settings
from crawler.registry import load_registry


def cmd_extract(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The crawl's extraction on saved pages: one JSON object per page on standard output."""
    from crawler.decoding import Undecodable, decode_html
    from crawler.registry import ExtractionHints
    from pipelines.extract.page import ExtractionFailed, extract_page, reconcile
    from pipelines.extract.saved import PageTooLarge, read_saved_page

    out = out or sys.stdout
    if args.url and len(args.files) > 1:
        raise UsageError("--url", "names one page; give one FILE with it")
    hints, language = ExtractionHints(), ""
    if args.outlet:
        registry = load_registry(args.outlets_dir)
        if args.outlet not in registry:
            raise UsageError("--outlet", f"no outlet {args.outlet!r}")
        hints, language = registry[args.outlet].extraction, registry[args.outlet].language
    # the crawl's own cap on a download (decompressed too), unless told otherwise
    limit = args.max_size or scrapy_settings(None, None).getint("DOWNLOAD_MAXSIZE")
    failed = 0
    for name in args.files:
        record: dict[str, Any] = {"file": name, "url": args.url}
        try:
            source, data = read_saved_page(name, limit)
            record["file"] = source
            html, encoding, _evidence = decode_html(data, None)  # a saved file has no header
            record["encoding"] = encoding
            page = extract_page(
                html,
                args.url or "",
                drop_selectors=hints.drop_selectors,
                drop_line_patterns=hints.drop_line_patterns,
                keep_selectors=hints.keep_selectors,
            )
        except (OSError, EOFError, zlib.error, ExtractionFailed, Undecodable, PageTooLarge) as exc:
            failed += 1
            record["error"] = getattr(exc, "reason", "unreadable")
            record["detail"] = getattr(exc, "detail", "") or str(exc)
            print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
            continue
        merged = reconcile(page, None, language)
        record.update(
            title=merged.title,
            author=merged.author,
            date=merged.published_at.isoformat() if merged.published_at else None,
            language=merged.language or None,
            description=merged.description,
            text=page.text,
        )
        print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_outlets(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    for outlet in load_registry(args.outlets_dir).values():
        state = "" if outlet.enabled else "\t(disabled: crawled only when named)"
        print(f"{outlet.id}\t{outlet.name}\t{outlet.language}\t{outlet.path}{state}", file=out)
        for source in outlet.sources:
            print(f"    {source.kind:<13} {source.url}", file=out)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "extract",
        help="run the crawl's extraction on saved HTML files and print one JSON object per page",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="HTML file (.gz too), or - for stdin")
    p.add_argument("--url", help="the page's URL (one FILE only); helps metadata and links")
    p.add_argument("--outlet", help="apply this outlet's extraction hints")
    p.add_argument("--outlets-dir")
    p.add_argument(
        "--max-size",
        type=int,
        metavar="BYTES",
        help="refuse a page larger than this, as read or decompressed (too_large); default: the "
        "crawl's download cap, DOWNLOAD_MAXSIZE (10 MiB)",
    )
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("outlets", help="list outlets and their sources")
    p.add_argument("--outlets-dir")
    p.set_defaults(func=cmd_outlets)
