"""Publication dates against htmldate's own evaluation set (1,000 pages with ground-truth dates,
Apache-2.0): newscrawl's ``page_date`` (htmldate's quick search, the extensive one only when it
finds nothing) against the extensive search alone and the quick search alone.

    git clone --depth 1 https://github.com/adbar/htmldate ../data/htmldate
    python bench/date_eval.py ../data/htmldate/tests [--repeats 3]

The set's ``eval_mediacloud_2020.json`` and ``eval_default.json`` map each page's URL to its file
(under ``test_set/``, ``cache/`` or ``eval/``) and its date; a page with no date expected is right
when none is found. Each page is parsed once, as the extractor parses it; dates are compared to
the day. Prints right / wrong / missing per method and CPU ms per page (median of the repeats).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from htmldate import find_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.extract.metadata import DATE_FORMAT, page_date
from pipelines.extract.page import _parse


def _search(extensive: bool) -> Callable[[Any, str], str | None]:
    def search(tree: Any, url: str) -> str | None:
        found = find_date(
            tree, extensive_search=extensive, original_date=True, outputformat=DATE_FORMAT, url=url
        )
        return str(found) if found else None

    return search


METHODS: dict[str, Callable[[Any, str], str | None]] = {
    "newscrawl page_date": page_date,
    "htmldate extensive": _search(True),
    "htmldate quick": _search(False),
}


def load(tests: Path) -> list[tuple[str, Any, str | None]]:
    truth: dict[str, dict[str, Any]] = {}
    for name in ("eval_mediacloud_2020.json", "eval_default.json"):
        truth.update(json.loads((tests / name).read_text(encoding="utf-8")))
    pages = []
    for url, entry in truth.items():
        path = next(
            (
                tests / d / entry["file"]
                for d in ("test_set", "cache", "eval")
                if (tests / d / entry["file"]).is_file()
            ),
            None,
        )
        if path is None:
            continue
        tree = _parse(path.read_text(encoding="utf-8", errors="replace"))
        date = entry.get("date")
        expected = None if not date or (isinstance(date, float) and math.isnan(date)) else str(date)
        if tree is not None:
            pages.append((url, tree, expected[:10] if expected else None))
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("tests", type=Path, help="the tests/ folder of htmldate's repository")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)
    pages = load(args.tests)
    print(
        f"{len(pages)} pages with ground truth, {sum(e is None for *_, e in pages)} without a date"
    )
    for name, method in METHODS.items():
        found: list[str | None] = []
        times = []
        for _ in range(args.repeats + 1):  # the first pass warms caches and is not timed
            started = time.process_time()
            found = [method(tree, url) for url, tree, _ in pages]
            times.append((time.process_time() - started) / len(pages) * 1000)
        right = sum((f[:10] if f else None) == e for f, (*_, e) in zip(found, pages, strict=True))
        missing = sum(f is None and e is not None for f, (*_, e) in zip(found, pages, strict=True))
        print(
            f"{name:<22} right {right:4d}  wrong {len(pages) - right - missing:3d}  "
            f"missing {missing:3d}  accuracy {right / len(pages):.3f}  "
            f"{statistics.median(times[1:]):.2f} ms CPU/page"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
