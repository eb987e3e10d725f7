"""What a site offers a crawl, found from its homepage (``newscrawl outlet add``) and checked
(``add`` and ``check --live``): feeds (``<link rel="alternate">``, feed links in the page,
common paths) and sitemaps (robots.txt ``Sitemap:`` lines, common paths, the news sitemaps of a
sitemap index), each fetched through the one fetcher (``fetch.py``) and parsed by the crawl's
own parsers (``spiders/feeds.py``, ``spiders/sitemaps.py``, ``spiders/links.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from tld import get_fld

import crawler.settings as project_settings
from crawler.items import Discovery
from crawler.outlet_kit.fetch import _FEED_TYPES, Fetched, Fetcher, ToolError
from crawler.registry import host_allowed
from crawler.urls import is_fetchable
from spiders.feeds import FeedResult, parse_feed
from spiders.links import parse_links
from spiders.sitemaps import parse_sitemap_bytes, sitemaps_from_robots

#: tried when the homepage announces no feed; ``/feeds/`` is read as a page of feed links
FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/index.rdf")
FEED_DIRECTORY_PATHS = ("/feeds/",)
#: tried when robots.txt names no sitemap
SITEMAP_PATHS = ("/sitemap.xml", "/news-sitemap.xml", "/sitemap_index.xml")
#: children of one sitemap index checked at most (news-looking ones first)
MAX_INDEX_CHILDREN = 5
#: sources checked at most for one site (politeness: a discovery is not a crawl)
MAX_CHECKS = 30
_FEED_SEGMENT = re.compile(
    r"(rss|atom|feeds?)(\.(xml|rss|atom))?|[\w.-]*\.(rss|atom)|(rss|atom|feed)[\w.-]*\.xml",
    re.IGNORECASE,
)


def looks_like_feed(url: str) -> bool:
    """A path with a segment like ``rss``, ``feed``, ``feeds``, ``atom.xml``, ``news.rss`` or
    ``rss-world.xml`` (not a slug that merely contains the word)."""
    return any(_FEED_SEGMENT.fullmatch(seg) for seg in urlsplit(url).path.split("/") if seg)


def site_domain(url: str) -> str:
    """The registrable domain of ``url`` (public suffix list), else its host without
    ``www.`` (an address, a ``.localhost`` name, an intranet name)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    fld = get_fld(url, fail_silently=True, fix_protocol=True)
    if isinstance(fld, str) and fld and not re.fullmatch(r"[\d.]+", host):
        return fld
    return host[4:] if host.startswith("www.") else host


def host_domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def same_site(url: str, homepage: str) -> bool:
    return host_allowed(urlsplit(url).hostname or "", [site_domain(homepage)])


@dataclass
class Checked:
    """One source as found and checked."""

    url: str
    found_by: str  # "link rel=alternate", "a Sitemap line of robots.txt", "common path", ...
    kind: str = "?"  # rss, atom, sitemap, sitemap_index, news_sitemap, homepage; "?" if broken
    entries: list[str] = field(default_factory=list)  # entry URLs, newest first
    titles: dict[str, str] = field(default_factory=dict)
    newest: datetime | None = None
    error: str | None = None
    body: bytes = b""
    children: list[Checked] = field(default_factory=list)  # of an index
    sample: str = ""  # the sample extraction, for the table

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.entries or self.children)


def _html_tree(page: Fetched) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return None


def announced_feeds(page: Fetched) -> list[str]:
    """The feeds a page announces with ``<link rel="alternate" type="...rss+xml">``."""
    tree = _html_tree(page)
    found: list[str] = []
    for link in tree.iter("link") if tree is not None else ():
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        url = urljoin(page.url, href)
        if "alternate" in rel and kind in _FEED_TYPES and href and url not in found:
            found.append(url)
    return found


def feed_links(page: Fetched) -> list[str]:
    """``<a href>`` links of a page that look like feeds (rss, atom, feed in the path)."""
    found: list[str] = []
    for entry in parse_links(page.body, page.url).entries:
        if looks_like_feed(entry.url) and entry.url not in found:
            found.append(entry.url)
    return found


def _newest(result_dates: list[datetime | None]) -> datetime | None:
    dates = [d for d in result_dates if d is not None]
    return max(dates) if dates else None


def _when(entry: Discovery) -> float:
    date = entry.published or entry.modified
    return date.timestamp() if date else 0.0


def _fill_from_feed(checked: Checked, result: FeedResult, body: bytes) -> None:
    entries = sorted(result.entries, key=_when, reverse=True)
    checked.entries = [e.url for e in entries]
    checked.titles = {e.url: e.title for e in entries if e.title}
    checked.newest = _newest([e.published or e.modified for e in result.entries])
    checked.kind = "atom" if b"<feed" in body[:2048].lower() else "rss"


