"""Commands that read or shape the corpus: ``stats``, ``clusters``, ``dedup`` (any JSON Lines
corpus), ``export``, ``report`` and ``browse``. Reads open the database read-only."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crawler.cli.common import (
    DAYS,
    EXIT_BAD_LINES,
    EXIT_FAILED,
    EXIT_OK,
    PORT,
    UsageError,
    add_db_option,
    number,
)
from storage.location import database_url

if TYPE_CHECKING:
    from storage.db import Database


def print_stats(db: Database, out: TextIO | None = None) -> None:
    from storage.stats import outlet_stats

    out = out or sys.stdout
    rows = outlet_stats(db)
    print(
        f"{'outlet':<16} {'articles':>8} {'dups':>5} {'failed':>6}  latest published  last run",
        file=out,
    )
    for r in rows:
        latest = r.latest_published.strftime("%Y-%m-%d %H:%M") if r.latest_published else "-"
        print(
            f"{r.outlet_id:<16} {r.articles:>8} {r.duplicates:>5} {r.failed_urls:>6}  "
            f"{latest:<16}  {r.last_run_status or '-'}",
            file=out,
        )
    for r in rows:
        if r.last_run_message:
            print(f"{r.outlet_id}: last run failed: {r.last_run_message}", file=out)


def cmd_stats(args: argparse.Namespace) -> int:
    from storage.db import Database

    print_stats(Database(args.db, readonly=True))
    return EXIT_OK


def cmd_dedup(args: argparse.Namespace) -> int:
    """Exit 0: every line was a document; 1: stopped at a bad line (the documents before it
    are written) or failed; 4: done, with the bad lines named on stderr skipped."""
    from pipelines.dedup.corpus import (
        BadInput,
        binary_lines,
        dedup_jsonl,
        dedup_jsonl_into_database,
    )
    from storage.db import Database

    if args.window is not None and args.window < 1:
        raise UsageError("--window", "must be at least 1 document")
    out = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    lines = binary_lines(args.input)
    try:
        if args.db:
            report = dedup_jsonl_into_database(
                lines, out, Database(args.db), skip_bad=args.skip_bad
            )
        else:
            report = dedup_jsonl(lines, out, window=args.window, skip_bad=args.skip_bad)
    except BadInput as exc:
        print(f"newscrawl dedup: {args.input}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"newscrawl dedup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if out is not sys.stdout:
            out.close()
    for bad in report.bad:
        print(f"newscrawl dedup: {args.input}: line {bad.number}: {bad.reason}", file=sys.stderr)
    skipped = f", {len(report.bad)} bad lines skipped" if report.bad else ""
    print(f"newscrawl dedup: {report.documents} documents{skipped}", file=sys.stderr)
    return EXIT_BAD_LINES if report.bad else EXIT_OK


def _date(value: str | None, flag: str) -> datetime | None:
    from crawler.dates import parse_date

    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ValueError(f"{flag}: not a date: {value!r}")
    return parsed


def cmd_export(args: argparse.Namespace) -> int:
    from crawler.output import export
    from storage import exports
    from storage.db import Database

    try:
        if args.revisions and args.consumer:
            raise ValueError("--revisions and --consumer: a consumer receives articles only")
        known = export.REVISION_FIELDS if args.revisions else export.FIELDS
        fields = export.check_fields(args.fields.split(",") if args.fields else None, known)
        flt = exports.ExportFilter(
            outlets=args.outlet or (),
            published_since=_date(args.published_since, "--published-since"),
            published_until=_date(args.published_until, "--published-until"),
            fetched_since=_date(args.fetched_since, "--fetched-since"),
            fetched_until=_date(args.fetched_until, "--fetched-until"),
            language=args.language,
            unique=args.unique,
        )
    except ValueError as exc:
        print(f"newscrawl export: {exc}", file=sys.stderr)
        return EXIT_FAILED
    writer = export.WRITERS[args.format]
    # a read: nothing migrated or created; only a consumer's checkpoint is ever written
    db = Database(args.db, readonly=not args.consumer, migrate=False)
    try:
        if args.revisions:
            rows = exports.iter_revisions(db, flt)
            recs = export.records(rows, fields, export.REVISIONS_SCHEMA_VERSION)
            count = export.write_to(args.output, writer, recs, fields)
        elif not args.consumer:
            recs = export.records(exports.iter_articles(db, flt), fields)
            count = export.write_to(args.output, writer, recs, fields)
        else:
            exports.check_consumer_writable(db, args.consumer)
            last_id = 0

            def tracked(rows: Iterator[exports.ExportRow]) -> Iterator[exports.ExportRow]:
                nonlocal last_id
                for row in rows:
                    last_id = max(last_id, row.article.id)
                    yield row

            with exports.consumer_batch(db, args.consumer, flt) as batch:
                recs = export.records(tracked(batch.rows), fields)
                count = export.write_to(args.output, writer, recs, fields)
            # Only now, with every record written, does the consumer's checkpoint move.
            exports.advance_consumer(db, args.consumer, batch.until, count, last_id)
    except BrokenPipeError:
        if not args.consumer:
            raise  # the reader had what it wanted (| head): quiet, exit 0 (crawler.cli.main)
        # a consumer's batch is delivered whole or not at all: say so, it comes again next time
        _quiet_stdout()
        print(
            f"newscrawl export: the reader closed the pipe; consumer {args.consumer!r}'s "
            "checkpoint has not moved (the same articles come next time)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except OSError as exc:
        print(f"newscrawl export: {export.write_error(args.output, exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.dispose()
    what = "revisions" if args.revisions else "articles"
    print(f"newscrawl export: {count} {what} ({args.format})", file=sys.stderr)
    return EXIT_OK


def _quiet_stdout() -> None:
    """Standard output to /dev/null, so the interpreter's last flush into a closed pipe does
    not print a traceback."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.output.export import open_output, write_error
    from crawler.output.report import render
    from storage.db import Database
    from storage.reports import gather

    db = Database(args.db, readonly=True)
    html = render(gather(db, days=args.days, health_runs=args.health_runs))
    if args.output in (None, "-"):
        sys.stdout.write(html)
    else:
        try:
            with open_output(args.output) as out:
                out.write(html)
        except OSError as exc:
            print(f"newscrawl report: {write_error(args.output, exc)}", file=sys.stderr)
            return EXIT_FAILED
        print(f"newscrawl report: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_browse(args: argparse.Namespace) -> int:
    import subprocess

    from sqlalchemy.engine import make_url

    from crawler.output.browse import datasette_command, write_metadata
    from storage.db import Database

    url = make_url(database_url(args.db))
    if url.get_backend_name() != "sqlite" or not url.database:
        print(
            "newscrawl browse: Datasette reads SQLite files; give --db sqlite:///FILE "
            "(a PostgreSQL corpus can be exported first)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    db_path = Path(url.database)
    Database(args.db, readonly=True).dispose()  # exists and is at the newest schema
    with tempfile.TemporaryDirectory(prefix="newscrawl-browse-") as folder:
        meta = write_metadata(db_path, Path(folder))
        print(f"newscrawl browse: http://{args.host}:{args.port}/{db_path.stem}", file=sys.stderr)
        server = subprocess.Popen(datasette_command(db_path, meta, args.host, args.port))
        # Stopped by SIGTERM (a service manager, kill) as by Ctrl-C: the server goes with us,
        # not left holding the port with its temporary folder gone.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return server.wait()
        except KeyboardInterrupt:
            return EXIT_OK
        finally:
            signal.signal(signal.SIGTERM, previous)
            _stop(server)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _stop(server: Any) -> None:
    import subprocess

    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _delay(seconds: float) -> str:
    if seconds < 3600:
        return f"+{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"+{seconds / 3600:.1f} h"
    return f"+{seconds / 86400:.1f} d"


def _why(evidence: dict[str, Any] | None, matched: int | None) -> str:
    """One line of a link's evidence: against which article, how much shared, the passages."""
    if not evidence:
        return f"matched #{matched}" if matched else "(no evidence recorded)"
    if evidence.get("exact"):
        return f"same text as #{matched}"
    parts = [
        f"matched #{matched}: passages cover {evidence.get('coverage', 0):.0%} of the shorter "
        f"text, {evidence.get('coverage_longer', 0):.0%} of the longer"
    ]
    for p in evidence.get("passages") or []:
        parts.append(f'[{p["units"]} units at {p["at"]}: "{p.get("text") or ""}..."]')
    return " ".join(parts)


def cmd_clusters(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from crawler.dates import utcnow
    from storage.clusters import largest_clusters
    from storage.db import Database

    out = out or sys.stdout
    since = utcnow() - timedelta(days=args.days) if args.days else None
    views = largest_clusters(Database(args.db, readonly=True), limit=args.limit, since=since)
    if not views:
        print("no clusters with copies yet", file=out)
    for view in views:
        c = view.canonical
        when = c.published_at.strftime("%Y-%m-%d %H:%M") if c.published_at else "?"
        print(f"cluster {view.cluster_id}: {len(view.copies) + 1} articles", file=out)
        print(f"  canonical #{c.article_id} {c.outlet_id} {when}  {c.title}", file=out)
        print(f"            {c.url}", file=out)
        for m in view.copies:
            delay = (
                _delay((m.published_at - c.published_at).total_seconds())
                if m.published_at and c.published_at
                else "?"
            )
            print(
                f"  copy      #{m.article_id} {m.outlet_id} {delay:>10}  J={m.similarity:.2f} "
                f"C={m.containment:.2f}  {m.title}",
                file=out,
            )
            print(f"            {_why(m.evidence, m.matched_id)}", file=out)
    return EXIT_OK


def _consumer_name(text: str) -> str:
    if not 1 <= len(text) <= 128:
        raise argparse.ArgumentTypeError("a consumer name is 1 to 128 characters")
    return text


def register(sub: Any) -> None:
    from crawler.output.export import FORMATS

    p = sub.add_parser("stats", help="per-outlet counts")
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("dedup", help="deduplicate a JSON Lines corpus (id, text, ...) in memory")
    p.add_argument("input", help="JSON Lines file, or - for standard input")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.add_argument("--db", help="database to use as the memory (default: in memory only)")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="report bad lines (with their number) on stderr and go on; exit 4 if any",
    )
    p.add_argument(
        "--window",
        type=number(int, 1, 10**12),
        metavar="N",
        help="remember only the latest N documents (default: all; memory grows with it)",
    )
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser("export", help="export the corpus as JSON Lines, CSV or Parquet")
    p.add_argument("--format", choices=FORMATS, default="jsonl")
    p.add_argument("--output", "-o", help="file (default: standard output)")
    p.add_argument("--outlet", action="append", help="only this outlet (repeatable)")
    p.add_argument("--published-since")
    p.add_argument("--published-until")
    p.add_argument("--fetched-since")
    p.add_argument("--fetched-until")
    p.add_argument("--language")
    p.add_argument("--unique", action="store_true", help="one article per cluster: the canonical")
    p.add_argument("--fields", help="comma-separated fields (default: all)")
    p.add_argument(
        "--revisions",
        action="store_true",
        help="the earlier versions of the chosen articles instead, one record per revision",
    )
    p.add_argument(
        "--consumer",
        type=_consumer_name,
        help="only what is new or changed since this consumer's last export",
    )
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("browse", help="browse the corpus in Datasette, with ready-made queries")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=PORT, default=8001)
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_browse)

    p = sub.add_parser("report", help="a self-contained HTML report with charts")
    p.add_argument("--output", "-o", help="HTML file (default: standard output)")
    p.add_argument(
        "--days", type=number(int, 1, DAYS), default=30, help="days of articles to chart"
    )
    p.add_argument(
        "--health-runs",
        type=number(int, 1, 10**6),
        default=3,
        help="flag outlets with no new articles in this many runs",
    )
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("clusters", help="the largest recent clusters of syndicated copies")
    p.add_argument("--limit", type=number(int, 1, 10**6), default=10)
    p.add_argument(
        "--days",
        type=number(float, 0, DAYS),
        default=30.0,
        help="stored within this many days (0: all)",
    )
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_clusters)
