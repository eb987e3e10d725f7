"""``newscrawl outlet new``: an outlet file drafted from its site, with a recorded feed and
article page and the golden file of their extraction; and what ``outlet add`` (``add.py``)
shares with it: the templates, the id and target checks, staging and installing.

``outlet new ID HOMEPAGE`` fetches the feed (``--feed``, else the one the homepage announces in
a ``<link rel="alternate">``) and one article it lists (``--article``, else the first), writes
``ID.toml`` from ``templates/outlet.toml.j2`` and ``fixtures/ID/`` beside it, in the folder of
user outlets (``--outlets-dir``, else ``NEWSCRAWL_OUTLETS_DIR``, else the built-in folder of a
source checkout). Everything is built in a scratch folder first: an error leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import jinja2
import lxml.html
from lxml import etree

import crawler.settings as project_settings
from crawler.outlet_kit import golden
from crawler.outlet_kit.discover import announced_feeds
from crawler.outlet_kit.fetch import Fetched, Fetcher, ToolError
from crawler.registry import (
    BUILTIN_DIR,
    OUTLETS_DIR_ENV,
    Outlet,
    OutletError,
    load_outlet_file,
    load_registry,
)
from crawler.urls import is_fetchable
from spiders.feeds import parse_feed
from spiders.sitemaps import parse_sitemap_bytes

TEMPLATES = Path(__file__).parent.parent / "templates"
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # as crawler.registry checks it


# -- drafting ------------------------------------------------------------------------------------


def source_kind(feed: Fetched, url: str) -> str:
    """The registry's kind for the recorded source: rss, atom, sitemap or news_sitemap."""
    parsed = parse_feed(feed.body, url)
    if parsed.valid and parsed.entries:
        head = feed.body[:2048].lower()
        return "atom" if b"<feed" in head else "rss"
    sitemap = parse_sitemap_bytes(feed.body, url, "sitemap", project_settings.DOWNLOAD_MAXSIZE)
    if sitemap.kind == "index":
        child = sitemap.sitemaps[0] if sitemap.sitemaps else "?"
        raise ToolError(
            f"{url} is a sitemap index: give --feed one of its sitemaps that lists articles "
            f"(the first is {child})"
        )
    if sitemap.kind == "urlset" and sitemap.entries:
        news = any(e.source_kind == "news_sitemap" for e in sitemap.entries)
        return "news_sitemap" if news else "sitemap"
    if parsed.valid or sitemap.kind == "urlset":
        raise ToolError(f"the feed at {url} has no entries")
    raise ToolError(f"{url} is neither an RSS/Atom feed nor a sitemap ({parsed.error})")


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _toml_value(value: Any) -> str:
    """A TOML basic string (or array of them): quotes, backslashes and control characters
    escaped, the rest as is."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _comment_text(value: Any) -> str:
    """Text for a TOML comment: one line, no control characters (a URL or an error message
    from a site cannot end the comment and write TOML)."""
    return "".join(ch if ch.isprintable() else " " for ch in str(value))[:500]


def render_outlet(template: str = "outlet.toml.j2", **values: Any) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # TOML, not HTML: strings go through the toml filter
        keep_trailing_newline=True,
    )
    env.filters["toml"] = _toml_value
    env.filters["comment"] = _comment_text
    return env.get_template(template).render(today=date.today().isoformat(), **values)


def target_dir(outlets_dir: str | None) -> Path:
    """Where a new outlet goes: the option, else NEWSCRAWL_OUTLETS_DIR, else the built-in
    folder (a developer's checkout)."""
    chosen = outlets_dir or os.environ.get(OUTLETS_DIR_ENV)
    folder = Path(chosen) if chosen else BUILTIN_DIR
    if not folder.is_dir():
        raise ToolError(f"{folder}: the outlets folder does not exist")
    return folder


@dataclass
class Draft:
    toml: str
    feed: Fetched
    article: Fetched
    article_url: str  # as the feed lists it (the request's URL)
    source_kind: str
    source_url: str


def _draft_toml(
    outlet_id: str, homepage: str, source: tuple[str, str], article_url: str, **opts: Any
) -> str:
    kind, feed_url = source
    domains = sorted({_domain(homepage), _domain(feed_url)})
    return render_outlet(
        id=outlet_id,
        name=opts.get("name") or outlet_id,
        homepage=homepage,
        language=opts.get("language") or "en",
        allowed_domains=domains,
        source_kind=kind,
        source_url=feed_url,
        article_url=article_url,
        article_host=urlsplit(article_url).netloc,
        robots_url=urljoin(homepage, "/robots.txt"),
    )


def _stage(folder: Path, outlet_id: str, toml: str, recording: golden.Recording) -> Outlet:
    """Write the outlet file and its recorded fixtures into ``folder``; load it back."""
    path = folder / f"{outlet_id}.toml"
    path.write_text(toml, encoding="utf-8")
    try:
        outlet = load_outlet_file(path)
    except OutletError as exc:
        raise ToolError(f"the drafted outlet file is not valid: {exc.key}: {exc.problem}") from exc
    fixtures = golden.fixtures_dir(outlet)
    fixtures.mkdir(parents=True)
    (fixtures / golden.FEED_FILE).write_bytes(recording.feed)
    (fixtures / golden.ARTICLE_FILE).write_bytes(recording.article)
    return outlet


def new_outlet(
    outlet_id: str,
    homepage: str,
    *,
    feed_url: str | None = None,
    article_url: str | None = None,
    name: str | None = None,
    language: str | None = None,
    outlets_dir: str | None = None,
    out: TextIO | None = None,
) -> Path:
    """Draft, record and write a new outlet; returns its file. ToolError on bad input."""
    out = out or sys.stdout
    check_id(outlet_id)
    if not is_fetchable(homepage):
        raise ToolError(f"not an http(s) URL: {homepage}")
    folder = free_target(outlet_id, outlets_dir, force=False)

    fetcher = Fetcher()
    if feed_url is None:
        page = fetcher.fetch(homepage)
        feed_url = next(iter(announced_feeds(page)), None)
        if feed_url is None:
            raise ToolError(
                f'{homepage} announces no feed (<link rel="alternate" type="application/'
                'rss+xml">): give --feed URL'
            )
    feed = fetcher.fetch(feed_url)
    kind = source_kind(feed, feed_url)

    with tempfile.TemporaryDirectory(prefix=f".new-{outlet_id}-", dir=folder) as scratch:
        staging = Path(scratch)
        # First draft: which article requests does the outlet's own spider make of the feed?
        recording = golden.Recording(kind, feed_url, feed.body, "", b"")
        draft_opts = {"name": name, "language": language}
        toml = _draft_toml(outlet_id, homepage, (kind, feed_url), article_url or "", **draft_opts)
        outlet = _stage(staging, outlet_id, toml, recording)
        requested = golden.article_urls(outlet, recording)
        if not requested:
            raise ToolError(
                f"the feed at {feed_url} lists no article links on "
                f"{', '.join(outlet.allowed_domains)}"
            )
        if article_url is None:
            article_url = requested[0]
        elif article_url not in requested:
            raise ToolError(
                f"{article_url} is not among the {len(requested)} article links of {feed_url} "
                f"(the first is {requested[0]})"
            )
        article = fetcher.fetch(article_url)
        if language is None:
            language = _page_language(article) or "en"
        toml = _draft_toml(
            outlet_id, homepage, (kind, feed_url), article_url, name=name, language=language
        )
        shutil.rmtree(staging / golden.FIXTURES)
        recording = golden.Recording(
            kind,
            feed_url,
            feed.body,
            article_url,
            article.body,
            article.url if article.url != article_url else None,
        )
        outlet = _stage(staging, outlet_id, toml, recording)
        result = golden.replay(outlet, recording)
        golden.write_golden(outlet, result)
        problems = golden.problems(outlet, recording, result)
        final_toml = install(staging, outlet, folder, force=False)
    report_written(final_toml, problems, out)
    return final_toml


def check_id(outlet_id: str) -> None:
    if not _ID_RE.match(outlet_id):
        raise ToolError(
            f"invalid outlet id {outlet_id!r}: lower-case letters, digits and _, starting with "
            "a letter (it is the file and spider name)"
        )


def free_target(outlet_id: str, outlets_dir: str | None, *, force: bool) -> Path:
    """The folder a new outlet goes to; ToolError when the id is taken (``force``: only an
    outlet file in that same folder may be replaced)."""
    folder = target_dir(outlets_dir)
    existing = load_registry(folder)
    final_toml = folder / f"{outlet_id}.toml"
    if outlet_id in existing and not (force and Path(existing[outlet_id].path) == final_toml):
        hint = " (--force replaces it)" if Path(existing[outlet_id].path) == final_toml else ""
        raise ToolError(f"outlet {outlet_id!r} exists already: {existing[outlet_id].path}{hint}")
    for path in (final_toml, folder / golden.FIXTURES / outlet_id):
        if path.exists() and not force:
            raise ToolError(f"{path} exists already (--force replaces it)")
    return folder


def install(staging: Path, outlet: Outlet, folder: Path, *, force: bool) -> Path:
    """Move a staged outlet file and its fixtures into ``folder``: the fixtures first, the
    outlet file last (the registry sees it only then). ``force`` replaces what is there."""
    final_toml = folder / f"{outlet.id}.toml"
    final_fixtures = folder / golden.FIXTURES / outlet.id
    final_fixtures.parent.mkdir(exist_ok=True)
    if force and final_fixtures.exists():
        shutil.rmtree(final_fixtures)
    os.rename(golden.fixtures_dir(outlet), final_fixtures)
    try:
        if final_toml.exists() and not force:
            raise ToolError(f"{final_toml} appeared meanwhile")
        os.replace(staging / f"{outlet.id}.toml", final_toml)
    except BaseException:
        shutil.rmtree(final_fixtures, ignore_errors=True)
        raise
    return final_toml


def report_written(final_toml: Path, problems: list[str], out: TextIO) -> None:
    outlet_id = final_toml.stem
    print(f"wrote {final_toml}", file=out)
    fixtures = final_toml.parent / golden.FIXTURES / outlet_id
    print(f"wrote {fixtures}/ ({', '.join(golden.FIXTURE_FILES)})", file=out)
    for problem in problems:
        print(f"warning: {outlet_id}: {problem}", file=out)
    print(
        f"review both, then: newscrawl outlet check {outlet_id} (docs/adding-an-outlet.md)",
        file=out,
    )


def _page_language(page: Fetched) -> str | None:
    try:
        tree = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return None
    lang = (tree.get("lang") or "").strip().split("-")[0].lower()
    return lang if re.fullmatch(r"[a-z]{2,3}", lang) else None
