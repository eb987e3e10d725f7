"""The article's own fields, declared once. The extract step produces an ``ArticleContent``
(``pipelines.extract.page.reconcile``), the crawl item carries it, a store writes it to the
``articles`` columns of the same names (``storage.models`` checks that they exist), and
exports read them back by these names. Adding a field: here, a column and a migration."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ArticleContent:
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    #: where the date came from: "rss", "atom", "sitemap", "page", "<kind>_lastmod", "input"
    published_source: str | None = None
    #: when the article was last modified, as the page declares it (article:modified_time,
    #: JSON-LD dateModified), else as its feed entry or sitemap lastmod says; a later value at
    #: a refetch means the story is still changing (storage.url_state.due_refetches)
    modified_at: datetime | None = None
    language: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    site_name: str | None = None
    text: str = ""
    text_hash: str = ""
    #: how sure the extractor is that ``text`` is the article (0..1; null for rows stored
    #: before it was recorded) and the evidence that chose the text: the winning candidate
    #: and the signals, e.g. "trafilatura-precision; agree 0.96 with trafilatura-fallback"
    extraction_confidence: float | None = None
    extraction_evidence: str | None = None
    #: how sure the language identifier (fastText lid.176) is of ``language`` when the text
    #: was read (null when it could not tell), and which evidence set it: "declared" (the
    #: page), "outlet" (the registry) or "detected" (the text overruled or filled in)
    language_confidence: float | None = None
    language_source: str | None = None


CONTENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ArticleContent))


def content_values(content: ArticleContent) -> dict[str, Any]:
    """The content as column values (tags as a list, as the JSON column holds them)."""
    values = {name: getattr(content, name) for name in CONTENT_FIELDS}
    values["tags"] = list(content.tags)
    return values


def content_of(row: Any) -> ArticleContent:
    """The content of anything with attributes of these names (an ``articles`` row)."""
    values = {name: getattr(row, name) for name in CONTENT_FIELDS}
    values["tags"] = tuple(values["tags"] or ())
    return ArticleContent(**values)


#: the article's fields (above) as exports name them, and those they leave out
#: (the date's source and the text's hash are the crawl's bookkeeping)
EXPORT_NAMES = {"published_at": "published", "modified_at": "modified"}
NOT_EXPORTED = frozenset({"published_source", "text_hash"})
#: every field of an exported record, in order
EXPORT_FIELDS: tuple[str, ...] = (
    "id",
    "url",
    "outlet",
    *(EXPORT_NAMES.get(name, name) for name in CONTENT_FIELDS if name not in NOT_EXPORTED),
    "fetched",
    "cluster",
    "duplicate_of",
    "similarity",
    "containment",
    "matched",
    "coverage",
    "evidence",
)
