"""Main text and metadata from an article page (trafilatura), and reconciliation with what the
feed or sitemap said. Pure functions; ``extract_page`` runs inside worker processes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import trafilatura
from cssselect import GenericTranslator

from crawler.dates import believable, parse_date
from crawler.items import Discovery
from crawler.text import clean_field, clean_text

# htmldate gives dates only by default; with a time, the earliest of two same-day copies wins.
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "original_date": True,
    "extensive_search": True,
}

#: Below this many characters an extraction is not an article (a stub, a paywall, an error page).
MIN_TEXT_CHARS = 200


class ExtractionFailed(Exception):
    """No usable article text; ``reason`` is the short code recorded in URL state."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class PageExtraction:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    language: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    site_name: str | None = None


@lru_cache(maxsize=256)
def _css_to_xpath(selectors: tuple[str, ...]) -> tuple[str, ...]:
    translator = GenericTranslator()
    return tuple(translator.css_to_xpath(sel, prefix="//") for sel in selectors)


@lru_cache(maxsize=256)
def _line_res(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def drop_lines(text: str, patterns: tuple[str, ...]) -> str:
    if not patterns:
        return text
    regexes = _line_res(patterns)
    kept = [line for line in text.split("\n") if not any(r.fullmatch(line) for r in regexes)]
    return clean_text("\n".join(kept))


def extract_page(
    html: str,
    url: str,
    drop_selectors: tuple[str, ...] = (),
    drop_line_patterns: tuple[str, ...] = (),
) -> PageExtraction:
    """trafilatura's main text and metadata; raises ExtractionFailed when nothing usable."""
    if not html or not html.strip():
        raise ExtractionFailed("empty_page")
    doc: Any = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        date_extraction_params=_DATE_PARAMS,
        prune_xpath=list(_css_to_xpath(drop_selectors)) or None,
    )
    if doc is None or not getattr(doc, "text", None):
        raise ExtractionFailed("extraction_empty")
    text = drop_lines(clean_text(doc.text), drop_line_patterns)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractionFailed("text_too_short", f"{len(text)} characters")
    return PageExtraction(
        text=text,
        title=clean_field(doc.title),
        author=clean_field(doc.author),
        date=doc.date,
        language=clean_field(doc.language, 16),
        description=clean_field(doc.description, 5000),
        tags=[t for t in (clean_field(x, 200) for x in (doc.tags or [])) if t],
        image=clean_field(doc.image),
        site_name=clean_field(doc.sitename, 300),
    )


def text_hash(text: str) -> str:
    """Hash of the whitespace-normalised text: identical bodies hash alike."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass
class Reconciled:
    title: str | None
    author: str | None
    published: datetime | None
    published_source: str | None
    language: str
    description: str | None
    tags: list[str]


def reconcile(
    page: PageExtraction,
    discovery: Discovery | None,
    outlet_language: str,
    now: datetime | None = None,
) -> Reconciled:
    """Merge page and feed/sitemap metadata. The feed's explicit publication date and headline beat
    the page's (the page date is a guess by htmldate); a date in the future is never believed."""
    d = discovery
    title = clean_field(d.title) if d and d.title else None
    title = title or page.title
    author = page.author or (clean_field(d.author) if d and d.author else None)

    published: datetime | None = None
    source: str | None = None
    if d and believable(d.published, now):
        published, source = d.published, d.source_kind
    elif page_date := believable(parse_date(page.date), now):
        published, source = page_date, "page"
    elif d and believable(d.modified, now):
        published, source = d.modified, f"{d.source_kind}_lastmod"

    description = page.description or (clean_field(d.summary, 5000) if d and d.summary else None)
    tags = list(dict.fromkeys([*(d.tags if d else ()), *page.tags]))
    language = (page.language or outlet_language or "").split("-")[0].lower() or outlet_language
    return Reconciled(
        title=title,
        author=author,
        published=published,
        published_source=source,
        language=language,
        description=description,
        tags=tags,
    )
