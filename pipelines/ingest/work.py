"""What an extraction worker does with one archived page: the crawl's decoding
(``crawler.decoding.decode_html`` with the record's Content-Type charset), the crawl's
extraction and reconciliation (``pipelines.extract.page``) and the dedup fingerprint. Runs in
the worker processes; plain values in, plain values out."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.decoding import Undecodable, decode_html
from crawler.registry import ExtractionHints
from pipelines.dedup.fingerprint import Fingerprint, fingerprint
from pipelines.dedup.params import DedupParams
from pipelines.extract.page import ExtractionFailed, extract_page, reconcile
from storage.content import ArticleContent


@dataclass(frozen=True)
class PageTask:
    body: bytes
    charset: str | None
    url: str
    hints: ExtractionHints
    outlet_language: str
    params: DedupParams


@dataclass(frozen=True)
class Extracted:
    content: ArticleContent
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Failed:
    reason: str  # the crawl's reason codes: "undecodable", "text_too_short", ...
    detail: str = ""


def process_page(task: PageTask) -> Extracted | Failed:
    """Decode, extract, reconcile and fingerprint one page, as the crawl does."""
    try:
        html = decode_html(task.body, task.charset).text
        hints = task.hints
        page = extract_page(
            html,
            task.url,
            drop_selectors=hints.drop_selectors,
            drop_line_patterns=hints.drop_line_patterns,
            keep_selectors=hints.keep_selectors,
        )
    except (Undecodable, ExtractionFailed) as exc:
        return Failed(exc.reason, exc.detail)
    content = reconcile(page, None, task.outlet_language)
    return Extracted(content, fingerprint(content.text, task.params))
