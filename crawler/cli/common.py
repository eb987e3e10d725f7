"""What every command shares: exit codes, the one error type for bad arguments, the argument
parser and its number types, the Scrapy settings of a run, and starting a crawl."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from storage.location import StorageError

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED = 0, 1, 2, 3
#: ``newscrawl dedup``: done, with the bad lines named on stderr skipped
EXIT_BAD_LINES = 4


class UsageError(Exception):
    """A command-line argument that cannot be used: the option and why, one line, exit 1."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(f"{option}: {problem}")


class Parser(argparse.ArgumentParser):
    """Option errors are one line and exit 1 (argparse's exit 2 means "interrupted" here)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_FAILED, f"{self.prog}: {message} (see {self.prog} --help)\n")


def number(kind: type[int] | type[float], low: float, high: float) -> Any:
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


PORT = number(int, 0, 65535)
DAYS = 100 * 366  # a century: more than any corpus holds, and no date overflows


def add_db_option(p: argparse.ArgumentParser, outlets: bool = True) -> None:
    from crawler.registry import OUTLETS_DIR_ENV

    p.add_argument(
        "--db",
        help="database URL (default: $NEWSCRAWL_DATABASE_URL, else "
        "sqlite:///newscrawl.db in the working folder)",
    )
    if outlets:
        p.add_argument(
            "--outlets-dir", help=f"folder of extra outlet files (default: ${OUTLETS_DIR_ENV})"
        )


def add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting")


def scrapy_settings(db: str | None, outlets_dir: str | None, **overrides: Any) -> Any:
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


#: settings read by scrapy-redis in distributed mode (REDIS_HOST, SCHEDULER_IDLE_BEFORE_CLOSE...),
#: which declares no list of them
_LIBRARY_PREFIXES = ("REDIS_", "SCHEDULER_")


def _known_setting_names() -> list[str]:
    from scrapy.settings import default_settings

    from crawler import runtime
    from crawler import settings as ours
    from crawler.distributed.queues import distributed_settings

    names = {n for module in (default_settings, ours) for n in dir(module) if n.isupper()}
    names |= {*runtime.DEDUP_THRESHOLD_SETTINGS, *distributed_settings("redis://")}
    return sorted(names)


def _check_types(settings: Any, overrides: dict[str, Any]) -> None:
    """``--set NAME=VALUE`` must name a setting that exists (a misspelt name would be ignored)
    and fit it (a number where a number is read, true or false for a switch), so a typo is
    one line now rather than a silent no-op or a traceback mid-crawl."""
    if not overrides:  # the checks import the crawl's runtime: 1.5 s a command need not pay
        return
    from scrapy.settings import default_settings

    from crawler import runtime
    from crawler import settings as ours

    known = _known_setting_names()
    for name, value in overrides.items():
        if name not in known and not name.startswith(_LIBRARY_PREFIXES):
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError("--set", f"{name}: no such Scrapy or newscrawl setting{hint}")
        if name == "NEWSCRAWL_REFETCH_AFTER":
            from crawler.polling import refetch_schedule

            try:
                refetch_schedule(settings.getlist(name))
            except ValueError as exc:
                raise UsageError("--set", str(exc)) from None
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
            raise UsageError("--set", f"{name}={value}: must be {what}") from None


def overrides(pairs: Sequence[str] | None) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs: any Scrapy or newscrawl setting, as on ``scrapy crawl -s``."""
    out = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError("--set", f"expected NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def prepare(db: str | None, outlets_dir: str | None, names: Sequence[str]) -> list[str]:
    """Validate the registry and the database before Scrapy starts: errors are one clear line."""
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.registry import load_registry
    from storage.db import Database
    from storage.outlets import sync_outlets

    outlets = load_registry(outlets_dir)
    unknown = [n for n in names if n not in outlets]
    if unknown:
        raise UsageError("outlet", f"unknown outlet(s): {', '.join(unknown)}")
    database = Database(db)  # creates or upgrades the schema, or fails clearly
    try:
        sync_outlets(database, [o.record() for o in outlets.values()])  # and it must take writes
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot write to database {database.engine.url!r}: {exc}") from exc
    finally:
        database.dispose()
    if names:
        return list(names)  # named outlets are crawled, enabled or not
    enabled = [outlet_id for outlet_id, outlet in outlets.items() if outlet.enabled]
    if not enabled:
        raise UsageError(
            "outlet", "every outlet is disabled (enabled = false); name one to crawl it"
        )
    return enabled


#: loggers whose INFO lines are the framework's per-request detail: under cron they log
#: warnings and errors only, so that a quiet run writes a line per outlet and the summary
FRAMEWORK_LOGGERS = ("scrapy", "twisted", "py.warnings", "filelock")


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def quiet_framework_logs(names: Sequence[str] = FRAMEWORK_LOGGERS) -> None:
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_crawl(names: Sequence[str], settings: Any, live: bool | None = None) -> int:
    """Crawl the named outlets in one Scrapy process; the worst run's exit code. On a terminal
    a live table shows progress (and only warnings are logged); otherwise plain log lines.
    Either way one summary line closes the run."""
    from scrapy.crawler import CrawlerProcess

    from crawler import runtime
    from crawler.output.progress import LiveProgress, summary_line
    from crawler.shutdown import SignalStop

    live = sys.stderr.isatty() if live is None else live
    # the log level was not chosen (--set LOG_LEVEL=..., $NEWSCRAWL_LOG_LEVEL)
    default_level = (
        settings.getpriority("LOG_LEVEL") < 40 and "NEWSCRAWL_LOG_LEVEL" not in os.environ
    )
    if live and default_level:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    quiet = not live and default_level
    if quiet:
        # Scrapy's start-up lines are logged inside CrawlerProcess(), whose logging set-up
        # resets the levels of the "scrapy" loggers but keeps their filters
        logging.getLogger("scrapy.utils.log").addFilter(_below_warning)
    process = CrawlerProcess(settings)
    if quiet:
        quiet_framework_logs()
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
