"""``newscrawl search "QUERY" [--outlet ID] [--since DATE]``: full-text search over the stored
articles' titles and texts (``storage.search``). Opens the database read-only."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from crawler.cli.common import EXIT_OK, UsageError, add_db_option, number


def cmd_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """One article per two lines, best match first: id, date, outlet, title, URL, then the text
    around the match (matches in [brackets]). Exit 0 with no hits too (it says so on stderr)."""
    from crawler.dates import parse_date
    from storage.db import Database
    from storage.search import search, terms

    out = out or sys.stdout
    if not terms(args.query):
        raise UsageError("QUERY", "no words to search for")
    since = None
    if args.since is not None:
        since = parse_date(args.since)
        if since is None:
            raise UsageError("--since", f"not a date: {args.since!r}")
    db = Database(args.db, readonly=True)
    try:
        hits = search(db, args.query, outlet=args.outlet, since=since, limit=args.limit)
    finally:
        db.dispose()
    for h in hits:
        when = h.published_at.strftime("%Y-%m-%d") if h.published_at else "????-??-??"
        print(f"#{h.article_id} {when} {h.outlet_id}  {h.title or '(no title)'}  {h.url}", file=out)
        print(f"    {' '.join(h.snippet.split())}", file=out)
    if not hits:
        print("newscrawl search: no articles match", file=sys.stderr)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "search",
        help='full-text search of titles and texts: words (all must occur) and "phrases"',
    )
    p.add_argument("query", metavar="QUERY")
    add_db_option(p, outlets=False)
    p.add_argument("--outlet", help="only this outlet's articles")
    p.add_argument("--since", metavar="DATE", help="only articles published at or after DATE")
    p.add_argument("--limit", type=number(int, 1, 10_000), default=20, help="at most (20)")
    p.set_defaults(func=cmd_search)
