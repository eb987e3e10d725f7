"""The evaluation sets bench/extraction_eval.py scores, read from folders outside the repository
(third-party pages are not committed), and the development / held-out split.

- ``scrapinghub``: the Scrapinghub article-extraction benchmark (181 pages, full ground-truth
  bodies, MIT), scored with the project's metric (pipelines/extract/quality.py). It is the set
  the extractor was first tuned on.
- ``trafilatura``: trafilatura's own evaluation set (990 pages in ~20 languages; for each page
  up to six text segments that must be in the extraction and up to six that must not, Apache
  2.0), scored with its own metric: a "with" segment found is a true positive, a "without"
  segment found a false positive, counts summed over the set. Get it with
  ``bench/get_trafilatura_eval.sh DIR``.

Every page is split by a hash of its URL (``split_of``): "dev" pages are where the extractor's
parameters are chosen, "held-out" pages only report."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crawler.decoding import decode_html
from pipelines.extract.quality import load_benchmark


@dataclass(frozen=True)
class EvalPage:
    set: str
    key: str
    url: str
    html: str
    #: the full ground-truth body (Scrapinghub), or None
    body: str | None = None
    #: segments that must be in / must not be in the extraction (trafilatura's set)
    with_: tuple[str, ...] = field(default=())
    without: tuple[str, ...] = field(default=())

    @property
    def split(self) -> str:
        return split_of(self.url or self.key)


def split_of(url: str) -> str:
    """Half of the pages, fixed by a hash of the URL, are held out: "dev" or "held-out"."""
    return "dev" if hashlib.sha256(url.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def load_scrapinghub(root: Path) -> Iterator[EvalPage]:
    for p in load_benchmark(root):
        yield EvalPage("scrapinghub", p.key, p.url, p.html, body=p.body)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load_trafilatura_eval(root: Path) -> Iterator[EvalPage]:
    """``root`` holds ``tests/evaldata.json`` and the pages under ``tests/cache`` and
    ``tests/eval`` as trafilatura's repository has them. Pages are decoded the way the crawl
    decodes a saved page (crawler/decoding.py), once, and every extractor gets the same text."""
    tests = root / "tests" if (root / "tests").is_dir() else root
    data = json.loads((tests / "evaldata.json").read_text(encoding="utf-8"))
    for url in sorted(data):
        item = data[url]
        path = next(
            (
                p
                for p in (tests / "cache" / item["file"], tests / "eval" / item["file"])
                if p.is_file()
            ),
            None,
        )
        if path is None:
            continue
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        yield EvalPage(
            "trafilatura",
            item["file"],
            url,
            decode_html(raw, None).text,
            with_=tuple(item["with"]),
            without=tuple(item["without"]),
        )


@dataclass
class SnippetCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: SnippetCounts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / total if total else 0.0


def score_snippets(page: EvalPage, text: str) -> SnippetCounts:
    """trafilatura's with/without metric on one page (whitespace-normalised substrings)."""
    got = _norm(text)
    tp = sum(_norm(w) in got for w in page.with_)
    fp = sum(_norm(w) in got for w in page.without)
    return SnippetCounts(tp, fp, len(page.with_) - tp, len(page.without) - fp)
