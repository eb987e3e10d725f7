"""Which candidate text is the article: decided per page from evidence, not one mode chosen in
advance. The cheap first candidate (trafilatura's precision mode, fast) stands when nothing
speaks against it; otherwise trafilatura's balanced mode with its own fallbacks (readability,
justext) is run, and when the two disagree, the precision mode with fallbacks too, and the
candidate the others agree with wins. Every decision carries a confidence (0..1) and a short
account of its evidence. Pure functions over texts; page.py runs the extractions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from pipelines.extract.cleanup import looks_like_navigation
from pipelines.extract.evidence import (
    Line,
    PageClaims,
    TextShape,
    agreement,
    contained,
    lines_of,
    shape_of,
    shingles,
    units,
)

# Parameters chosen on the development split of both evaluation sets (bench/extraction_eval.py;
# docs/benchmarks.md), never on the held-out split.
#: a first text shorter than this (in units: words, half a word per CJK character) is checked
CHECK_BELOW_UNITS = 150
#: ...and so is one with more of its text in lines that are the page's link texts than this.
#: (A text that is little prose is not doubted for that alone: on the dev split of both sets the
#: second run that doubt paid for was no gain: Scrapinghub +0.0004, trafilatura's set -0.0001.)
MAX_LINKED = 0.2
#: a summary (feed, meta or JSON-LD description) of at least this many units counts as
#: evidence; the first text "misses" it when fewer of its shingles are found than SUMMARY_SEEN.
#: From 8 units and 0.3 (2026-12-02, dev split): a quarter fewer second runs, quality unchanged
#: or up (Scrapinghub +0.0001, trafilatura's set +0.0003), held-out +0.0001 / -0.0000.
SUMMARY_MIN_UNITS = 12
SUMMARY_SEEN = 0.15
#: JSON-LD articleBody: evidence when this long; the first text misses it below BODY_SEEN
BODY_MIN_UNITS = 50
BODY_SEEN = 0.7
#: two texts "agree" (one is the other with a few lines more) from this containment on
AGREE = 0.6
#: lines the longer text adds are kept when at least this share of them reads as prose
EXTRA_PROSE = 0.7


@dataclass(frozen=True)
class Candidate:
    name: str  # "precision", "balanced" (with fallbacks), "fallback" (precision + fallbacks)
    text: str

    @cached_property  # shingled once per candidate, not at every comparison
    def grams(self) -> set[tuple[str, ...]]:
        return shingles(self.text)

    @cached_property  # measured once per candidate: its shape is asked for up to four times
    def lines(self) -> list[Line]:
        return lines_of(self.text)

    def shape(self, links: set[str]) -> TextShape:
        return shape_of(self.lines, links)


@dataclass(frozen=True)
class Choice:
    text: str
    mode: str
    confidence: float
    evidence: str


def _quality(s: TextShape) -> float:
    """How article-like a text's shape is: prose, not links, and long enough to be a story."""
    return s.prose * (1 - s.linked) * min(1.0, s.units / CHECK_BELOW_UNITS)


def doubts(
    first: Candidate, links: set[str], claims: PageClaims, summaries: list[str | None]
) -> list[str]:
    """What speaks against the first text: too short, links, a menu, or a summary or the
    page's own articleBody missing from it. Empty: the text stands."""
    s = first.shape(links)
    out = []
    if s.units < CHECK_BELOW_UNITS:
        out.append(f"short ({s.units:.0f} units)")
    if s.linked > MAX_LINKED:
        out.append(f"links {s.linked:.2f}")
    if looks_like_navigation(first.text):
        out.append("menu-like")
    grams = first.grams
    if any(
        summary
        and units(summary) >= SUMMARY_MIN_UNITS
        and contained(shingles(summary), grams) < SUMMARY_SEEN
        for summary in summaries
    ):
        out.append("summary missing")
    body = claims.article_body
    if body and units(body) >= BODY_MIN_UNITS and contained(shingles(body), grams) < BODY_SEEN:
        out.append("articleBody missing")
    return out


def _extra_prose(short: Candidate, long: Candidate, links: set[str]) -> float:
    """Share of the lines ``long`` adds to ``short`` that read as prose (1.0 when none)."""
    have = short.grams
    raw = [ln for ln in long.text.split("\n") if ln.strip()]  # as long.lines has them
    extra = [
        line
        for ln, line in zip(raw, long.lines, strict=True)
        if contained(shingles(ln), have) < 0.5
    ]
    if not extra:
        return 1.0
    s = shape_of(extra, links)
    return s.prose * (1 - s.linked)


def _confidence(winner: Candidate, support: float, links: set[str]) -> float:
    """Agreement with the other evidence, weighted by how article-like the text is."""
    q = _quality(winner.shape(links))
    return round(max(0.0, min(1.0, 0.5 * support + 0.5 * q)), 3)


def first_stands(first: Candidate, links: set[str], claims: PageClaims) -> Choice:
    support = 1.0
    if claims.article_body and units(claims.article_body) >= BODY_MIN_UNITS:
        support = agreement(first.grams, shingles(claims.article_body)) * 0.5 + 0.5
    return Choice(
        first.text, first.name, _confidence(first, support, links), f"{first.name}; no doubts"
    )


def decide(
    first: Candidate,
    more: Callable[[str], Candidate],
    links: set[str],
    claims: PageClaims,
    reasons: list[str],
) -> Choice:
    """The doubted first text against trafilatura's balanced mode with fallbacks; when they
    disagree, a third run (precision mode with fallbacks) and the candidate the others agree
    with most. ``more(name)`` runs the named candidate."""
    why = ", ".join(reasons)
    second = more("balanced")
    if not first.text or not second.text:
        win = second if second.text else first
        return Choice(
            win.text, win.name, _confidence(win, 0.3, links), f"{win.name}; only one ({why})"
        )
    a, b = first.grams, second.grams
    if contained(a, b) >= AGREE:  # the second is the first with more lines, or about equal
        share = _extra_prose(first, second, links)
        own = first.shape(links)
        # what it adds is prose, or a too-short first text is no more prose than the additions
        longer = own.units < CHECK_BELOW_UNITS and share >= own.prose * (1 - own.linked)
        win = second if share >= EXTRA_PROSE or longer else first
        return Choice(
            win.text,
            win.name,
            _confidence(win, 0.5 + 0.5 * agreement(a, b), links),
            f"{win.name}; {second.name} adds prose {share:.2f} ({why})",
        )
    third = more("fallback")
    cands = [c for c in (first, second, third) if c.text]
    grams = {c.name: c.grams for c in cands}

    def support(c: Candidate) -> float:
        others = [agreement(grams[c.name], grams[o.name]) for o in cands if o is not c]
        return max(others, default=0.0)

    def rank(c: Candidate) -> tuple[float, float]:
        # two fragments agreeing with each other are not a story: support counts by length
        s = c.shape(links)
        return (support(c) * min(1.0, s.units / CHECK_BELOW_UNITS) + _quality(s), len(c.text))

    win = max(cands, key=rank)
    return Choice(
        win.text,
        win.name,
        _confidence(win, support(win), links),
        f"{win.name}; agreement {support(win):.2f} of 3 candidates ({why})",
    )
