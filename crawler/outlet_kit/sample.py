"""Sample articles of a site fetched and extracted as the crawl extracts them
(``pipelines/extract/page.py``'s ``extract_page``, called as is), for ``outlet add`` and
``outlet check --live``: each described by the extraction's confidence and its length
("confidence 0.97, 412 words")."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.decoding import Undecodable, charset_from_content_type, decode_html
from crawler.outlet_kit.fetch import Fetched, Fetcher, ToolError
from crawler.registry import Outlet
from pipelines.extract.page import ExtractionFailed, declared_language, extract_page


@dataclass
class Sample:
    url: str
    fetched: Fetched | None = None
    words: int = 0
    chars: int = 0
    confidence: float | None = None
    language: str | None = None
    title: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.error:
            return f"fails: {self.error}"
        if self.confidence is not None:
            return f"confidence {self.confidence:.2f}, {self.words} words"
        return f"{self.words} words"


def _language(tag: str | None) -> str | None:
    code = (tag or "").strip().split("-")[0].split("_")[0].lower()
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def extract_sample(
    fetcher: Fetcher, url: str, feed_title: str | None = None, outlet: Outlet | None = None
) -> Sample:
    """Fetch ``url`` and extract it (with the outlet's hints, when there is an outlet)."""
    sample = Sample(url)
    try:
        fetched = fetcher.fetch(url)
    except ToolError as exc:
        sample.error = str(exc)
        return sample
    sample.fetched = fetched
    try:
        html = decode_html(fetched.body, charset_from_content_type(fetched.content_type)).text
    except Undecodable as exc:
        sample.error = f"undecodable ({exc.detail})"
        return sample
    hints = outlet.extraction if outlet else None
    try:
        page = extract_page(
            html,
            fetched.url,
            hints.drop_selectors if hints else (),
            hints.drop_line_patterns if hints else (),
            hints.keep_selectors if hints else (),
            feed_title,
            None,
        )
    except ExtractionFailed as exc:
        sample.error = exc.reason
        return sample
    sample.words = len(page.text.split())
    sample.chars = len(page.text)
    sample.confidence = page.confidence
    sample.language = _language(page.language) or _language(declared_language(html))
    sample.title = page.title
    return sample
