"""Commands about outlets and single pages: ``extract`` (the crawl's extraction on saved
pages) and ``outlets`` (the registry)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any, TextIO

from crawler.cli import extract_batch as batch
from crawler.cli.common import EXIT_FAILED, EXIT_OK, UsageError, number, scrapy_settings
from crawler.cli.extract_batch import PageTask
from crawler.registry import ExtractionHints, load_registry

EXTRACT_DESCRIPTION = """\
Run the crawl's extraction on saved pages and print one JSON object per page, in input order
(FILE arguments, then manifest lines), each as soon as it and the pages before it are done:
file, url, outlet (when one applies), encoding, title, author, date, language, description,
text; or error and detail (unreadable, too_large, extraction_empty, extraction_timeout, ...).
Exit 1 if any page failed.

A page's URL: --url for a single FILE; FILE=URL for many (the split is at the first = that
http:// or https:// follows, so a file name may contain =); or a JSON Lines manifest:
  {"file": "saved/a.html.gz", "url": "https://example.com/a", "outlet": "bbc"}
A manifest is checked whole before any page: a bad line is an error naming its number.

More than one page runs in a pool of worker processes (--jobs), each page within --timeout;
a page that hangs or kills its worker gives its error record and the others go on."""


def cmd_extract(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """The crawl's extraction on saved pages: one JSON object per page on standard output, in
    input order, each printed as soon as it and the pages before it are done."""
    out = out or sys.stdout
    tasks = batch.tasks_from_arguments(args.files, args.url)
    if args.manifest:
        if args.url:
            raise UsageError("--url", "names one FILE's page; a manifest line has its own url")
        tasks += _manifest(args.manifest)
    if not tasks:
        raise UsageError("FILE", "give saved pages (FILE, FILE=URL) or --manifest")
    batch.check_stdin_once(tasks, args.manifest == "-")
    tasks, hints = _with_outlets(tasks, args.outlet, args.outlets_dir)
    settings = scrapy_settings(None, None)
    # the crawl's own cap on a download (decompressed too), unless told otherwise
    limit = args.max_size or settings.getint("DOWNLOAD_MAXSIZE")
    timeout = args.timeout or settings.getfloat("NEWSCRAWL_EXTRACT_TIMEOUT")
    jobs = args.jobs or batch.default_jobs(len(tasks), os.cpu_count())
    failed = 0

    def emit(record: dict[str, Any]) -> None:
        nonlocal failed
        failed += "error" in record
        print(json.dumps(record, ensure_ascii=False), file=out, flush=True)

    if jobs == 1 and len(tasks) == 1:
        emit(batch.extract_here(tasks[0], hints, limit))
    else:
        batch.extract_in_pool(tasks, emit, jobs=jobs, hints=hints, limit=limit, timeout=timeout)
    return EXIT_FAILED if failed else EXIT_OK


def _manifest(name: str) -> list[PageTask]:
    if name == "-":
        return batch.read_manifest(sys.stdin.buffer)
    try:
        with open(name, "rb") as fh:
            return batch.read_manifest(fh)
    except OSError as exc:
        raise UsageError("--manifest", f"cannot read {name}: {exc.strerror}") from None


def _with_outlets(
    tasks: list[PageTask], outlet: str | None, outlets_dir: str | None
) -> tuple[list[PageTask], batch.Hints]:
    """The pages with their outlet (a manifest line's, else --outlet's) and a function that
    gives a page its outlet's extraction hints and language."""
    named = {t.outlet for t in tasks if t.outlet}
    if not named and not outlet:
        return tasks, lambda task: (ExtractionHints(), "")
    registry = load_registry(outlets_dir)
    if outlet and outlet not in registry:
        raise UsageError("--outlet", f"no outlet {outlet!r}")
    for task in tasks:
        if task.outlet and task.outlet not in registry:
            raise UsageError("--manifest", f"line {task.line}: no outlet {task.outlet!r}")
    tasks = [replace(t, outlet=t.outlet or outlet) for t in tasks]
    chosen = {
        t.outlet: (registry[t.outlet].extraction, registry[t.outlet].language)
        for t in tasks
        if t.outlet
    }
    return tasks, lambda task: chosen[task.outlet] if task.outlet else (ExtractionHints(), "")


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
        description=EXTRACT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="HTML file (.gz too), - for stdin, or FILE=URL: the page and the URL it was "
        "served from (split at the first = followed by http:// or https://; with -=URL, "
        "put the FILEs after --)",
    )
    p.add_argument("--url", help="the page's URL (one FILE only); helps metadata and links")
    p.add_argument(
        "--manifest",
        metavar="JSONL",
        help='pages listed one a line, {"file": ..., "url": ..., "outlet": ...} (url and '
        "outlet optional); - reads it from stdin; after any FILE arguments",
    )
    p.add_argument(
        "--jobs",
        type=number(int, 1, 256),
        metavar="N",
        help="worker processes (default: one per core; 1 for one page, which then runs in "
        "this process)",
    )
    p.add_argument(
        "--timeout",
        type=number(float, 0.001, 86400),
        metavar="SECONDS",
        help="time limit per page in a worker (extraction_timeout); default: the crawl's, "
        "NEWSCRAWL_EXTRACT_TIMEOUT (30 s)",
    )
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
