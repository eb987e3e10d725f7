"""XML sitemaps, sitemap indexes and Google News sitemaps, keeping what Scrapy's own parser drops
(``news:title``, ``news:publication_date``, ``lastmod``). Parsed without entity expansion, DTDs or
network access."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree

from crawler.dates import believable, parse_date
from crawler.items import Discovery
from crawler.urls import is_fetchable
from spiders.feeds import SkipCounter

_SITEMAP_LINE_RE = re.compile(rb"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
    )


@dataclass
class SitemapResult(SkipCounter):
    kind: str = "urlset"  # or "index", or "invalid"
    entries: list[Discovery] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    error: str | None = None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            text = (child.text or "").strip()
            return text or None
    return None


def _find(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _location(element: etree._Element, base: str, result: SitemapResult) -> str | None:
    """The element's <loc> as an absolute http(s) URL, or None with the reason counted."""
    loc = _child_text(element, "loc")
    if not loc:
        result.skip("no_loc")
        return None
    loc = urljoin(base, loc)
    if not is_fetchable(loc):
        result.skip("bad_scheme")
        return None
    return loc


def parse_sitemap_bytes(body: bytes, sitemap_url: str, kind: str, max_size: int) -> SitemapResult:
    """``parse_sitemap`` for a body that may be gzipped (``.xml.gz``), decompressed up to
    ``max_size`` bytes: a bomb or a broken archive gives an invalid result, not an exception."""
    if body[:2] == b"\x1f\x8b":
        # imported here: this runs in the extraction workers, which otherwise never load
        # Scrapy (about 25 MiB of each worker's memory)
        from scrapy.utils.gz import gunzip

        try:
            body = gunzip(body, max_size=max_size)
        except Exception as exc:  # scrapy raises its own size error, gzip its own
            return SitemapResult(kind="invalid", error=f"bad gzip: {exc}")
    return parse_sitemap(body, sitemap_url, kind)


def parse_sitemap(body: bytes, sitemap_url: str, kind: str = "sitemap") -> SitemapResult:
    result = SitemapResult()
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        return SitemapResult(kind="invalid", error=f"not XML: {exc}")
    if root is None:
        return SitemapResult(kind="invalid", error="empty document")
    root_name = _local(root.tag)
    if root_name == "sitemapindex":
        result.kind = "index"
        for sm in root:
            if _local(sm.tag) == "sitemap" and (loc := _location(sm, sitemap_url, result)):
                result.sitemaps.append(loc)
        return result
    if root_name != "urlset":
        return SitemapResult(kind="invalid", error=f"not a sitemap: root element is <{root_name}>")
    seen: set[str] = set()
    for url_el in root:
        if _local(url_el.tag) != "url":
            continue
        loc = _location(url_el, sitemap_url, result)
        if not loc:
            continue
        if loc in seen:
            result.skip("duplicate_entry")
            continue
        seen.add(loc)
        lastmod = believable(parse_date(_child_text(url_el, "lastmod")))
        title = published = None
        tags: tuple[str, ...] = ()
        news = _find(url_el, "news")
        if news is not None:
            title = _child_text(news, "title")
            published = believable(parse_date(_child_text(news, "publication_date")))
            keywords = _child_text(news, "keywords")
            if keywords:
                tags = tuple(k.strip() for k in keywords.split(",") if k.strip())
        result.entries.append(
            Discovery(
                url=loc,
                source_url=sitemap_url,
                source_kind="news_sitemap" if news is not None else kind,
                title=title,
                published=published,
                modified=lastmod,
                tags=tags,
            )
        )
    return result


def sitemaps_from_robots(body: bytes, robots_url: str) -> list[str]:
    """``Sitemap:`` lines of a robots.txt, as absolute http(s) URLs."""
    found = []
    for match in _SITEMAP_LINE_RE.finditer(body[:1_000_000]):
        url = urljoin(robots_url, match.group(1).decode("utf-8", "replace"))
        if is_fetchable(url) and url not in found:
            found.append(url)
    return found
