"""newscrawl: crawl news outlets into a clean, deduplicated corpus, and get it out again.

Exit codes: 0 success; 1 a run failed (storage error, bad configuration, a bad argument);
2 interrupted; 3 another crawl holds the lock; 4 ``dedup --skip-bad`` skipped bad lines.

One module per command group, each with its ``register(subparsers)``: ``crawling`` (crawl,
worker, schedule, demo), ``pages`` (extract, outlets), ``fetch`` (live pages to text),
``ingest`` (WARC files in), ``reextract`` (ingested articles extracted again),
``corpus`` (stats, dedup, export, report, browse, clusters),
``search``, ``history`` (an article's versions), ``admin`` (upgrade),
``outlet`` (outlet new, outlet check).
``common`` holds what they share. The commands parse arguments, call into the packages that
do the work and print; no domain logic here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from crawler.cli import (
    admin,
    corpus,
    crawling,
    fetch,
    history,
    ingest,
    outlet,
    pages,
    reextract,
    search,
)
from crawler.cli.common import (
    EXIT_BAD_LINES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    Parser,
    UsageError,
)
from crawler.cli.pages import cmd_extract
from storage.location import StorageError

__all__ = [
    "EXIT_BAD_LINES",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "build_parser",
    "cmd_extract",
    "main",
]

COMMAND_GROUPS = (
    crawling,
    pages,
    fetch,
    ingest,
    reextract,
    corpus,
    search,
    history,
    admin,
    outlet,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newscrawl")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> Parser:
    parser = Parser(prog="newscrawl", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"newscrawl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or an option error (1, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    try:
        code: int = args.func(args)
    except BrokenPipeError:
        # the reader went away (| head): it had what it wanted; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("newscrawl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, StorageError) as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        return _report(exc)
    return code


def _report(exc: Exception) -> int:
    """The errors a command may end with, each one line and exit 1; anything else is a bug and
    raised as it is. Their modules are imported only now: ``--help`` needs none of them."""
    from sqlalchemy.exc import SQLAlchemyError

    from crawler.registry import OutletError
    from pipelines.dedup.params import ParamsMismatch

    if isinstance(exc, OutletError | ParamsMismatch):
        print(f"newscrawl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(exc, SQLAlchemyError):
        # a database that fails mid-command (damaged pages, a server gone): one line, no trace
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"newscrawl: database error: {reason}", file=sys.stderr)
        return EXIT_FAILED
    raise exc
