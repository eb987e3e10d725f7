"""Exact evidence between two texts: the passages they share and how much of each they cover,
and the rule that reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.dedup.fingerprint import Fingerprint
from pipelines.dedup.params import DedupParams
from pipelines.dedup.shingles import SCHEMES, unit_spans


@dataclass(frozen=True)
class Passage:
    """A passage the two texts share, in the new text: where it starts and how many units it
    spans (words, or characters for character schemes)."""

    start: int
    length: int


@dataclass(frozen=True)
class Evidence:
    """Why two texts were judged copies (or not): exact overlap scores and shared passages."""

    similarity: float  # Jaccard of the shingle sets
    containment: float  # shared shingles / the smaller set
    coverage: float  # share of the shorter text inside shared passages (min_passage_words+)
    coverage_longer: float = 0.0  # the same, of the longer text
    longer_offset: float = 0.0  # where the first passage starts in the longer text (share)
    passages: tuple[Passage, ...] = ()  # the longest shared passages, in the new text
    exact: bool = False

    def describe(self, scheme_name: str, text: str | None, quoted_in: Any = None) -> dict[str, Any]:
        """The evidence as stored and printed: the scores, and each shared passage as its
        start and length in units (words, or characters) of the newer text (``quoted_in``
        names it), with its first words (from ``text``, folded as shingling saw it)."""
        scheme = SCHEMES[scheme_name]
        spans = [(p.start, p.length) for p in self.passages]
        quotes: list[str | None] = [None] * len(spans)
        if text and spans:
            folded, units = unit_spans(text, scheme)
            words = 8 if scheme.unit == "word" else 40
            for i, (start, length) in enumerate(spans):
                end = min(start + min(length, words), len(units)) - 1
                if start <= end:
                    quote = folded[int(units[start, 0]) : int(units[end, 1])]
                    quotes[i] = " ".join(quote.split())
        return {
            "similarity": self.similarity,
            "containment": self.containment,
            "coverage": self.coverage,
            "coverage_longer": self.coverage_longer,
            "exact": self.exact,
            "in": quoted_in,
            "passages": [
                {"at": start, "units": length, "text": quote}
                for (start, length), quote in zip(spans, quotes, strict=True)
            ],
        }


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the runs of True in a boolean array."""
    if len(mask) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted unique set, by binary search (no sort of
    the two arrays together: several times faster at this size)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    found: np.ndarray = sorted_set[at] == values
    return found


def passages_of(
    mask: np.ndarray, n: int, seed_units: float, max_gap_units: float, min_units: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shared passages of a text, from a mask over its shingles (True: the other text has it):
    runs of at least ``seed_units`` units, joined across gaps of at most ``max_gap_units``
    (a word changed, a name spelled another way), kept when they span ``min_units`` units.
    Returns (first shingle, units spanned) per passage."""
    starts, lengths = _runs(mask)
    seeds = lengths + (n - 1) >= seed_units
    starts, lengths = starts[seeds], lengths[seeds]
    if len(starts) == 0:
        return starts, lengths
    ends = starts + lengths  # exclusive, in shingles
    # a gap between runs: shingles between them, less the n - 1 that overlap the next run
    gaps = starts[1:] - ends[:-1]
    breaks = np.flatnonzero(gaps > max_gap_units)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [len(starts) - 1]])
    span_starts = starts[first]
    span_units = ends[last] - span_starts + (n - 1)
    keep = span_units >= min_units
    return span_starts[keep], span_units[keep]


def compare(
    new: Fingerprint,
    old_tokens: np.ndarray,
    old_unique: np.ndarray,
    params: DedupParams,
    keep_passages: int = 3,
) -> Evidence:
    """Exact evidence between a new text and an earlier one (shingles in text order, and
    the earlier one's unique set)."""
    new_unique = new.shingles
    if len(new_unique) == 0 or len(old_unique) == 0:
        return Evidence(0.0, 0.0, 0.0)
    shared = int(members(new_unique, old_unique).sum())
    if shared == 0:
        return Evidence(0.0, 0.0, 0.0)
    similarity = shared / (len(new_unique) + len(old_unique) - shared)
    containment = shared / min(len(new_unique), len(old_unique))
    if containment < params.containment_floor:
        # too little in common to cover anything: no need to look for passages
        return Evidence(round(similarity, 4), round(containment, 4), 0.0)
    scheme = SCHEMES[new.scheme]
    per_word = scheme.units_per_word
    shape = (
        params.passage_seed_words * per_word,
        params.passage_gap_words * per_word,
        params.min_passage_words * per_word,
    )
    starts, units = passages_of(members(new.tokens, old_unique), scheme.n, *shape)
    old_starts, old_units = passages_of(members(old_tokens, new_unique), scheme.n, *shape)
    new_cover = float(units.sum()) / (len(new.tokens) + scheme.n - 1)
    old_cover = float(old_units.sum()) / (len(old_tokens) + scheme.n - 1)
    new_offset = float(starts[0]) / len(new.tokens) if len(starts) else 1.0
    old_offset = float(old_starts[0]) / len(old_tokens) if len(old_starts) else 1.0
    shorter, longer, offset = (
        (new_cover, old_cover, old_offset)
        if len(new.tokens) <= len(old_tokens)
        else (old_cover, new_cover, new_offset)
    )
    longest = np.argsort(-units, kind="stable")[:keep_passages]
    passages = tuple(
        Passage(int(starts[i]), int(units[i]))
        for i in sorted(longest.tolist(), key=lambda i: int(starts[i]))
    )
    return Evidence(
        round(similarity, 4),
        round(containment, 4),
        round(min(shorter, 1.0), 4),
        round(min(longer, 1.0), 4),
        round(offset, 4),
        passages,
    )


def is_mutual_copy(evidence: Evidence, params: DedupParams) -> bool:
    """Much of both texts is shared (or they are the same): not merely one text quoting part
    of the other."""
    return (
        evidence.exact
        or evidence.similarity >= params.jaccard_min
        or (
            evidence.coverage >= params.coverage_both_min
            and evidence.coverage_longer >= params.coverage_both_min
        )
    )


def is_copy(evidence: Evidence, params: DedupParams) -> bool:
    """The verification rule: shared passages covering enough of the shorter text and of the
    longer one (a brief from a long wire keeps its lead; a story quoting a paragraph of
    another covers little of it), or plain overlap high enough on its own."""
    shorter, longer = evidence.coverage, evidence.coverage_longer
    return (
        evidence.exact
        or (shorter >= params.coverage_min and longer >= params.coverage_longer_min)
        or (shorter >= params.coverage_both_min and longer >= params.coverage_both_min)
        or evidence.similarity >= params.jaccard_min
    )
