"""The page's metadata: the fields newscrawl stores, found the way trafilatura finds them.

trafilatura's ``extract_metadata`` runs inside its text extraction and also looks for
categories and a licence, which newscrawl never stores; this is the same sequence of its
building blocks without those two, run once per page on the parsed tree (which it does not
change), so that every text extraction can run without metadata. Pure functions."""

from __future__ import annotations

import logging
from typing import Any

from htmldate import find_date
from trafilatura.metadata import (
    META_URL,
    Document,
    examine_meta,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)

from pipelines.extract.authors import search_author

LOGGER = logging.getLogger(__name__)

# htmldate gives dates only by default; with a time, the earliest of two same-day copies wins.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def _site_name(name: str | None, url: str | None, tree: Any) -> str | None:
    """The site's name as trafilatura gives it: declared, else from the <title>, else the host."""
    name = name or extract_sitename(tree)
    if name:
        name = name.lstrip("@")  # a Twitter handle
        if name and "." not in name and not name[0].isupper():
            name = name.title()
        return name
    match = META_URL.match(url) if url else None
    return match[1] if match else None


def page_date(tree: Any, url: str | None) -> str | None:
    """htmldate's publication date: its quick search first, the extensive one (free-text
    patterns, dateparser in every language) only when that finds none. On htmldate's own
    1,000-page evaluation set this is right on 903 pages against 902 for the extensive search
    alone (bench/date_eval.py); on the two extraction sets it costs 1.9 ms a page instead of
    3.0, since dateparser, at about 100 ms a call, runs only where nothing cheaper found one."""
    for extensive in (False, True):
        found = find_date(
            tree,
            extensive_search=extensive,
            original_date=True,
            outputformat=DATE_FORMAT,
            url=url,
        )
        if found:
            return str(found)
    return None


def page_metadata(tree: Any, url: str | None, *, find_dates: bool = True) -> Document:
    """Title, author, date, description, tags, image and site name of the page, as
    ``trafilatura.metadata.extract_metadata`` finds them (in its order: meta tags, then JSON-LD
    overriding them, then searches of the page for what is still missing). Without
    ``find_dates`` the date is left out: htmldate's search is a tenth of an extraction's cost,
    wasted when the feed already gave the date."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # a one-word author is a handle or a site
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception as err:  # trafilatura guards this call so too
        LOGGER.warning("error in JSON metadata extraction: %s", err)
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or search_author(tree)  # extract_author's result, faster
    meta.url = meta.url or extract_url(tree, url)
    if find_dates:
        meta.date = page_date(tree, meta.url)
    meta.sitename = _site_name(meta.sitename, meta.url, tree)
    meta.tags = meta.tags or extract_catstags("tag", tree)
    meta.clean_and_trim()
    return meta
