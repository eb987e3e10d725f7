"""``outlet add``, ``outlet new`` and ``outlet check``: an outlet found from its homepage or
drafted from a named feed, with its golden-test fixtures; the replay of outlets' fixtures and
their live checks (``crawler.outlet_kit``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crawler.registry import OUTLETS_DIR_ENV, OutletError


def cmd_outlet_new(args: argparse.Namespace) -> int:
    # imported here: the outlet kit pulls in lxml, jinja2 and Scrapy, which other commands and
    # --help do without
    from crawler.outlet_kit.draft import new_outlet
    from crawler.outlet_kit.fetch import ToolError

    try:
        new_outlet(
            args.id,
            args.homepage,
            feed_url=args.feed,
            article_url=args.article,
            name=args.name,
            language=args.language,
            outlets_dir=args.outlets_dir,
        )
    except (ToolError, OutletError) as exc:
        print(f"newscrawl outlet new: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_outlet_add(args: argparse.Namespace) -> int:
    from crawler.outlet_kit.add import add_outlet
    from crawler.outlet_kit.fetch import ToolError

    try:
        add_outlet(
            args.url,
            outlet_id=args.id,
            name=args.name,
            force=args.force,
            sections=args.sections,
            outlets_dir=args.outlets_dir,
        )
    except (ToolError, OutletError) as exc:
        print(f"newscrawl outlet add: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_outlet_check(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from crawler.outlet_kit.check import check_outlets
    from crawler.outlet_kit.fetch import ToolError

    try:
        return check_outlets(
            args.ids,
            update=args.update_golden,
            outlets_dir=args.outlets_dir,
            live=args.live,
            max_age=timedelta(hours=args.max_age_hours),
        )
    except (ToolError, OutletError) as exc:
        print(f"newscrawl outlet check: {exc}", file=sys.stderr)
        return 1


def register(sub: Any) -> None:
    """``newscrawl outlet add|new|check`` on the command line's subparsers."""
    parser = sub.add_parser("outlet", help="add an outlet with golden-test fixtures; check them")
    commands = parser.add_subparsers(dest="outlet_command", required=True)
    p = commands.add_parser(
        "add", help="find a site's feeds and sitemaps, sample articles, write ID.toml + fixtures"
    )
    p.add_argument("url", help="the outlet's homepage URL")
    p.add_argument("--id", help="outlet id (default: from the site's domain)")
    p.add_argument("--name", help="display name (default: the id)")
    p.add_argument("--force", action="store_true", help="replace an existing ID.toml")
    p.add_argument(
        "--sections",
        type=int,
        default=2,
        metavar="N",
        help="no feed nor sitemap: read N section pages besides the homepage (default: 2)",
    )
    p.add_argument(
        "--outlets-dir", help=f"where to write (default: ${OUTLETS_DIR_ENV}, else built-in)"
    )
    p.set_defaults(func=cmd_outlet_add)
    p = commands.add_parser(
        "new", help="draft ID.toml from a feed you name (or the announced one) and record it"
    )
    p.add_argument("id", help="outlet id: the file and spider name ([a-z][a-z0-9_]*)")
    p.add_argument("homepage", help="the outlet's homepage URL")
    p.add_argument("--feed", help="feed or sitemap URL (default: the homepage's announced feed)")
    p.add_argument("--article", help="article URL to record (default: the feed's first)")
    p.add_argument("--name", help="display name (default: the id)")
    p.add_argument("--language", help="language code (default: the article page's lang)")
    p.add_argument(
        "--outlets-dir", help=f"where to write (default: ${OUTLETS_DIR_ENV}, else built-in)"
    )
    p.set_defaults(func=cmd_outlet_new)
    p = commands.add_parser("check", help="replay outlets' fixtures and diff with golden.json")
    p.add_argument("ids", nargs="*", metavar="ID", help="outlet ids (default: all)")
    p.add_argument("--update-golden", action="store_true", help="accept the replay as golden")
    p.add_argument(
        "--live",
        action="store_true",
        help="also check the site now: sources answer, parse, are recent; an article extracts",
    )
    p.add_argument(
        "--max-age-hours",
        type=float,
        default=72.0,
        help="--live: a source whose newest entry is older is stale (default: 72)",
    )
    p.add_argument(
        "--outlets-dir", help=f"folder of extra outlet files (default: ${OUTLETS_DIR_ENV})"
    )
    p.set_defaults(func=cmd_outlet_check)
