"""Extraction quality and speed on every evaluation set at once (bench/extraction_sets.py):
newscrawl's extractor against trafilatura's defaults, trafilatura ``favor_precision`` and
readability-lxml, all in one process on the same decoded pages.

    python bench/extraction_eval.py [--data DIR] [--trafilatura-eval DIR] [--repeats 3]
        [--json OUT] [--pages N] [--worse N] [--only NAME,...]

Per set and split (dev: where parameters are chosen; held-out: report only): body F1 / P / R
with the project's metric where the set has full ground truth (Scrapinghub), trafilatura's
with/without-segment P / R / F where it has segments (trafilatura's set); pages/s (median of
the repeats, CPU time) and the speed ratio to trafilatura's defaults measured in the same run;
then the pages where newscrawl is worse than trafilatura's defaults, and newscrawl's
metadata checks on Scrapinghub. A change that wins on one set and loses on another is not a
win.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_sets import (
    EvalPage,
    SnippetCounts,
    load_scrapinghub,
    load_trafilatura_eval,
    score_snippets,
)

from crawler.dates import parse_date
from pipelines.extract.page import ExtractionFailed, PageExtraction, extract_page
from pipelines.extract.quality import score_page, summarise

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "shared/data/article-extraction-benchmark"
DEFAULT_TRAFILATURA = ROOT / "data/trafilatura-eval"
BASELINE = "trafilatura"


def newscrawl_text(page: EvalPage) -> str:
    try:
        return extract_page(page.html, page.url).text
    except ExtractionFailed:
        return ""


def trafilatura_text(page: EvalPage) -> str:
    return trafilatura.extract(page.html, url=page.url) or ""


def trafilatura_precision_text(page: EvalPage) -> str:
    return trafilatura.extract(page.html, url=page.url, favor_precision=True) or ""


_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre"}


def readability_text(page: EvalPage) -> str:
    from readability import Document  # readability-lxml (the bench extra)

    try:
        summary = Document(page.html, url=page.url or None).summary(html_partial=True)
        tree = lxml.html.fragment_fromstring(summary, create_parent="div")
        for el in tree.iter():
            if isinstance(el.tag, str) and el.tag in _BLOCKS:
                el.tail = "\n" + (el.tail or "")
    except Exception:  # it raises on some pages; a crash is an empty extraction
        return ""
    return re.sub(r"\n\s*\n+", "\n", tree.text_content()).strip()


EXTRACTORS: dict[str, Callable[[EvalPage], str]] = {
    "newscrawl": newscrawl_text,
    BASELINE: trafilatura_text,
    "trafilatura-precision": trafilatura_precision_text,
    "readability-lxml": readability_text,
}


def page_f1(page: EvalPage, text: str) -> float:
    """One page's quality on one 0..1 scale, for listing the pages that got worse."""
    if page.body is not None:
        s = score_page(page.body, text)
        p, r = s.precision, s.recall
        return 2 * p * r / (p + r) if p + r else 0.0
    c = score_snippets(page, text)
    return c.accuracy


def set_figures(pages: list[EvalPage], texts: list[str]) -> dict[str, float]:
    out: dict[str, float] = {"pages": len(pages)}
    bodies = [(p, t) for p, t in zip(pages, texts, strict=True) if p.body is not None]
    if bodies:
        s = summarise(score_page(p.body or "", t) for p, t in bodies)
        out.update(f1=s.f1, precision=s.precision, recall=s.recall, exact=s.exact_share)
    segs = [(p, t) for p, t in zip(pages, texts, strict=True) if p.with_ or p.without]
    if segs:
        total = SnippetCounts()
        for p, t in segs:
            total.add(score_snippets(p, t))
        out.update(
            seg_f=total.f1,
            seg_precision=total.precision,
            seg_recall=total.recall,
            seg_accuracy=total.accuracy,
        )
    out["empty"] = sum(not t for t in texts)
    return out


def fmt(name: str, f: dict[str, float], pps: float, ratio: float) -> str:
    parts = [f"  {name:<22}"]
    if "f1" in f:
        parts.append(f"F1 {f['f1']:.4f} (P {f['precision']:.4f} R {f['recall']:.4f})")
    if "seg_f" in f:
        parts.append(
            f"segments F {f['seg_f']:.4f} (P {f['seg_precision']:.4f} R {f['seg_recall']:.4f})"
        )
    parts.append(f"empty {int(f['empty'])}  {pps:6.1f} pages/s CPU ({ratio:.2f}x)")
    return "  ".join(parts)


def timed_pass(fn: Callable[[EvalPage], str], pages: list[EvalPage]) -> tuple[list[str], float]:
    cpu = time.process_time()
    texts = [fn(p) for p in pages]
    return texts, time.process_time() - cpu