def _why(exc: ToolError, url: str) -> str:
    """A fetch error without its "cannot fetch URL: " prefix (the table shows the URL)."""
    text = str(exc)
    prefix = f"cannot fetch {url}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def check_source(fetcher: Fetcher, url: str, found_by: str, *, depth: int = 0) -> Checked:
    """Fetch and parse one feed or sitemap (an index: its first news-looking children too)."""
    checked = Checked(url, found_by)
    try:
        fetched = fetcher.fetch(url)
    except ToolError as exc:
        checked.error = _why(exc, url)
        return checked
    checked.body = fetched.body
    feed = parse_feed(fetched.body, fetched.url)
    if feed.valid and feed.entries:
        _fill_from_feed(checked, feed, fetched.body)
        return checked
    sitemap = parse_sitemap_bytes(
        fetched.body, fetched.url, "sitemap", project_settings.DOWNLOAD_MAXSIZE
    )
    if sitemap.kind == "index":
        checked.kind = "sitemap_index"
        if depth >= 1:
            checked.error = "a sitemap index inside an index: not followed"
            return checked
        children = sorted(sitemap.sitemaps, key=lambda u: "news" not in u.lower())
        for child in children[:MAX_INDEX_CHILDREN]:
            checked.children.append(
                check_source(fetcher, child, f"the sitemap index {url}", depth=depth + 1)
            )
        if len(children) > MAX_INDEX_CHILDREN:
            checked.found_by += f" ({len(children)} sitemaps; {MAX_INDEX_CHILDREN} checked)"
        if not checked.children:
            checked.error = "an empty sitemap index"
        return checked
    if sitemap.kind == "urlset" and sitemap.entries:
        news = any(e.source_kind == "news_sitemap" for e in sitemap.entries)
        checked.kind = "news_sitemap" if news else "sitemap"
        dated = sorted(sitemap.entries, key=_when, reverse=True)
        checked.entries = [e.url for e in dated]
        checked.titles = {e.url: e.title for e in dated if e.title}
        checked.newest = _newest([e.published or e.modified for e in sitemap.entries])
        return checked
    if feed.valid or sitemap.kind == "urlset":
        checked.error = "no entries"
    else:
        checked.error = f"neither a feed nor a sitemap ({sitemap.error or feed.error})"
    return checked


def check_page(fetcher: Fetcher, url: str, found_by: str, page: Fetched | None = None) -> Checked:
    """A ``homepage`` source: the page's links (which are articles is for the patterns)."""
    checked = Checked(url, found_by, kind="homepage")
    try:
        page = page or fetcher.fetch(url)
    except ToolError as exc:
        checked.error = _why(exc, url)
        return checked
    checked.body = page.body
    result = parse_links(page.body, page.url)
    if not result.valid:
        checked.error = result.error
    checked.entries = [e.url for e in result.entries]
    return checked


@dataclass
class Site:
    """Everything found for one homepage."""

    homepage: Fetched
    robots: str  # what happened to robots.txt: "ok", "none", "unreachable: ..."
    sources: list[Checked] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, why not used)
    tried: list[str] = field(default_factory=list)  # common paths that gave nothing

    def usable(self) -> list[Checked]:
        """Working sources, best first: news sitemaps, feeds, then plain sitemaps."""
        flat: list[Checked] = []
        for source in self.sources:
            if source.kind == "sitemap_index":
                flat.extend(c for c in source.children if c.ok)
            elif source.ok:
                flat.append(source)
        order = {"news_sitemap": 0, "rss": 1, "atom": 1, "sitemap": 2}
        return sorted(flat, key=lambda c: order.get(c.kind, 3))


def discover(fetcher: Fetcher, homepage_url: str) -> Site:
    """Fetch the homepage (following redirects) and robots.txt, find and check sources."""
    homepage = fetcher.fetch(homepage_url)
    home = homepage.url
    _parser, robots_body, robots_state = fetcher.robots(home)
    site = Site(homepage, robots_state)
    seen: set[str] = set()

    def consider(url: str, found_by: str, *, quiet: bool = False) -> None:
        if url in seen:
            return
        seen.add(url)
        if not is_fetchable(url):
            site.skipped.append((url[:200], f"{found_by}, not an http(s) URL: not used"))
            return
        if not same_site(url, home):
            site.skipped.append((url, f"{found_by}, on another site: not used"))
            return
        if len(seen) > MAX_CHECKS:
            site.skipped.append((url, f"{found_by}: not checked (over {MAX_CHECKS} candidates)"))
            return
        checked = check_source(fetcher, url, found_by)
        if quiet and checked.error:
            site.tried.append(urlsplit(url).path)
            return
        site.sources.append(checked)

    for url in announced_feeds(homepage):
        consider(url, 'link rel="alternate"')
    for url in feed_links(homepage):
        consider(url, "link in the homepage")
    if not any(s.ok for s in site.sources):
        for path in FEED_PATHS:
            consider(urljoin(home, path), "common path", quiet=True)
        for path in FEED_DIRECTORY_PATHS:
            try:
                directory = fetcher.fetch(urljoin(home, path))
            except ToolError:
                site.tried.append(path)
                continue
            for url in feed_links(directory):
                consider(url, f"link in {path}")
    robots_sitemaps = sitemaps_from_robots(robots_body, urljoin(home, "/robots.txt"))
    for url in robots_sitemaps:
        consider(url, "a Sitemap line of robots.txt")
    if not robots_sitemaps:
        for path in SITEMAP_PATHS:
            consider(urljoin(home, path), "common path", quiet=True)
    return site
