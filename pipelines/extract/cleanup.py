"""Clean-up of extracted article text that holds across sites: the headline repeated as the first
line, photo captions and credits, contact and newsletter lines at the end, and signals that an
extraction went wrong (a menu instead of an article, the feed's summary nowhere in the text).
Pure functions on text."""

from __future__ import annotations

import re

_WORD_RE = re.compile(r"\w+")

# A caption line: ends in a credit like "(AFP Photo)", "[Reuters/File Photo]", starts with
# "Photo: ...", "Image credit: ...", or credits a picture agency.
_CREDIT = r"(?:[\w.&'’ -]{1,40}[ /])?(?:file )?(?:photo|image|picture|photograph|illustration)s?"
_CAPTION_LINE_RE = re.compile(
    r"(?i)^(?:"
    rf".{{0,300}}[(\[]{_CREDIT}(?: by| credit)?(?:[:/ ][^)\]\n]{{0,60}})?[)\]]"
    r"|(?:photo|image|picture|photograph|illustration|credit)s?(?: credit| by)?\s*[:©|].{0,200}"
    r"|.{0,300}\b(?:getty images|shutterstock|afp via getty images|ap photo/[\w .]{1,40})"
    r")\s*\.?$"
)
# The same credit inside a paragraph (where an image stood in the text flow): the caption is the
# sentence just before the credit.
_INLINE_CAPTION_RE = re.compile(
    rf"(?i)(?:(?<=[.!?”\"’]\s)|^)[^.!?\n]{{0,300}}[.!?]?\s*[(\[]{_CREDIT}[)\]]\s*"
)
# Every caption pattern above names one of these words: a line with none of them is no caption,
# found by one scan (the patterns' leading ".{0,300}" makes them slow on every line of a text).
_CAPTION_HINT_RE = re.compile(r"(?i)photo|image|picture|illustration|credit|getty|shutterstock")
# Orphan punctuation where an image or embed was cut out: "people. . Russia" -> "people. Russia".
_ORPHAN_DOT_RE = re.compile(r"(?<=[.!?”\"’])(?:\s+\.)+(?=\s|$)")

# Lines that close an article with its author's contact or a newsletter plug.
_TRAILER_RE = re.compile(
    r"(?i)(?:[\w.+-]+@[\w-]+\.[\w.]+"
    r"|\bfollow (?:him|her|them|us|me)\b.{0,40}\b(?:twitter|facebook|instagram|x)\b"
    r"|^(?:write to|contact|reach) .{0,60}\bat\b"
    r"|\b(?:subscribe|sign up) (?:to|for)\b.{0,60}\bnewsletters?\b)"
)
_TRAILER_MAX_WORDS = 40


def words(text: str | None) -> str:
    """Lower-cased word sequence, for comparing lines that differ only in punctuation/case."""
    return " ".join(_WORD_RE.findall((text or "").casefold()))


def drop_leading_headlines(text: str, headlines: list[str | None]) -> str:
    """The headline (and a second known headline, e.g. the feed's) printed again as the first
    lines of the body: the title is stored in its own field."""
    known = {w for w in (words(h) for h in headlines) if w}
    if not known:
        return text
    lines = text.split("\n")
    start = 0
    while start < len(lines) and (not lines[start].strip() or words(lines[start]) in known):
        start += 1
    return "\n".join(lines[start:]) if start < len(lines) else text


def strip_captions(text: str) -> str:
    lines = [(line, bool(_CAPTION_HINT_RE.search(line))) for line in text.split("\n")]
    kept = [
        (line, hint) for line, hint in lines if not (hint and _CAPTION_LINE_RE.match(line.strip()))
    ]
    out = "\n".join(_INLINE_CAPTION_RE.sub("", line) if hint else line for line, hint in kept)
    return _ORPHAN_DOT_RE.sub("", out)


def drop_trailing_contact_lines(text: str) -> str:
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end > 1 and (
        not lines[end - 1].strip()
        or (_TRAILER_RE.search(lines[end - 1]) and len(lines[end - 1].split()) < _TRAILER_MAX_WORDS)
    ):
        end -= 1
    return "\n".join(lines[:end])


def looks_like_navigation(text: str) -> bool:
    """Most lines one to three words long, many of them: a menu or link list, not an article."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < 15:
        return False
    short = sum(1 for line in lines if len(line.split()) <= 3)
    return short / len(lines) > 0.5


def coverage(needle: str | None, haystack: str) -> float:
    """Share of the needle's word 3-grams found in the haystack (1.0 for an empty needle)."""
    n_words = _WORD_RE.findall((needle or "").casefold())
    if len(n_words) < 3:
        return 1.0
    h_words = _WORD_RE.findall(haystack.casefold())
    have = {tuple(h_words[i : i + 3]) for i in range(len(h_words) - 2)}
    grams = [tuple(n_words[i : i + 3]) for i in range(len(n_words) - 2)]
    return sum(g in have for g in grams) / len(grams)
