"""Text hygiene: make stored text identical on SQLite and PostgreSQL (which rejects NUL)."""

from __future__ import annotations

import re
import unicodedata

# BOM / zero-width no-break space, zero-width space and joiners, word joiner, soft hyphen, and
# bidi marks that pages sprinkle in; ZWNJ (U+200C) is kept because Persian spelling needs it.
_INVISIBLE_RE = re.compile("[\ufeff\u200b\u200d\u2060\u00ad\u200e\u200f\u202a-\u202e]+")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# a run of horizontal space that is not already one plain space (matching every single space
# between words made the substitution the costliest step of cleaning)
_HSPACE_RE = re.compile(
    r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000][ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]*"
    r"| [ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+"
)
_BLANKS_RE = re.compile(r"\n{3,}")
# one scan finds whether any of the three above has work to do (most texts: none)
_ODD_RE = re.compile(
    "[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
    "\ufeff\u200b\u200d\u2060\u00ad\u200e\u200f\u202a-\u202e]"
)


# what the substitutions below would change, and whitespace other than a plain space and a
# newline (which str.strip() would remove): one scan
_NOT_PLAIN_RE = re.compile(
    "[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
    "\ufeff\u200b\u200d\u2060\u00ad\u200e\u200f\u202a-\u202e"
    "\t\r\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def _already_clean(text: str) -> bool:
    """Nothing for the substitutions below to do: most texts (str's own search is fast, the
    regular expressions' scans are not)."""
    return (
        "  " not in text
        and " \n" not in text
        and "\n " not in text
        and "\n\n\n" not in text
        and _NOT_PLAIN_RE.search(text) is None
    )


def clean_text(text: str | None) -> str:
    """NFC, no NUL or other control characters, no lone surrogates, no BOM or zero-width runs,
    collapsed horizontal space, at most one blank line between paragraphs."""
    if not text:
        return ""
    if _already_clean(text):
        return unicodedata.normalize("NFC", text).strip()
    odd = _ODD_RE.search(text) is not None
    if odd:
        text = _SURROGATE_RE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if odd:
        text = _CONTROL_RE.sub("", text)
        text = _INVISIBLE_RE.sub("", text)
    # horizontal space never spans a newline: one pass over the text, then each line's ends
    lines = [line.strip() for line in _HSPACE_RE.sub(" ", text).split("\n")]
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip()


def clean_field(text: str | None, limit: int = 2000) -> str | None:
    """A one-line metadata field (title, author...): cleaned, single-spaced, bounded."""
    cleaned = clean_text(text)
    if not cleaned:
        return None
    return " ".join(cleaned.split())[:limit]
