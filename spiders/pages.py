"""What a fetched article page says before extraction, as pure functions: is it HTML, is it
binary whatever its label, which canonical URL does it claim."""

from __future__ import annotations

import re
from urllib.parse import urljoin

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_CANONICAL_RE = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']?canonical["']?[^>]*>""", re.IGNORECASE)
_HREF_RE = re.compile(r"""\bhref\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)


def declared_canonical(html_head: str, base_url: str) -> str | None:
    """The page's ``<link rel="canonical">`` (absolute), if any: a claim, checked later."""
    match = _CANONICAL_RE.search(html_head)
    if not match:
        return None
    href = _HREF_RE.search(match.group(0))
    return urljoin(base_url, href.group(1)) if href else None


_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])


def looks_binary(body: bytes) -> bool:
    """Control bytes (NUL included) in over 5 % of the first 4 KiB: a binary file, whatever its
    Content-Type says. (A stray NUL in real text is cleaned later, not refused.)"""
    head = body[:4096]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > len(head) // 20
