"""newscrawl: crawl news outlets into a clean, deduplicated corpus, and get it out again.

Exit codes: 0 success; 1 a run failed (storage error, bad configuration); 2 interrupted;
3 another crawl holds the lock.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO, cast

from sqlalchemy.exc import SQLAlchemyError

from crawler.registry import OUTLETS_DIR_ENV, OutletError, load_registry
from pipelines.dedup.params import ParamsMismatch
from storage import locks
from storage.clusters import largest_clusters
from storage.db import Database, StorageError, database_url
from storage.outlets import OutletRecord, sync_outlets
from storage.stats import outlet_stats, recent_articles

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED = 0, 1, 2, 3
DEMO_PORT = 47265


def _scrapy_settings(db: str | None, outlets_dir: str | None, **overrides: Any) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    if db:
        settings.set("NEWSCRAWL_DATABASE_URL", db, priority="cmdline")
    if outlets_dir:
        settings.set("NEWSCRAWL_OUTLETS_DIR", outlets_dir, priority="cmdline")
    for key, value in overrides.items():
        settings.set(key, value, priority="cmdline")
    _check_types(settings, overrides)
    return settings


def run_crawl(names: Sequence[str], settings: Any, live: bool | None = None) -> int:
    """Crawl the named outlets in one Scrapy process; the worst run's exit code. On a terminal
    a live table shows progress (and only warnings are logged); otherwise plain log lines.
    Either way one summary line closes the run."""
    from scrapy.crawler import CrawlerProcess

    from crawler import runtime
    from crawler.progress import LiveProgress, summary_line
    from crawler.shutdown import SignalStop

    live = sys.stderr.isatty() if live is None else live
    if live and settings.getpriority("LOG_LEVEL") < 40:  # not chosen on the command line
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    process = CrawlerProcess(settings)
    crawlers = []
    for name in names:
        crawler = process.create_crawler(name)
        crawlers.append(crawler)
        process.crawl(crawler)
    display = LiveProgress(crawlers, sys.stderr) if live else None
    if display:
        display.start()
    SignalStop(process).install()  # a second SIGINT stops at once, exit 2 (crawler.shutdown)
    try:
        process.start(install_signal_handlers=False)
    finally:
        if display:
            display.stop()
        runtime.shutdown()
    codes = [int(c.stats.get_value("newscrawl/exit_code", EXIT_FAILED)) for c in crawlers]
    code = max(codes) if codes else EXIT_OK
    print(summary_line(crawlers, code), file=sys.stderr, flush=True)
    return code


def _prepare(db: str | None, outlets_dir: str | None, names: Sequence[str]) -> list[str]:
    """Validate the registry and the database before Scrapy starts: errors are one clear line."""
    outlets = load_registry(outlets_dir)
    unknown = [n for n in names if n not in outlets]
    if unknown:
        raise OutletError("(command line)", "outlet", f"unknown outlet(s): {', '.join(unknown)}")
    database = Database(db)  # creates or upgrades the schema, or fails clearly
    try:
        records = [
            OutletRecord(o.id, o.name, o.homepage, o.language, [(s.kind, s.url) for s in o.sources])
            for o in outlets.values()
        ]
        sync_outlets(database, records)  # and it must take writes
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot write to database {database.engine.url!r}: {exc}") from exc
    finally:
        database.dispose()
    return list(names) or list(outlets)


def _check_types(settings: Any, overrides: dict[str, Any]) -> None:
    """``--set NAME=VALUE`` must fit the setting it replaces (a number where a number is read,
    true or false for a switch), so a typo is one line now rather than a traceback mid-crawl."""
    from scrapy.settings import default_settings

    from crawler import runtime
    from crawler import settings as ours

    for name, value in overrides.items():
        default = getattr(ours, name, getattr(default_settings, name, None))
        if default is None and name in runtime.DEDUP_THRESHOLD_SETTINGS:
            default = 0.0
        if isinstance(default, bool):
            get, what = settings.getbool, "true or false"
        elif isinstance(default, int | float):
            get, what = settings.getfloat, "a number"
        else:
            continue
        try:
            get(name)
        except (TypeError, ValueError):
            raise OutletError(
                "(command line)", "--set", f"{name}={value}: must be {what}"
            ) from None


def _overrides(pairs: Sequence[str] | None) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs: any Scrapy or newscrawl setting, as on ``scrapy crawl -s``."""
    out = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise OutletError("(command line)", "--set", f"expected NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def cmd_crawl(args: argparse.Namespace) -> int:
    if args.warc:
        from crawler.warc import WarcFolderError, check_folder

        try:  # before anything is crawled or written
            check_folder(args.warc)
        except WarcFolderError as exc:
            raise OutletError("(command line)", "--warc", str(exc)) from exc
    url = database_url(args.db)
    overrides = _overrides(args.set)
    if args.warc:
        overrides["NEWSCRAWL_WARC_DIR"] = args.warc
    settings = _scrapy_settings(url, args.outlets_dir, **overrides)
    with locks.crawl_lock(url, Path(args.lock) if args.lock else None) as lock:
        if not lock.held:
            print(f"newscrawl: another crawl holds {lock.name}; not starting", file=sys.stderr)
            return EXIT_LOCKED
        names = _prepare(url, args.outlets_dir, args.outlets)
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
        raise OutletError("(command line)", "--redis", "give --redis or $NEWSCRAWL_REDIS_URL")
    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        raise StorageError(f"cannot reach Redis at {redis_url!r}: {exc}") from exc
    url = database_url(args.db)
    prefix = args.prefix or os.environ.get("NEWSCRAWL_REDIS_PREFIX") or DEFAULT_PREFIX
    overrides = {**distributed_settings(redis_url, prefix), **extra, **_overrides(args.set)}
    return url, _scrapy_settings(url, args.outlets_dir, **overrides)


def cmd_worker(args: argparse.Namespace) -> int:
    """Take requests from the shared queues of the named (default: all) outlets until stopped,
    or until the queues have been empty ``--until-idle`` seconds."""
    from scrapy.core.engine import ExecutionEngine

    url, settings = _distributed(args, NEWSCRAWL_WORKER_UNTIL_IDLE=args.until_idle)
    names = _prepare(url, args.outlets_dir, args.outlets)
    # An idle engine asks its scheduler for work at each heartbeat, 5 s by default: a worker
    # waiting on the shared queue asks every NEWSCRAWL_WORKER_QUEUE_CHECK seconds (one cheap
    # Redis call per outlet).
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = settings.getfloat("NEWSCRAWL_WORKER_QUEUE_CHECK")
    return run_crawl(names, settings)


def cmd_schedule(args: argparse.Namespace) -> int:
    """Queue the due source polls and the pending article URLs; once, or every N seconds."""
    import time

    from crawler import runtime
    from crawler.distributed import Scheduler

    url, settings = _distributed(args)
    names = _prepare(url, args.outlets_dir, args.outlets)
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


class PageTooLarge(Exception):
    """A saved page over the size cap, as read or once decompressed."""

    reason = "too_large"  # as the crawl records a download over DOWNLOAD_MAXSIZE


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_capped(stream: _Readable, limit: int, what: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PageTooLarge(f"{what} over {limit} bytes (--max-size)")
    return data


def _read_page(name: str, limit: int) -> tuple[str, bytes]:
    """A saved page's bytes, gunzipped when gzipped; at most ``limit`` bytes either way, read
    and decompressed incrementally, so a gzip bomb costs ``limit`` bytes of memory at most."""
    if name == "-":
        data = _read_capped(sys.stdin.buffer, limit, "page")
    else:
        with Path(name).open("rb") as fh:
            data = _read_capped(fh, limit, "page")
    if data[:2] == b"\x1f\x8b":  # saved pages are often gzipped (.html.gz)
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            data = _read_capped(gz, limit, "decompressed page")
    return ("<stdin>" if name == "-" else name), data


def cmd_extract(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    """The crawl's extraction on saved pages: one JSON object per page on standard output."""
    from crawler.decoding import Undecodable, decode_html
    from crawler.extraction import ExtractionFailed, extract_page, reconcile
    from crawler.registry import ExtractionHints

    if args.url and len(args.files) > 1:
        raise OutletError("(command line)", "--url", "names one page; give one FILE with it")
    hints, language = ExtractionHints(), ""
    if args.outlet:
        registry = load_registry(args.outlets_dir)
        if args.outlet not in registry:
            raise OutletError("(command line)", "--outlet", f"no outlet {args.outlet!r}")
        hints, language = registry[args.outlet].extraction, registry[args.outlet].language
    # the crawl's own cap on a download (decompressed too), unless told otherwise
    limit = args.max_size or _scrapy_settings(None, None).getint("DOWNLOAD_MAXSIZE")
    failed = 0
    for name in args.files:
        record: dict[str, Any] = {"file": name, "url": args.url}
        try:
            source, data = _read_page(name, limit)
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
            date=merged.published.isoformat() if merged.published else None,
            language=merged.language or None,
            description=merged.description,
            text=page.text,
        )
        print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_outlets(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    for outlet in load_registry(args.outlets_dir).values():
        print(f"{outlet.id}\t{outlet.name}\t{outlet.language}\t{outlet.path}", file=out)
        for source in outlet.sources:
            print(f"    {source.kind:<13} {source.url}", file=out)
    return EXIT_OK


def print_stats(db: Database, out: TextIO | None = None) -> None:
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


def cmd_stats(args: argparse.Namespace) -> int:
    print_stats(Database(args.db, readonly=True))
    return EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    settings = _scrapy_settings(args.db, None, **_overrides(args.set))
    db = Database(args.db)
    print(f"database {db.name} is at the newest schema")
    if args.reindex:
        from crawler import runtime
        from pipelines.dedup.fingerprint import fingerprint
        from pipelines.dedup.rebuild import reindex

        params = runtime.dedup_params(settings)
        count = reindex(db, params, lambda text: fingerprint(text, params))
        print(f"dedup: {count} articles fingerprinted with the current parameters")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler import mockweb

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
        _prepare(url, folder, names)
        print(
            f"demo: serving {len(web.outlets)} sample outlets on http://127.0.0.1:{port} "
            f"({sum(len(o.articles) for o in web.outlets)} articles); crawling into {url}"
        )
        settings = _scrapy_settings(
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


EXIT_BAD_LINES = 4


def cmd_dedup(args: argparse.Namespace) -> int:
    """Exit 0: every line was a document; 1: stopped at a bad line (the documents before it
    are written) or failed; 4: done, with the bad lines named on stderr skipped."""
    from pipelines.dedup.corpus import (
        BadInput,
        binary_lines,
        dedup_jsonl,
        dedup_jsonl_into_database,
    )

    if args.window is not None and args.window < 1:
        raise OutletError("(command line)", "--window", "must be at least 1 document")
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


def cmd_export(args: argparse.Namespace) -> int:
    from crawler import export
    from crawler.dates import parse_date
    from storage import exports

    def date(value: str | None, flag: str) -> datetime | None:
        if value is None:
            return None
        parsed = parse_date(value)
        if parsed is None:
            raise ValueError(f"{flag}: not a date: {value!r}")
        return parsed

    try:
        fields = export.check_fields(args.fields.split(",") if args.fields else None)
        flt = exports.ExportFilter(
            outlets=args.outlet or (),
            published_since=date(args.published_since, "--published-since"),
            published_until=date(args.published_until, "--published-until"),
            fetched_since=date(args.fetched_since, "--fetched-since"),
            fetched_until=date(args.fetched_until, "--fetched-until"),
            language=args.language,
            unique=args.unique,
        )
    except ValueError as exc:
        print(f"newscrawl export: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # a read: nothing migrated or created; only a consumer's checkpoint is ever written
    db = Database(args.db, readonly=not args.consumer, migrate=False)
    try:
        if not args.consumer:
            count = _write_export(args, export.records(exports.iter_articles(db, flt), fields))
        else:
            exports.check_consumer_writable(db, args.consumer)
            last_id = 0

            def tracked(rows: Iterator[exports.ExportRow]) -> Iterator[exports.ExportRow]:
                nonlocal last_id
                for row in rows:
                    last_id = max(last_id, row.article.id)
                    yield row

            with exports.consumer_batch(db, args.consumer, flt) as batch:
                count = _write_export(args, export.records(tracked(batch.rows), fields))
            # Only now, with every record written, does the consumer's checkpoint move.
            exports.advance_consumer(db, args.consumer, batch.until, count, last_id)
    except OSError as exc:
        print(f"newscrawl export: {_write_error(args.output, exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.dispose()
    print(f"newscrawl export: {count} articles ({args.format})", file=sys.stderr)
    return EXIT_OK


def _write_export(args: argparse.Namespace, recs: Iterator[dict[str, Any]]) -> int:
    from crawler import export

    fields = export.check_fields(args.fields.split(",") if args.fields else None)
    if args.output in (None, "-"):
        if args.format == "parquet":
            return export.write_parquet(sys.stdout.buffer, recs, fields)
        return _write_text(args.format, sys.stdout, recs, fields)
    with export.open_output(args.output, binary=args.format == "parquet") as out:
        if args.format == "parquet":
            return export.write_parquet(out, recs, fields)
        return _write_text(args.format, cast(TextIO, out), recs, fields)


def _write_error(name: str | None, exc: OSError) -> str:
    """``cannot write FILE: No space left on device``: the file and the reason, on one line."""
    if exc.strerror and name not in (None, "-"):
        return f"cannot write {name}: {exc.strerror}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _write_text(
    fmt: str, out: TextIO, recs: Iterator[dict[str, Any]], fields: Sequence[str]
) -> int:
    from crawler import export

    return export.write_jsonl(out, recs) if fmt == "jsonl" else export.write_csv(out, recs, fields)


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.export import open_output
    from crawler.report import render
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
            print(f"newscrawl report: {_write_error(args.output, exc)}", file=sys.stderr)
            return EXIT_FAILED
        print(f"newscrawl report: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_browse(args: argparse.Namespace) -> int:
    import subprocess

    from sqlalchemy.engine import make_url

    from crawler.browse import write_metadata

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
        cmd = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(db_path),
            "--metadata",
            str(meta),
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--setting",
            "sql_time_limit_ms",
            "5000",
        ]
        print(f"newscrawl browse: http://{args.host}:{args.port}/{db_path.stem}", file=sys.stderr)
        try:
            return subprocess.call(cmd)
        except KeyboardInterrupt:
            return EXIT_OK


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
    out = out or sys.stdout
    from datetime import timedelta

    from crawler.dates import utcnow

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


class _Parser(argparse.ArgumentParser):
    """Option errors are one line and exit 1 (argparse's exit 2 means "interrupted" here)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_FAILED, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _number(kind: type[int] | type[float], low: float, high: float) -> Any:
    """An argparse type: a finite number of ``kind`` from ``low`` to ``high``."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low <= value <= high):  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


PORT = _number(int, 0, 65535)
DAYS = 100 * 366  # a century: more than any corpus holds, and no date overflows


def _consumer_name(text: str) -> str:
    if not 1 <= len(text) <= 128:
        raise argparse.ArgumentTypeError("a consumer name is 1 to 128 characters")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="newscrawl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, outlets: bool = True) -> None:
        p.add_argument(
            "--db",
            help="database URL (default: $NEWSCRAWL_DATABASE_URL, else "
            "sqlite:///newscrawl.db in the working folder)",
        )
        if outlets:
            p.add_argument(
                "--outlets-dir", help=f"folder of extra outlet files (default: ${OUTLETS_DIR_ENV})"
            )

    p = sub.add_parser("crawl", help="crawl all or the named outlets (cron-safe)")
    p.add_argument("outlets", nargs="*", help="outlet ids (default: all)")
    p.add_argument(
        "--lock",
        help="lock file (default: FILE.lock next to a SQLite database; PostgreSQL: an advisory "
        "lock in the database)",
    )
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
    p.add_argument("--warc", metavar="DIR", help="also write every fetched response to WARC files")
    common(p)
    p.set_defaults(func=cmd_crawl)

    def distributed(p: argparse.ArgumentParser) -> None:
        p.add_argument("outlets", nargs="*", help="outlet ids (default: all)")
        p.add_argument("--redis", help="Redis URL of the shared queues ($NEWSCRAWL_REDIS_URL)")
        p.add_argument(
            "--prefix", help="Redis key prefix, to run several crawls on one Redis (newscrawl)"
        )
        p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
        common(p)

    p = sub.add_parser("worker", help="distributed mode: crawl from the shared Redis queues")
    p.add_argument(
        "--until-idle",
        type=_number(float, 0, 10**9),
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
        type=_number(float, 0.001, 10**9),
        metavar="SECONDS",
        help="run again every SECONDS (default: once)",
    )
    distributed(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("demo", help="crawl a bundled sample news web on loopback, offline")
    p.add_argument(
        "--show", type=_number(int, 0, 10**6), default=30, help="how many stored articles to list"
    )
    # A fixed port keeps the sample's URLs stable, so a second demo run finds them stored.
    p.add_argument("--port", type=PORT, default=DEMO_PORT, help="loopback port to serve on")
    p.add_argument("--log-level", default="WARNING")
    common(p, outlets=False)
    p.set_defaults(func=cmd_demo)

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

    p = sub.add_parser("stats", help="per-outlet counts")
    common(p, outlets=False)
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
        type=_number(int, 1, 10**12),
        metavar="N",
        help="remember only the latest N documents (default: all; memory grows with it)",
    )
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser("export", help="export the corpus as JSON Lines, CSV or Parquet")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
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
        "--consumer",
        type=_consumer_name,
        help="only what is new or changed since this consumer's last export",
    )
    common(p, outlets=False)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("browse", help="browse the corpus in Datasette, with ready-made queries")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=PORT, default=8001)
    common(p, outlets=False)
    p.set_defaults(func=cmd_browse)

    p = sub.add_parser("report", help="a self-contained HTML report with charts")
    p.add_argument("--output", "-o", help="HTML file (default: standard output)")
    p.add_argument(
        "--days", type=_number(int, 1, DAYS), default=30, help="days of articles to chart"
    )
    p.add_argument(
        "--health-runs",
        type=_number(int, 1, 10**6),
        default=3,
        help="flag outlets with no new articles in this many runs",
    )
    common(p, outlets=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("clusters", help="the largest recent clusters of syndicated copies")
    p.add_argument("--limit", type=_number(int, 1, 10**6), default=10)
    p.add_argument(
        "--days",
        type=_number(float, 0, DAYS),
        default=30.0,
        help="stored within this many days (0: all)",
    )
    common(p, outlets=False)
    p.set_defaults(func=cmd_clusters)

    p = sub.add_parser("upgrade", help="create or upgrade the database schema")
    p.add_argument(
        "--reindex",
        action="store_true",
        help="fingerprint stored articles again with the current dedup parameters "
        "(after an upgrade that changed them; clusters are kept)",
    )
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")
    common(p, outlets=False)
    p.set_defaults(func=cmd_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or an option error (1, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    try:
        code: int = args.func(args)
    except BrokenPipeError:
        # the reader went away (| head): stop quietly; a consumer's checkpoint has not moved
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("newscrawl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OutletError, StorageError, ParamsMismatch) as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        # a database that fails mid-command (damaged pages, a server gone): one line, no trace
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"newscrawl: database error: {reason}", file=sys.stderr)
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
