"""The byline as the page wrote it when trafilatura's name normalisation would garble it.

trafilatura splits an author string on "and" and title-cases the parts, which is right for
people ("John Smith and Jane Doe" is "John Smith; Jane Doe") and wrong for a credit line
("Staff and wire reports" becomes "Staff; Wire Reports"). Names are capitalised where they are
written, so a declared author with lower-case words (other than the particles of names) is a
phrase, and is kept as written."""

from __future__ import annotations

import html as html_lib
import re

_META_AUTHOR_RE = re.compile(
    r"""<meta\b[^>]*?\b(?:name|property)\s*=\s*["'](?:author|article:author|dc\.creator)["']"""
    r"""[^>]*?\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""",
    re.IGNORECASE,
)
_JSON_AUTHOR_RE = re.compile(r'"author"\s*:\s*(?:\[\s*)?\{[^{}]*?"name"\s*:\s*"([^"]{1,300})"')
#: lower-case words that belong inside names: "Ursula von der Leyen", "Ahmed bin Salman"
_PARTICLES = frozenset(
    [
        "and",
        "of",
        "de",
        "del",
        "della",
        "der",
        "di",
        "da",
        "dos",
        "du",
        "van",
        "von",
        "la",
        "le",
        "al",
        "el",
        "bin",
        "ibn",
        "y",
        "e",
        "zu",
        "ten",
        "ter",
    ]
)
_WORD_RE = re.compile(r"[^\W\d_][\w'’-]*")


def _declared_authors(page: str) -> list[str]:
    head = page[:200_000]
    found = [a or b for a, b in _META_AUTHOR_RE.findall(head)]
    found += _JSON_AUTHOR_RE.findall(head)
    return [" ".join(html_lib.unescape(x).split()) for x in found if x.strip()]


def _is_phrase(text: str) -> bool:
    return any(w[0].islower() and w.lower() not in _PARTICLES for w in _WORD_RE.findall(text))


def _same_words(a: str, b: str) -> bool:
    def words(s: str) -> list[str]:
        return [w.lower() for w in _WORD_RE.findall(s) if w.lower() != "and"]

    return words(a) == words(b)


def byline(page: str, normalised: str | None) -> str | None:
    """trafilatura's author, or the page's own credit line when that one is a phrase that
    normalisation split and re-capitalised."""
    if not normalised or ";" not in normalised:
        return normalised
    for declared in _declared_authors(page):
        if _is_phrase(declared) and _same_words(declared, normalised):
            return declared
    return normalised
