"""Text hygiene: make stored text identical on SQLite and PostgreSQL (which rejects NUL)."""

from __future__ import annotations

import re
import unicodedata

# BOM / zero-width no-break space, zero-width space and joiners, word joiner, soft hyphen, and
# bidi marks that pages sprinkle in; ZWNJ (U+200C) is kept because Persian spelling needs it.
_INVISIBLE_RE = re.compile("[\ufeff\u200b\u200d\u2060\u00ad\u200e\u200f\u202a-\u202e]+")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_HSPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANKS_RE = re.compile(r"\n{3,}")


def clean_text(text: str | None) -> str:
    """NFC, no NUL or other control characters, no lone surrogates, no BOM or zero-width runs,
    collapsed horizontal space, at most one blank line between paragraphs."""
    if not text:
        return ""
    text = _SURROGATE_RE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = _INVISIBLE_RE.sub("", text)
    lines = [_HSPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip()


def clean_field(text: str | None, limit: int = 2000) -> str | None:
    """A one-line metadata field (title, author...): cleaned, single-spaced, bounded."""
    cleaned = clean_text(text)
    if not cleaned:
        return None
    return " ".join(cleaned.split())[:limit]
