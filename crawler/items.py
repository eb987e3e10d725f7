"""What travels through the crawl: discovery metadata, fetched pages, failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.content import ArticleContent


@dataclass
class Discovery:
    """What a feed entry or sitemap entry said about an article, carried with its request."""

    url: str
    source_url: str
    source_kind: str
    title: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    author: str | None = None
    summary: str | None = None
    tags: tuple[str, ...] = ()

    def to_meta(self) -> dict[str, Any]:
        # Plain types only, so requests stay serialisable for JOBDIR and scrapy-redis. A copy of
        # the fields, not dataclasses.asdict (a deep copy: 20 µs an entry of a big sitemap).
        data = dict(vars(self))
        for key in ("published", "modified"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> Discovery:
        data = dict(data)
        for key in ("published", "modified"):
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        data["tags"] = tuple(data.get("tags") or ())
        return cls(**data)


@dataclass
class ArticleItem:
    """One fetched article page on its way to storage. Pipelines fill the later fields."""

    outlet_id: str
    url: str  # the URL requested (as discovered)
    response_url: str  # after redirects
    html: str
    fetched_at: datetime
    discovery: Discovery | None = None
    declared_canonical: str | None = None  # the page's rel=canonical, a claim to check
    # filled by the normalize pipeline
    canonical_url: str = ""
    aliases: list[str] = field(default_factory=list)
    # filled by the extract pipeline: the article's own fields (declared in storage.content)
    content: ArticleContent = field(default_factory=ArticleContent)
    # filled by the dedup pipeline
    dedup: Any = None


@dataclass
class FetchFailure:
    """A URL that could not be fetched; recorded in URL state so a later run retries it."""

    outlet_id: str
    url: str
    reason: str
    detail: str = ""