def metadata_report(pages: list[EvalPage]) -> dict[str, float]:
    results: list[PageExtraction | None] = []
    for p in pages:
        try:
            results.append(extract_page(p.html, p.url))
        except ExtractionFailed:
            results.append(None)
    got = [r for r in results if r is not None]
    now = datetime.now(UTC)
    dates = [parse_date(r.date) for r in got if r.date]
    parsed = [d for d in dates if d is not None]
    return {
        "pages": len(pages),
        "extracted": len(got),
        "title_share": sum(bool(r.title) for r in got) / len(pages),
        "author_share": sum(bool(r.author) for r in got) / len(pages),
        "date_share": len(parsed) / len(pages),
        "dates_in_future": sum(d > now for d in parsed if d.tzinfo is not None),
        "mean_confidence": statistics.mean(r.confidence for r in got) if got else 0.0,
    }


def load_sets(args: argparse.Namespace) -> list[EvalPage]:
    pages = list(load_scrapinghub(args.data))
    if args.trafilatura_eval and args.trafilatura_eval.is_dir():
        pages += list(load_trafilatura_eval(args.trafilatura_eval))
    else:
        print(
            f"trafilatura's set not found at {args.trafilatura_eval}: "
            "get it with bench/get_trafilatura_eval.sh DIR",
            file=sys.stderr,
        )
    if args.pages:  # the first N pages of each set
        by_set: dict[str, list[EvalPage]] = {}
        for p in pages:
            by_set.setdefault(p.set, []).append(p)
        pages = [p for group in by_set.values() for p in group[: args.pages]]
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Scrapinghub set")
    ap.add_argument("--trafilatura-eval", type=Path, default=DEFAULT_TRAFILATURA)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pages", type=int, default=0, help="use only the first N pages of each set")
    ap.add_argument("--worse", type=int, default=15, help="list this many pages that got worse")
    ap.add_argument("--only", default="", help="comma-separated extractors (default: all)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)

    pages = load_sets(args)
    names = [n for n in EXTRACTORS if not args.only or n in args.only.split(",") or n == BASELINE]
    for name in names:  # warm up (imports, caches) before timing
        EXTRACTORS[name](pages[0])

    cpu: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    texts: dict[str, dict[str, str]] = {n: {} for n in names}
    sets = sorted({p.set for p in pages})
    for _ in range(args.repeats):
        for set_name in sets:
            group = [p for p in pages if p.set == set_name]
            for name in names:  # interleaved, so machine noise hits all alike
                out, seconds = timed_pass(EXTRACTORS[name], group)
                cpu[name].setdefault(set_name, []).append(len(group) / seconds)
                texts[name].update(
                    {p.set + "/" + p.key: t for p, t in zip(group, out, strict=True)}
                )

    report: dict[str, Any] = {"sets": {}, "worse": {}}
    print(
        f"{len(pages)} pages, {args.repeats} timed passes (medians); trafilatura "
        f"{trafilatura.__version__}"
    )
    for set_name in sets:
        group = [p for p in pages if p.set == set_name]
        base_pps = statistics.median(cpu[BASELINE][set_name])
        report["sets"][set_name] = {}
        for split in ("dev", "held-out", "all"):
            sub = [p for p in group if split == "all" or p.split == split]
            if not sub:
                continue
            print(f"{set_name} / {split} ({len(sub)} pages)")
            report["sets"][set_name][split] = {}
            for name in names:
                f = set_figures(sub, [texts[name][p.set + "/" + p.key] for p in sub])
                pps = statistics.median(cpu[name][set_name])
                f["pages_per_s_cpu"], f["speed_ratio"] = pps, pps / base_pps
                report["sets"][set_name][split][name] = f
                print(fmt(name, f, pps, pps / base_pps))
        worse = []
        for p in group:
            ours = page_f1(p, texts["newscrawl"][p.set + "/" + p.key])
            theirs = page_f1(p, texts[BASELINE][p.set + "/" + p.key])
            if ours < theirs - 1e-9:
                worse.append((theirs - ours, p.split, p.key, p.url, ours, theirs))
        worse.sort(reverse=True)
        report["worse"][set_name] = [
            {"key": k, "split": s, "url": u, "newscrawl": o, BASELINE: t}
            for _, s, k, u, o, t in worse
        ]
        print(f"{set_name}: {len(worse)} pages worse than {BASELINE} defaults; the worst:")
        for d, s, k, u, o, t in worse[: args.worse]:
            print(f"  -{d:.2f} [{s}] {o:.2f} vs {t:.2f} {k[:40]} {u[:70]}")
    meta = metadata_report([p for p in pages if p.set == "scrapinghub"])
    report["metadata"] = meta
    print(
        "newscrawl metadata on scrapinghub: title {title_share:.3f}, author {author_share:.3f}, "
        "date {date_share:.3f} of pages; dates in the future {dates_in_future}; mean "
        "confidence {mean_confidence:.3f}".format(**meta)
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
