"""Evidence about candidate article texts, site-independent: how much a text carries in its own
script, how far two texts agree, how much of a text is prose rather than link lists, and what
the page says about itself in JSON-LD (``articleBody``, ``description``). Pure functions."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

# Han, kana and CJK punctuation-free letters: scripts written without spaces, where a character
# carries what a word carries elsewhere. (Thai and Khmer are also spaceless but rare here;
# they count as long words, so a short Thai text is judged short: on the safe side.)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_CJK_RE = re.compile(f"[{_CJK}]")
# a word: a run of word characters that are not CJK, or one CJK character
_UNIT_RE = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")
#: a CJK character counts as this many words (news Chinese runs about two characters a word)
CJK_WORD_SHARE = 0.5
# a line that ends as a sentence does (Latin, CJK, Arabic, Devanagari full stops; closing quote)
_SENTENCE_END_RE = re.compile(r"[.!?。！？…؟।»”\"')\]:;]\s*$")
SHINGLE = 3


def units(text: str) -> float:
    """What a text carries: its words, and half a word per Chinese or Japanese character (a
    200-character floor rejects whole Chinese briefs of 90 characters, and passes 40 English
    words)."""
    cjk = len(_CJK_RE.findall(text))
    words = len(_UNIT_RE.findall(text)) - cjk
    return words + CJK_WORD_SHARE * cjk


def tokens(text: str) -> list[str]:
    return _UNIT_RE.findall(text.casefold())


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    toks = tokens(text)
    if len(toks) < n:
        return {tuple(toks)} if toks else set()
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def contained(part: set[tuple[str, ...]], whole: set[tuple[str, ...]]) -> float:
    """Share of ``part``'s shingles found in ``whole`` (0 for an empty part)."""
    return len(part & whole) / len(part) if part else 0.0


def agreement(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Dice overlap of two shingle sets: 1 for the same text, 0 for disjoint ones."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


@dataclass(frozen=True)
class TextShape:
    units: float
    lines: int
    #: share of the units in lines that read as sentences (end as one, five units or more)
    prose: float
    #: share of the units in lines that are the text of a link on the page
    linked: float


def _norm_line(line: str) -> str:
    return " ".join(tokens(line))


def link_texts(tree: Any) -> set[str]:
    """The page's link texts (normalised), for telling link lists from prose."""
    out: set[str] = set()
    for a in tree.iter("a"):
        text = _norm_line(a.text_content() or "")
        if text:
            out.add(text)
    return out


@dataclass(frozen=True)
class Line:
    """What shape() needs of one non-blank line of a text."""

    units: float
    sentence: bool  # five units or more, ending as a sentence does
    norm: str  # as link texts are normalised


def lines_of(text: str) -> list[Line]:
    out = []
    for line in text.split("\n"):
        if line.strip():
            u = units(line)
            out.append(Line(u, u >= 5 and bool(_SENTENCE_END_RE.search(line)), _norm_line(line)))
    return out


def shape_of(lines: list[Line], links: set[str]) -> TextShape:
    total = sum(line.units for line in lines)
    if not total:
        return TextShape(0.0, 0, 0.0, 0.0)
    prose = sum(line.units for line in lines if line.sentence)
    linked = sum(line.units for line in lines if line.norm in links)
    return TextShape(total, len(lines), prose / total, linked / total)


def shape(text: str, links: set[str]) -> TextShape:
    return shape_of(lines_of(text), links)


def _walk(obj: Any, key: str) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _walk(v, key)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, key)


@dataclass(frozen=True)
class PageClaims:
    """What the page says about its article in JSON-LD."""

    article_body: str = ""
    description: str = ""
    #: every ``dateModified`` the blocks give (pipelines/extract/modified.py picks the date)
    date_modified: tuple[str, ...] = ()


def _json_blocks(tree: Any) -> Iterable[Any]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            yield json.loads(raw)
        except ValueError:  # a broken block on a real page is common: skip it
            continue


def page_claims(tree: Any) -> PageClaims:
    bodies: list[str] = []
    descriptions: list[str] = []
    modified: list[str] = []
    for block in _json_blocks(tree):
        bodies.extend(_walk(block, "articleBody"))
        descriptions.extend(_walk(block, "description"))
        modified.extend(_walk(block, "dateModified"))
    body = max(bodies, key=len, default="")
    # articleBody is sometimes HTML: its text then
    if "<" in body and ">" in body:
        with contextlib.suppress(etree.ParserError, ValueError, TypeError):
            root = etree.fromstring(f"<div>{body}</div>", etree.HTMLParser())
            body = " ".join(t.strip() for t in root.itertext() if t.strip())
    return PageClaims(body.strip(), max(descriptions, key=len, default="").strip(), tuple(modified))
