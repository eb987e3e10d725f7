"""Main text and metadata from an article page (trafilatura), and reconciliation with what the
feed or sitemap said. Pure functions; ``extract_page`` runs inside worker processes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import lxml.html
from cssselect import GenericTranslator
from lxml import etree
from trafilatura.utils import is_dubious_html, repair_faulty_html

from crawler.dates import believable, parse_date
from crawler.decoding import REPLACEMENT, garbled
from crawler.items import Discovery
from pipelines.extract.authors import byline
from pipelines.extract.choose import Candidate, decide, doubts, first_stands
from pipelines.extract.cleanup import (
    drop_leading_headlines,
    drop_trailing_contact_lines,
    strip_captions,
)
from pipelines.extract.evidence import link_texts, page_claims, units
from pipelines.extract.hygiene import clean_field, clean_text
from pipelines.extract.language import decide_language
from pipelines.extract.metadata import page_metadata
from pipelines.extract.modified import page_modified
from pipelines.extract.passes import PagePasses
from storage.content import ArticleContent

#: Below this many units an extraction is not an article (a stub, a paywall, an error page):
#: words, and half a word per Chinese or Japanese character (evidence.units), so a complete
#: 90-character Chinese brief passes where a 200-character floor rejected it.
MIN_TEXT_UNITS = 30


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
    text_hash: str = ""
    #: which trafilatura run gave the text: "precision" (fast), "balanced" or "fallback" (each
    #: with trafilatura's readability/justext fallbacks)
    mode: str = "precision"
    #: how sure the extraction is that the text is the article, 0..1 (choose.py)
    confidence: float = 0.0
    #: which candidate won and why, e.g. "balanced; precision adds prose 0.83 (short (61 units))"
    evidence: str = ""
    #: when the page says the article was last modified (ISO 8601, UTC; modified.py)
    modified: str | None = None

    def __post_init__(self) -> None:
        # hashed here, in the worker, not on the crawler's reactor thread
        self.text_hash = self.text_hash or text_hash(self.text)


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
    # searched, as grep does: "^Share this" drops lines that start so, "^...$" whole lines
    kept = [line for line in text.split("\n") if not any(r.search(line) for r in regexes)]
    return clean_text("\n".join(kept))


def keep_only(html: str, selectors: tuple[str, ...]) -> str:
    """The page with its body reduced to the elements an outlet's keep_selectors name (head kept
    for metadata); the page unchanged when none of them is present."""
    if not selectors:
        return html
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return html
    kept = [el for xp in _css_to_xpath(selectors) for el in tree.xpath(xp)]
    body = tree.find("body")
    if not kept or body is None:
        return html
    for child in list(body):
        body.remove(child)
    body.text = None
    for el in kept:
        body.append(el)
    return str(lxml.html.tostring(tree, encoding="unicode"))


_HTML_LANG_RE = re.compile(
    r"""<html\b[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""", re.IGNORECASE
)
_META_LANG_RE = re.compile(
    r"""<meta\b[^>]*http-equiv\s*=\s*["']?content-language["']?[^>]*content\s*=\s*["']?"""
    r"""([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""",
    re.IGNORECASE,
)


def declared_language(html: str) -> str | None:
    """The language the page declares (``<html lang>``, else a Content-Language meta tag), as
    a BCP 47 tag; None when it declares none. trafilatura reports a language only when asked
    to detect one."""
    head = html[:65536]
    match = _HTML_LANG_RE.search(head) or _META_LANG_RE.search(head)
    return match.group(1).replace("_", "-") if match else None


def _parser() -> lxml.html.HTMLParser:
    """trafilatura's parser settings, with the element classes looked up in C: lxml.html's own
    lookup is a Python call for every element a search touches (about 4800 a page, in each
    trafilatura run on a copy of the tree), and the form-field classes it adds go unused."""
    parser = lxml.html.HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml.html.HtmlElement,
            comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction,
            entity=lxml.html.HtmlEntity,
        )
    )
    return parser


_PARSER = _parser()


def _parse(html: str) -> Any:
    """The page parsed once, as ``trafilatura.load_html`` parses a string (repaired first, as
    bytes when lxml refuses the string, rejected when it is not HTML); every candidate run
    starts from a copy of it."""
    beginning = html[:50].lower()
    html = repair_faulty_html(html, beginning)
    try:
        tree = lxml.html.fromstring(html, parser=_PARSER)
    except Exception:  # a string declaring its encoding, or a page libxml2 cannot read
        tree = None
    if tree is None or len(tree) < 1:
        try:
            tree = lxml.html.fromstring(html.encode("utf-8", "surrogatepass"), parser=_PARSER)
        except Exception:
            tree = None
    if tree is not None and is_dubious_html(beginning) and len(tree) < 2:
        return None
    return tree


def extract_page(
    html: str,
    url: str,
    drop_selectors: tuple[str, ...] = (),
    drop_line_patterns: tuple[str, ...] = (),
    keep_selectors: tuple[str, ...] = (),
    feed_title: str | None = None,
    feed_summary: str | None = None,
    date_known: bool = False,
) -> PageExtraction:
    """Main text and metadata; raises ExtractionFailed when nothing usable.

    trafilatura runs first in precision mode without its fallbacks, and the metadata is found
    once beside it (metadata.py). That text stands unless the evidence doubts it
    (pipelines/extract/choose.py: too short, link lines, a menu, or the feed's
    summary, the page's description or its JSON-LD articleBody missing from it); only then do
    the costlier candidates run, trafilatura's balanced mode with its readability and justext
    fallbacks, and on disagreement precision mode with fallbacks, and the evidence picks. The
    result carries a confidence and the evidence that chose it. ``date_known``: the feed or
    sitemap gave a believable publication date, which beats the page's (reconcile), so the
    page's date is not searched for."""
    if not html or not html.strip():
        raise ExtractionFailed("empty_page")
    page_language = declared_language(html)  # before keep_only drops the <html> tag
    html = keep_only(html, keep_selectors)
    prune = _css_to_xpath(drop_selectors)
    tree = _parse(html)
    if tree is None:
        raise ExtractionFailed("extraction_empty")
    passes = PagePasses(tree, url, prune)
    first = Candidate("precision", clean_text(passes.text(precision=True, fast=True)))
    # found whether or not the first extraction gave up: a later candidate may find the text
    meta = page_metadata(tree, url, find_dates=not date_known)
    links = link_texts(tree)
    claims = page_claims(tree)
    summaries = [feed_summary, getattr(meta, "description", None), claims.description]
    reasons = doubts(first, links, claims, summaries)
    if not reasons:
        choice = first_stands(first, links, claims)
    else:

        def more(name: str) -> Candidate:
            precision = name == "fallback"
            return Candidate(name, clean_text(passes.text(precision=precision, fast=False)))

        choice = decide(first, more, links, claims, reasons)
    text = choice.text
    if not text:
        raise ExtractionFailed("extraction_empty")
    text = strip_captions(text)
    text = drop_leading_headlines(text, [getattr(meta, "title", None), feed_title])
    text = drop_trailing_contact_lines(text)
    text = drop_lines(clean_text(text), drop_line_patterns)
    if garbled(text):  # a page already broken at its source: never stored or fingerprinted
        bad = text.count(REPLACEMENT)
        raise ExtractionFailed("undecodable", f"{bad} of {len(text)} characters are U+FFFD")
    if units(text) < MIN_TEXT_UNITS:
        raise ExtractionFailed("text_too_short", f"{units(text):.0f} units, {len(text)} characters")
    modified = page_modified(tree, claims.date_modified)
    found = {
        "confidence": choice.confidence,
        "evidence": choice.evidence,
        "mode": choice.mode,
        "modified": modified.isoformat() if modified else None,
    }
    return PageExtraction(
        text=text,
        title=clean_field(meta.title),
        author=clean_field(byline(html, meta.author)),
        date=meta.date,
        language=clean_field(meta.language, 16) or page_language,
        description=clean_field(meta.description, 5000),
        tags=[t for t in (clean_field(x, 200) for x in (meta.tags or [])) if t],
        image=clean_field(meta.image),
        site_name=clean_field(meta.sitename, 300),
        **found,  # type: ignore[arg-type]
    )


def text_hash(text: str) -> str:
    """Hash of the whitespace-normalised text: identical bodies hash alike."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def reconcile(
    page: PageExtraction,
    discovery: Discovery | None,
    outlet_language: str,
    now: datetime | None = None,
) -> ArticleContent:
    """The article's fields: the page's text, and its metadata merged with the feed's. The
    feed's explicit publication date and headline beat the page's (the page date is a guess by
    htmldate); a date in the future is never believed."""
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

    # the page's own word on its last change, else the feed's or sitemap's
    modified = believable(parse_date(page.modified), now) or (
        believable(d.modified, now) if d else None
    )
    description = page.description or (clean_field(d.summary, 5000) if d and d.summary else None)
    tags = list(dict.fromkeys([*(d.tags if d else ()), *page.tags]))
    language, language_confidence, language_source = decide_language(
        page.text, page.language, outlet_language
    )
    if not language:
        language, language_source = outlet_language, "outlet"
    return ArticleContent(
        title=title,
        author=author,
        published_at=published,
        published_source=source,
        modified_at=modified,
        language=language,
        description=description,
        tags=tuple(tags),
        image=page.image,
        site_name=page.site_name,
        text=page.text,
        text_hash=page.text_hash,
        extraction_confidence=round(page.confidence, 3),
        extraction_evidence=page.evidence or None,
        language_confidence=language_confidence,
        language_source=language_source,
    )
