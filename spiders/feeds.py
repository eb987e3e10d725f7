"""RSS 2.0, RSS 1.0 and Atom feeds parsed from bytes (never a string or path: feedparser would
fetch URLs and open files given those)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser

from crawler.dates import believable, from_struct_time
from crawler.items import Discovery
from crawler.urls import is_fetchable

_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


def strip_html(text: str | None) -> str | None:
    if not text:
        return None
    cleaned = _SPACE_RE.sub(" ", _TAG_RE.sub(" ", text)).strip()
    return cleaned or None


@dataclass
class SkipCounter:
    #: reason -> count for entries skipped (no link, bad scheme, ...)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass
class FeedResult(SkipCounter):
    entries: list[Discovery] = field(default_factory=list)
    valid: bool = True
    error: str | None = None


def _entry_date(entry: Any, key: str) -> Any:
    # dict.get: FeedParserDict.get maps a missing "updated" to "published" (with a warning).
    return believable(from_struct_time(dict.get(entry, f"{key}_parsed")))


def parse_feed(body: bytes, feed_url: str, kind: str = "rss") -> FeedResult:
    """Entries of a feed with their metadata; invalid feeds give ``valid=False`` and no entries."""
    result = FeedResult()
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": feed_url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.get("version") and not parsed.entries:
        result.valid = False
        exc = parsed.get("bozo_exception")
        result.error = f"not a feed ({type(exc).__name__})" if exc else "not a feed"
        return result
    seen: set[str] = set()
    for entry in parsed.entries:
        link = entry.get("link") or ""
        if not link:
            # Atom entries may carry several links; take the alternate one.
            for candidate in entry.get("links", []):
                if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                    link = candidate["href"]
                    break
        if not link:
            result.skip("no_link")
            continue
        link = urljoin(feed_url, link.strip())
        if not is_fetchable(link):
            result.skip("bad_scheme")
            continue
        if link in seen:
            result.skip("duplicate_entry")
            continue
        seen.add(link)
        modified = _entry_date(entry, "updated")
        # RSS 1.0 (dc:date) and many RSS 2.0 feeds give only one date, which feedparser files as
        # "updated": for a news item that is its publication date.
        published = _entry_date(entry, "published") or _entry_date(entry, "created") or modified
        if published is None and dict.get(entry, "published_parsed") is not None:
            result.skip("future_date_ignored")
        tags = tuple(t.get("term") for t in entry.get("tags", []) if t.get("term"))
        result.entries.append(
            Discovery(
                url=link,
                source_url=feed_url,
                source_kind=kind,
                title=strip_html(entry.get("title")),
                published=published,
                modified=modified,
                author=strip_html(entry.get("author")),
                summary=strip_html(entry.get("summary")),
                tags=tags,
            )
        )
    return result


def iter_links(result: FeedResult) -> Iterator[str]:
    for entry in result.entries:
        yield entry.url
