"""``newscrawl outlet new`` and ``newscrawl outlet check``: an outlet file drafted from its site,
with a recorded feed and article page and the golden file of their extraction; and the replay
of every outlet's fixtures against its golden file (``crawler/outlet_kit/golden.py``).

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
from collections.abc import Sequence
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
from crawler.outlet_kit.fetch import _FEED_TYPES, Fetched, Fetcher, ToolError
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


def announced_feed(homepage: Fetched) -> str | None:
    """The first feed a page announces with ``<link rel="alternate" type="...rss+xml">``."""
    try:
        tree = lxml.html.document_fromstring(homepage.body)
    except (etree.ParserError, ValueError):
        return None
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower()
        href = link.get("href")
        if "alternate" in rel and kind in _FEED_TYPES and href:
            return urljoin(homepage.url, str(href).strip())
    return None


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


def render_outlet(**values: Any) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # TOML, not HTML: strings go through the toml filter
        keep_trailing_newline=True,
    )
    env.filters["toml"] = _toml_value
    return env.get_template("outlet.toml.j2").render(today=date.today().isoformat(), **values)


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
    if not _ID_RE.match(outlet_id):
        raise ToolError(
            f"invalid outlet id {outlet_id!r}: lower-case letters, digits and _, starting with "
            "a letter (it is the file and spider name)"
        )
    if not is_fetchable(homepage):
        raise ToolError(f"not an http(s) URL: {homepage}")
    folder = target_dir(outlets_dir)
    existing = load_registry(folder)
    if outlet_id in existing:
        raise ToolError(f"outlet {outlet_id!r} exists already: {existing[outlet_id].path}")
    final_toml = folder / f"{outlet_id}.toml"
    final_fixtures = folder / golden.FIXTURES / outlet_id
    for path in (final_toml, final_fixtures):
        if path.exists():
            raise ToolError(f"{path} exists already")

    fetcher = Fetcher()
    if feed_url is None:
        page = fetcher.fetch(homepage)
        feed_url = announced_feed(page)
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

        # Into place: the fixtures first, the outlet file last (the registry sees it only then).
        final_fixtures.parent.mkdir(exist_ok=True)
        os.rename(golden.fixtures_dir(outlet), final_fixtures)
        try:
            if final_toml.exists():
                raise ToolError(f"{final_toml} appeared meanwhile")
            os.rename(staging / f"{outlet_id}.toml", final_toml)
        except BaseException:
            shutil.rmtree(final_fixtures, ignore_errors=True)
            raise
    print(f"wrote {final_toml}", file=out)
    print(f"wrote {final_fixtures}/ ({', '.join(golden.FIXTURE_FILES)})", file=out)
    for problem in problems:
        print(f"warning: {outlet_id}: {problem}", file=out)
    print(
        f"review both, then: newscrawl outlet check {outlet_id} (docs/adding-an-outlet.md)",
        file=out,
    )
    return final_toml


def _page_language(page: Fetched) -> str | None:
    try:
        tree = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return None
    lang = (tree.get("lang") or "").strip().split("-")[0].lower()
    return lang if re.fullmatch(r"[a-z]{2,3}", lang) else None


# -- checking ------------------------------------------------------------------------------------


def check_outlets(
    ids: Sequence[str], *, update: bool, outlets_dir: str | None, out: TextIO | None = None
) -> int:
    """Replay the named (or all) outlets' fixtures; 0 when every one matches its golden file."""
    out = out or sys.stdout
    registry = load_registry(outlets_dir)
    unknown = [i for i in ids if i not in registry]
    if unknown:
        raise ToolError(f"no such outlet: {', '.join(unknown)}")
    failed = 0
    for outlet_id in ids or list(registry):
        outlet = registry[outlet_id]
        try:
            expected, actual, problems = golden.check(outlet)
        except golden.FixtureError as exc:
            print(f"{outlet_id}: FAILED: {exc}", file=out)
            failed += 1
            continue
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
            failed += 1
        elif not diff:
            print(f"{outlet_id}: ok", file=out)
    return 1 if failed else 0
