"""Canonical URLs: one spelling per article, so one row per article however it was linked."""

from __future__ import annotations

from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit, urlunsplit

import courlan

ALLOWED_SCHEMES = frozenset({"http", "https"})

# courlan removes the common trackers (utm_*, fbclid, gclid, ...); these are a few more that news
# sites append to syndicated links.
_EXTRA_TRACKERS = frozenset({"ocid", "cmpid", "ito", "at_medium", "at_campaign", "at_custom1"})


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port, fragment and tracking parameters dropped, query
    sorted. Raises ``ValueError`` for anything that is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
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
    return urlunsplit(parts)


def is_fetchable(url: str) -> bool:
    """True for absolute http(s) URLs: the only kind newscrawl ever requests."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)
