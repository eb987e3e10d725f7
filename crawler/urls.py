"""Canonical URLs: one spelling per article, so one row per article however it was linked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit, urlunsplit

import courlan

# the longest URL a record is keyed by is storage's limit, and the longest newscrawl requests
from storage.urls import MAX_URL_LENGTH as MAX_URL_LENGTH
from storage.urls import url_bytes as url_bytes

ALLOWED_SCHEMES = frozenset({"http", "https"})


class BadUrl(ValueError):
    """A URL newscrawl cannot request: ``reason`` is the reason its record gets."""

    reason = "bad_url"


class UrlTooLong(BadUrl):
    reason = "url_too_long"


def check_url(url: str) -> str:
    """``url`` stripped, if it is an absolute http(s) URL that Scrapy can request and a record
    can be keyed by; else ``BadUrl`` (or ``UrlTooLong``) says why."""
    url = url.strip()
    if url_bytes(url) > MAX_URL_LENGTH:
        raise UrlTooLong(f"{url_bytes(url)} bytes, over {MAX_URL_LENGTH}: {url[:200]!r}...")
    try:
        parts = urlsplit(url)
        _port = parts.port  # a port out of range or not a number raises here, as in Request()
    except ValueError as exc:
        raise BadUrl(f"{exc}: {url[:200]!r}") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise BadUrl(f"not an absolute http(s) URL: {url[:200]!r}")
    return url


# courlan removes the common trackers (utm_*, fbclid, gclid, ...); these are a few more that news
# sites append to syndicated links.
_EXTRA_TRACKERS = frozenset({"ocid", "cmpid", "ito", "at_medium", "at_campaign", "at_custom1"})


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port, fragment and tracking parameters dropped, query
    sorted. Raises ``BadUrl`` (a ``ValueError``) for anything ``check_url`` refuses."""
    url = check_url(url)
    normalised = courlan.normalize_url(url)
    normalised, _fragment = urldefrag(normalised)
    parts = urlsplit(normalised)
    if parts.query:
        pairs = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in _EXTRA_TRACKERS and not k.lower().startswith("utm_")
        ]
        parts = parts._replace(query=urlencode(sorted(pairs)))
    return check_url(urlunsplit(parts))


def is_fetchable(url: str) -> bool:
    """True for absolute http(s) URLs: the only kind newscrawl ever requests."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)
