"""Body-text quality against hand-made ground truth, scored the way the Scrapinghub
article-extraction benchmark scores it: ``\\w+`` tokens, word 4-gram shingles compared as
multisets, per-page precision and recall normalised so long pages weigh no more than short ones,
then averaged over pages; F1 is taken from the two averages. Pure functions."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_WORDS = 4


@dataclass(frozen=True)
class PageScore:
    """A page's share of matched, extra and missing shingles (they sum to 1)."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        if self.tp == self.fp == 0:
            return 0.0
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        if self.tp == self.fn == 0:
            return 0.0
        return self.tp / (self.tp + self.fn)

    @property
    def exact(self) -> bool:
        return self.fp == self.fn == 0


@dataclass(frozen=True)
class Summary:
    pages: int
    precision: float
    recall: float
    f1: float
    exact_share: float


def _shingles(text: str, n: int = SHINGLE_WORDS) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN_RE.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def score_page(truth: str, predicted: str) -> PageScore:
    true_sh, pred_sh = _shingles(truth), _shingles(predicted)
    tp = float(sum((true_sh & pred_sh).values()))
    fp = float(sum((pred_sh - true_sh).values()))
    fn = float(sum((true_sh - pred_sh).values()))
    total = tp + fp + fn
    if total:
        tp, fp, fn = tp / total, fp / total, fn / total
    return PageScore(tp, fp, fn)


def summarise(scores: Iterable[PageScore]) -> Summary:
    page_scores = list(scores)
    if not page_scores:
        raise ValueError("no pages to summarise")
    precision = mean(s.precision for s in page_scores if s.tp + s.fp > 0)
    recall = mean(s.recall for s in page_scores if s.tp + s.fn > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(s.exact for s in page_scores) / len(page_scores)
    return Summary(len(page_scores), precision, recall, f1, exact)


@dataclass(frozen=True)
class BenchmarkPage:
    key: str
    url: str
    html: str
    body: str


def load_benchmark(root: Path) -> Iterator[BenchmarkPage]:
    """Pages of the Scrapinghub benchmark layout: ``ground-truth.json`` and ``html/KEY.html.gz``
    (UTF-8, as the benchmark's README says)."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth):
        raw = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        entry = truth[key]
        yield BenchmarkPage(
            key, entry.get("url", ""), raw.decode("utf-8", "replace"), entry["articleBody"]
        )
