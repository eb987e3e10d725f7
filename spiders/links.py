"""A page read for its links, as a ``homepage`` source: for a site with neither feed nor
sitemap, its homepage (or a section page) lists the newest articles, and is polled like a feed.
Every ``<a href>`` becomes an entry; which of them are articles is the outlet's
``article_url_patterns`` (required with this kind), applied by the spider as for any source."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree

from crawler.decoding import Undecodable, decode_html
from crawler.items import Discovery
from crawler.urls import is_fetchable
from spiders.feeds import FeedResult

#: links read from one page at most: a page with more is a directory, not a homepage
MAX_LINKS = 5000


def parse_links(body: bytes, page_url: str, kind: str = "homepage") -> FeedResult:
    """The page's links in document order, absolute, without fragments, each once;
    ``valid=False`` for bytes that are not an HTML page."""
    result = FeedResult()
    try:
        text = decode_html(body, None).text
        tree = lxml.html.document_fromstring(text)
    except (Undecodable, etree.ParserError, ValueError) as exc:
        return FeedResult(valid=False, error=f"not an HTML page ({type(exc).__name__})")
    seen: set[str] = set()
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href:
            continue
        link = urldefrag(urljoin(page_url, href))[0]
        if not is_fetchable(link):
            result.skip("bad_scheme")
            continue
        if link in seen or link == page_url:
            continue
        if len(seen) >= MAX_LINKS:
            result.skip("too_many_links")
            continue
        seen.add(link)
        result.entries.append(Discovery(url=link, source_url=page_url, source_kind=kind))
    return result
