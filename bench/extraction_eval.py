"""Extraction quality and speed on the Scrapinghub article-extraction benchmark (181 real pages
with hand-made ground truth, MIT licence), newscrawl's extractor against plain
``trafilatura.extract`` in the same run.

    python bench/extraction_eval.py [--data DIR] [--repeats 3] [--json OUT] [--pages N]

Prints body precision / recall / F1 (the benchmark's own metric), the share of pages extracted
exactly, pages/s (median of the repeats, one process, CPU time and wall time) and the ratios; then
metadata checks (dates timezone-aware and not in the future; title, author and date coverage).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.dates import parse_date
from pipelines.extract.page import ExtractionFailed, PageExtraction, extract_page
from pipelines.extract.quality import (
    BenchmarkPage,
    Summary,
    load_benchmark,
    score_page,
    summarise,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/article-extraction-benchmark"


def newscrawl_text(page: BenchmarkPage) -> str:
    try:
        return extract_page(page.html, page.url).text
    except ExtractionFailed:
        return ""


def trafilatura_text(page: BenchmarkPage) -> str:
    return trafilatura.extract(page.html, url=page.url) or ""


EXTRACTORS: dict[str, Callable[[BenchmarkPage], str]] = {
    "newscrawl": newscrawl_text,
    "trafilatura.extract": trafilatura_text,
}


def timed_pass(
    fn: Callable[[BenchmarkPage], str], pages: list[BenchmarkPage]
) -> tuple[list[str], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    texts = [fn(p) for p in pages]
    return texts, time.process_time() - cpu, time.perf_counter() - wall


def metadata_report(pages: list[BenchmarkPage], now: datetime) -> dict[str, float]:
    results: list[PageExtraction | None] = []
    for p in pages:
        try:
            results.append(extract_page(p.html, p.url))
        except ExtractionFailed:
            results.append(None)
    got = [r for r in results if r is not None]
    dates = [parse_date(r.date) for r in got if r.date]
    parsed = [d for d in dates if d is not None]
    return {
        "pages": len(pages),
        "extracted": len(got),
        "title_share": sum(bool(r.title) for r in got) / len(pages),
        "author_share": sum(bool(r.author) for r in got) / len(pages),
        "date_share": len(parsed) / len(pages),
        "dates_unparseable": len(dates) - len(parsed),
        # htmldate prints %z only when the page gave a zone; the others are read as UTC
        "dates_without_zone": sum(not _has_zone(r.date) for r in got if r.date),
        "dates_in_future": sum(d > now for d in parsed if d.tzinfo is not None),
        "url_dates_checked": _url_date_agreement(pages, results),
    }


def _has_zone(raw: str | None) -> bool:
    import re

    return bool(raw and re.search(r"(?:[+-]\d\d:?\d\d|Z)$", raw))


def _url_date_agreement(pages: list[BenchmarkPage], results: list[PageExtraction | None]) -> float:
    """The ground truth has no date field; many of its URLs carry one (/2019/11/19/). Share of
    those pages whose extracted date agrees with the URL's (same day, or one day apart for
    time zones)."""
    import re

    url_date = re.compile(r"/(20\d\d)/(\d\d)/(\d\d)/")
    agree = total = 0
    for p, r in zip(pages, results, strict=True):
        m = url_date.search(p.url)
        if not m:
            continue
        total += 1
        d = parse_date(r.date) if r and r.date else None
        if d is not None:
            ref = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
            agree += abs((d.astimezone(UTC) - ref).total_seconds()) <= 36 * 3600
    return agree / total if total else float("nan")


def fmt(name: str, s: Summary, pps_cpu: float, pps_wall: float) -> str:
    return (
        f"{name:<22} F1 {s.f1:.4f}  P {s.precision:.4f}  R {s.recall:.4f}  "
        f"exact {s.exact_share:.3f}  {pps_cpu:6.1f} pages/s CPU  {pps_wall:6.1f} wall"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pages", type=int, default=0, help="use only the first N pages")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)

    pages = list(load_benchmark(args.data))
    if args.pages:
        pages = pages[: args.pages]
    # warm both up (imports, caches) before timing
    for fn in EXTRACTORS.values():
        fn(pages[0])

    cpu_rates: dict[str, list[float]] = {n: [] for n in EXTRACTORS}
    wall_rates: dict[str, list[float]] = {n: [] for n in EXTRACTORS}
    texts: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, fn in EXTRACTORS.items():  # interleaved, so machine noise hits both alike
            out, cpu, wall = timed_pass(fn, pages)
            texts[name] = out
            cpu_rates[name].append(len(pages) / cpu)
            wall_rates[name].append(len(pages) / wall)

    figures: dict[str, dict[str, float]] = {}
    print(f"{len(pages)} pages, {args.repeats} timed passes each (medians)")
    for name in EXTRACTORS:
        s = summarise(score_page(p.body, t) for p, t in zip(pages, texts[name], strict=True))
        cpu_pps = statistics.median(cpu_rates[name])
        wall_pps = statistics.median(wall_rates[name])
        print(fmt(name, s, cpu_pps, wall_pps))
        figures[name] = {
            "f1": s.f1,
            "precision": s.precision,
            "recall": s.recall,
            "exact_share": s.exact_share,
            "pages_per_s_cpu": cpu_pps,
            "pages_per_s_wall": wall_pps,
        }
    ours, theirs = figures["newscrawl"], figures["trafilatura.extract"]
    ratios = {
        "f1": ours["f1"] / theirs["f1"],
        "speed_cpu": ours["pages_per_s_cpu"] / theirs["pages_per_s_cpu"],
        "speed_wall": ours["pages_per_s_wall"] / theirs["pages_per_s_wall"],
    }
    print(
        f"ratio newscrawl / trafilatura: F1 {ratios['f1']:.4f}, "
        f"speed {ratios['speed_cpu']:.2f} (CPU) {ratios['speed_wall']:.2f} (wall)"
    )
    meta = metadata_report(pages, datetime.now(UTC))
    print(
        "metadata: title {title_share:.3f}, author {author_share:.3f}, date {date_share:.3f} "
        "of pages; dates without a zone (read as UTC) {dates_without_zone}, in the future "
        "{dates_in_future}, unparseable {dates_unparseable}; date agrees with the URL's date "
        "on {url_dates_checked:.3f} of pages that have one".format(**meta)
    )
    if args.json:
        args.json.write_text(
            json.dumps({"figures": figures, "ratios": ratios, "metadata": meta}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
