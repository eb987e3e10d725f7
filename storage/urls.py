"""What a URL may be to storage: the longest one a row is keyed by, and the key of a longer one.
Pure functions (no SQL): the crawler checks URLs against the same limit before requesting them."""

from __future__ import annotations

import hashlib

#: Longest URL newscrawl requests or keys a record by, in UTF-8 bytes (the 2,048 most crawlers
#: and sitemaps.org use). Longer ones would not fit PostgreSQL's B-tree keys (2,704 bytes) and
#: are no article's address; they are recorded as failed with reason ``url_too_long``.
MAX_URL_LENGTH = 2048


def url_bytes(url: str) -> int:
    return len(url.encode("utf-8", "surrogatepass"))


def url_state_key(url: str) -> str:
    """The ``url_state`` key of a URL: the URL itself, or for one longer than
    ``MAX_URL_LENGTH`` (no index takes it, and no article lives there) a digest of it."""
    if url_bytes(url) <= MAX_URL_LENGTH:
        return url
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    return f"urn:newscrawl:url-sha256:{digest}"
