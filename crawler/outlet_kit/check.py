"""``newscrawl outlet check``: the replay of outlets' fixtures against their golden files
(offline, ``golden.py``) and, with ``--live``, the same checks ``outlet add`` makes, on the
site as it is now (for cron): every source answers and parses, lists articles of the outlet,
its newest entry is recent, and the newest article still extracts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from crawler.dates import utcnow
from crawler.outlet_kit import golden
from crawler.outlet_kit.discover import Checked, check_page, check_source
from crawler.outlet_kit.fetch import Fetcher, ToolError
from crawler.outlet_kit.sample import extract_sample
from crawler.registry import PAGE_KINDS, Outlet, load_registry
from spiders.sitemaps import sitemaps_from_robots

#: sitemaps of a robots source checked at most
MAX_ROBOTS_SITEMAPS = 5


@dataclass
class LiveRow:
    checked: Checked
    articles: int  # entries the outlet counts as articles
    problems: list[str]


def live_sources(fetcher: Fetcher, outlet: Outlet) -> list[Checked]:
    """Each source fetched and parsed now (a robots source: the sitemaps it names)."""
    found = []
    for source in outlet.sources:
        if source.kind == "robots":
            try:
                body = fetcher.fetch(source.url).body
            except ToolError as exc:
                found.append(Checked(source.url, "robots", "robots", error=str(exc)))
                continue
            listed = sitemaps_from_robots(body, source.url)
            if not listed:
                found.append(Checked(source.url, "robots", "robots", error="names no sitemap"))
            for url in listed[:MAX_ROBOTS_SITEMAPS]:
                found.append(check_source(fetcher, url, "a Sitemap line of robots.txt"))
        elif source.kind in PAGE_KINDS:
            found.append(check_page(fetcher, source.url, "source"))
        else:
            found.append(check_source(fetcher, source.url, "source"))
    return found


def _flat(checked: list[Checked]) -> list[Checked]:
    return [x for c in checked for x in ([c, *c.children] if c.children else [c])]


def live_check(
    outlet: Outlet, max_age: timedelta, fetcher: Fetcher | None = None
) -> tuple[list[LiveRow], list[str]]:
    """(a row per source, problems): empty problems when the outlet is healthy."""
    fetcher = fetcher or Fetcher()
    rows, problems = [], []
    newest_article: tuple[str, str | None, LiveRow] | None = None
    for checked in _flat(live_sources(fetcher, outlet)):
        if checked.kind == "sitemap_index" and not checked.error:
            rows.append(LiveRow(checked, 0, []))
            continue
        articles = [u for u in checked.entries if outlet.is_article_url(u)]
        mine = []
        if checked.error:
            mine.append(checked.error)
        elif not articles:
            mine.append(f"none of its {len(checked.entries)} entries is an article")
        elif checked.newest is not None and utcnow() - checked.newest > max_age:
            hours = max_age.total_seconds() / 3600
            mine.append(
                f"stale: newest entry {checked.newest:%Y-%m-%d %H:%M}, over {hours:g} h old"
            )
        row = LiveRow(checked, len(articles), mine)
        rows.append(row)
        if articles and newest_article is None:
            newest_article = (articles[0], checked.titles.get(articles[0]), row)
        problems += [f"{checked.url}: {p}" for p in mine]
    if newest_article is None:
        problems.append("no source lists an article to sample")
    else:
        url, title, row = newest_article
        sample = extract_sample(fetcher, url, title, outlet)
        row.checked.sample = sample.describe()
        if sample.error:
            problems.append(f"the newest article {sample.url} does not extract: {sample.error}")
    return rows, problems


def print_live(outlet: Outlet, rows: list[LiveRow], out: TextIO) -> None:
    """One line a source: state, kind, articles listed, newest entry, URL, sample."""
    print(f"{outlet.id}: live check (kind, articles, newest entry, source, state)", file=out)
    for row in rows:
        c = row.checked
        newest = f"{c.newest:%Y-%m-%d %H:%M}" if c.newest else "-"
        state = "; ".join(row.problems) if row.problems else "ok"
        sample = f"  sample: {c.sample}" if c.sample else ""
        print(
            f"  {c.kind:<13} {row.articles:>6}  {newest:<16}  {c.url}{sample}  {state}",
            file=out,
        )


def check_outlets(
    ids: Sequence[str],
    *,
    update: bool,
    outlets_dir: str | None,
    live: bool = False,
    max_age: timedelta = timedelta(days=3),
    out: TextIO | None = None,
) -> int:
    """Replay the named (or all) outlets' fixtures; 0 when every one matches its golden file
    (and, ``live``, when every one passes its live checks)."""
    out = out or sys.stdout
    registry = load_registry(outlets_dir)
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise ToolError(f"no such outlet: {', '.join(unknown)}")
    failed = 0
    for outlet_id in ids or list(registry):
        outlet = registry[outlet_id]
        broken = not _replay(outlet, update, out)
        if live:
            rows, problems = live_check(outlet, max_age)
            print_live(outlet, rows, out)
            for problem in problems:
                print(f"{outlet_id}: FAILED live: {problem}", file=out)
            if problems:
                broken = True
            else:
                print(f"{outlet_id}: live ok", file=out)
        failed += broken
    return 1 if failed else 0


def _replay(outlet: Outlet, update: bool, out: TextIO) -> bool:
    """The fixture replay of one outlet; True when it passes."""
    outlet_id = outlet.id
    try:
        expected, actual, problems = golden.check(outlet)
    except golden.FixtureError as exc:
        print(f"{outlet_id}: FAILED: {exc}", file=out)
        return False
    diff = golden.compare(expected, actual)
    if diff and update:
        path = golden.write_golden(outlet, actual)
        print(f"{outlet_id}: updated {path}", file=out)
    elif diff:
        out.write(diff)
        print(
            f"{outlet_id}: FAILED: the replay differs from golden.json (review the diff; "
            f"accept it with --update-golden)",
            file=out,
        )
    for problem in problems:
        print(f"{outlet_id}: FAILED: {problem}", file=out)
    if (diff and not update) or problems:
        return False
    if not diff:
        print(f"{outlet_id}: ok", file=out)
    return True
