"""Speed of ``newscrawl extract`` on a batch of saved pages with their URLs, against bare
``trafilatura.extract`` in one process, on the Scrapinghub article-extraction benchmark's pages
(181, gzipped, with their URLs).

    python bench/extract_cli_bench.py [--data DIR] [--repeats 3] [--pages N] [--per-page 10]

Rows, each the median of the repeats (wall time; pages/s and the ratio to bare trafilatura):
- ``trafilatura.extract`` in one process on pages already read (gunzip and decode not timed);
- the crawl's ``extract_page`` in one process, the same way;
- ``newscrawl extract --manifest M --jobs N`` for N = 1 and 2, the whole command: start-up,
  the worker pool, reading, decoding and extraction, the JSON lines written to a file;
- the same command on one page (--jobs 2): the batch's fixed cost;
- the way a batch with URLs ran before: one ``newscrawl extract FILE --url URL`` process per
  page, on the first ``--per-page`` pages.
The command's output is checked: one record per page, in manifest order.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parents[0] / "shared/data/article-extraction-benchmark"
FALLBACK_DATA = ROOT / "tests/data/extraction-benchmark"


def pages_of(data: Path, limit: int | None) -> list[tuple[Path, str]]:
    """(file, URL) of the benchmark's pages, in key order."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit]
    return [(data / "html" / f"{key}.html.gz", truth[key].get("url", "")) for key in keys]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", "extract", *args]


def run_command(args: list[str], expect: list[str], out: Path) -> float:
    """Wall seconds of one ``newscrawl extract`` run; its records must name ``expect``'s files
    in that order."""
    started = time.perf_counter()
    with out.open("w") as fh:
        done = subprocess.run(args, cwd=ROOT, stdout=fh, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    files = [json.loads(line)["file"] for line in out.read_text().splitlines()]
    if done.returncode not in (0, 1) or files != expect:  # 1: some page gave an error record
        raise SystemExit(f"newscrawl extract went wrong (exit {done.returncode}): {done.stderr}")
    return seconds


def in_process(fn: Callable[[str, str], object], htmls: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    for html, url in htmls:
        fn(html, url)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pages", type=int, default=None, help="only the first N pages")
    parser.add_argument("--per-page", type=int, default=10, help="pages for the old way")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    data = args.data or (DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    pages = pages_of(data, args.pages)

    import trafilatura

    from pipelines.extract.page import ExtractionFailed, extract_page

    def crawl_extraction(html: str, url: str) -> object:
        try:
            return extract_page(html, url)
        except ExtractionFailed:
            return None

    htmls = [(gzip.decompress(f.read_bytes()).decode("utf-8", "replace"), u) for f, u in pages]
    files = [str(f) for f, _ in pages]
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifest, one, out = Path(tmp, "pages.jsonl"), Path(tmp, "one.jsonl"), Path(tmp, "out")
        manifest.write_text(
            "".join(json.dumps({"file": str(f), "url": u or None}) + "\n" for f, u in pages)
        )
        one.write_text(manifest.read_text().splitlines()[0] + "\n")
        old_way = pages[: args.per_page]
        for _ in range(args.repeats):
            rows.setdefault("trafilatura.extract, one process", []).append(
                in_process(lambda h, u: trafilatura.extract(h, url=u), htmls)
            )
            rows.setdefault("extract_page, one process", []).append(
                in_process(crawl_extraction, htmls)
            )
            for jobs in args.jobs:
                rows.setdefault(f"newscrawl extract --manifest, --jobs {jobs}", []).append(
                    run_command(
                        command("--manifest", str(manifest), "--jobs", str(jobs)), files, out
                    )
                )
            started = time.perf_counter()
            run_command(command("--manifest", str(one), "--jobs", "2"), files[:1], out)
            rows.setdefault("  the same on one page (--jobs 2): fixed cost", []).append(
                time.perf_counter() - started
            )
            seconds = 0.0
            for f, u in old_way:
                seconds += run_command(command(str(f), "--url", u), [str(f)], out)
            rows.setdefault(f"one process per page (first {len(old_way)})", []).append(
                seconds * len(pages) / len(old_way)  # as if on every page
            )

    base = len(pages) / statistics.median(rows["trafilatura.extract, one process"])
    print(f"{len(pages)} pages from {data}; median of {args.repeats} repeats, wall time")
    print("load average (1, 5, 15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(f"{'':52} {'seconds':>8} {'pages/s':>8} {'ratio':>6}")
    for name, times in rows.items():
        seconds = statistics.median(times)
        if name.startswith("  "):  # one page: no rate
            print(f"{name:52} {seconds:8.2f} {'':>8} {'':>6}")
            continue
        rate = len(pages) / seconds
        print(f"{name:52} {seconds:8.2f} {rate:8.2f} {rate / base:6.2f}x")
    print("all repeats (s):", {k: [round(t, 2) for t in v] for k, v in rows.items()})


if __name__ == "__main__":
    main()
