"""``history URL``: every stored version of an article, oldest first, with when each was seen
and a word diff from each version to the next. The URL may be in any form the crawl met it
(tracking parameters, http or https, a redirect's address): it is canonicalised as the crawl
does and looked up among the aliases too. Reads open the database read-only."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any, TextIO

from crawler.cli.common import EXIT_FAILED, EXIT_OK, add_db_option

if TYPE_CHECKING:
    from storage.revisions import History


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


#: a revision's cause worth saying: the others are the outlet's edits, seen when read again
_CAUSES = {"reextract": " (re-extracted: the extractor changed, not the page)"}


def print_history(history: History, out: TextIO) -> None:
    from storage.textdiff import readable_diff

    versions = history.versions
    print(f"{history.url} (article #{history.article_id}, {history.outlet_id}): ", end="", file=out)
    print(f"{len(versions)} version{'s' if len(versions) != 1 else ''}", file=out)
    for n, (v, nxt) in enumerate(zip(versions, [*versions[1:], None], strict=True), 1):
        label = "current" if v.revision is None else f"revision {v.revision}"
        print(f"\nversion {n} ({label}), seen {_when(v.seen_at)}", file=out)
        print(f"  title: {v.title or '(none)'}", file=out)
        if nxt is None:
            continue
        assert v.replaced_at is not None
        why = _CAUSES.get(v.cause or "", "")
        print(f"  replaced {_when(v.replaced_at)}: {v.changed} changed{why}", file=out)
        if (v.title or "") != (nxt.title or ""):
            print(f"  title -> {nxt.title or '(none)'}", file=out)
        for line in readable_diff(v.text, nxt.text):
            print(f"  {line}", file=out)


def cmd_history(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from crawler.urls import canonical_url
    from storage.db import Database
    from storage.revisions import history

    urls = [args.url]
    # not a URL the crawl would fetch: perhaps an alias stored as written
    with contextlib.suppress(ValueError):
        urls.insert(0, canonical_url(args.url))
    db = Database(args.db, readonly=True, migrate=False)
    try:
        found = history(db, urls)
    finally:
        db.dispose()
    if found is None:
        print(f"newscrawl history: no article stored under {args.url}", file=sys.stderr)
        return EXIT_FAILED
    print_history(found, out or sys.stdout)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("history", help="an article's stored versions, with a word diff")
    p.add_argument("url", help="the article's URL, in any form the crawl met it")
    add_db_option(p, outlets=False)
    p.set_defaults(func=cmd_history)
