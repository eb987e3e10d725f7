"""``newscrawl ingest`` rate against bare ``trafilatura.extract`` on the same pages.

The Scrapinghub article-extraction-benchmark pages (``/work/shared/data/...`` when present,
else the 46 in ``tests/data``) are wrapped in one gzipped WARC, cycled to ``--records`` at
distinct URLs over five hosts. Each repeat runs, in turn (so that the machine's other load
falls on all of them alike):

- bare: ``trafilatura.extract(html, url=url)`` (its defaults) on every page, one process,
  pinned to one core;
- ingest on one core: ``newscrawl ingest --workers 1`` pinned to one core (``taskset``: the
  reading, the store and the one extraction worker share it), into a new SQLite file;
- ingest on two cores: ``--workers 2``, unpinned.

The ingest's time is the command's whole wall time (start-up, migration, pool warm-up
included). Its CPU time and peak memory are the process tree's (main process plus workers),
sampled every 0.1 s. Prints medians, the wall-rate ratios to bare against the targets (>= 0.9x
on one core, >= 1.8x on two) and the CPU per page: on a machine shared with other work the wall
rates move with its load, the CPU per page does not.

    python bench/ingest_bench.py [--records 1000] [--repeats 3]
    python bench/ingest_bench.py --records 200 --breakdown 200   # CPU per stage
    python bench/ingest_bench.py --store-batch 1,50   # group commit: ingests side by side
    python bench/ingest_bench.py --records 100000 --memory   # memory over a long ingest

With ``--store-batch``, each repeat runs the one- and two-core ingests once per
``NEWSCRAWL_STORE_BATCH`` value, interleaved, and prints their rates and CPU per page.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/data/article-extraction-benchmark/html")
LOCAL = ROOT / "tests" / "data" / "extraction-benchmark" / "html"


def load_pages() -> list[bytes]:
    folder = SHARED if SHARED.is_dir() else LOCAL
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.html.gz"))]


def write_warc(path: Path, bodies: list[bytes], records: int) -> list[tuple[str, bytes]]:
    pages = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(records):
            url, body = f"https://news{i % 5}.example.org/story/{i}", bodies[i % len(bodies)]
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), http_headers=http
                )
            )
            pages.append((url, body))
    return pages


BARE = """
import sys, time, pickle, trafilatura
pages = pickle.load(open(sys.argv[1], "rb"))
started, cpu = time.perf_counter(), time.process_time()
for url, body in pages:
    trafilatura.extract(body.decode("utf-8", "replace"), url=url)
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def run_bare(pages_file: Path) -> tuple[float, float]:
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", BARE, str(pages_file)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def sample(proc: psutil.Process, cpu: dict[int, float]) -> int:
    """The tree's resident memory now; each process's CPU seconds so far into ``cpu``."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that ended between the two calls
            total += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = times.user + times.system
    return total


def run_ingest(
    warc: Path,
    workers: int,
    pin: bool,
    folder: Path,
    *settings: str,
    trace: list[tuple[float, int]] | None = None,
) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds of the process tree (sampled every 0.1 s), peak memory and
    the summary line of one ingest into a new SQLite file (``settings``: ``KEY=VALUE``); with
    ``trace``, every sample's (seconds since start, tree memory) is added to it."""
    db = folder / f"ingest-{workers}-{time.monotonic_ns()}.db"
    command = [
        sys.executable, "-m", "crawler.cli", "ingest", str(warc), "--db", f"sqlite:///{db}",
        "--workers", str(workers), "--no-progress",
    ]  # fmt: skip
    for setting in settings:
        command += ["--set", setting]
    if pin:
        command = ["taskset", "-c", "0", *command]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak, cpu = 0, {}
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            now = sample(watched, cpu)
            peak = max(peak, now)
            if trace is not None:
                trace.append((time.perf_counter() - started, now))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    summary = (proc.stderr.read() if proc.stderr else "").strip().splitlines()[-1]
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed: {summary}")
    db.unlink()
    return seconds, sum(cpu.values()), peak, summary


def breakdown(warc: Path, folder: Path, limit: int) -> None:
    """CPU per page of each stage, in this process (``time.process_time``, so the machine's
    other load does not count): where an ingest's time goes next to bare extraction."""
    from datetime import UTC, datetime

    import trafilatura

    from crawler import runtime
    from crawler.cli.common import scrapy_settings
    from pipelines.dedup.store import DedupContext, store_articles
    from pipelines.ingest.records import WarcPage, read_pages
    from pipelines.ingest.work import Extracted, PageTask, process_page
    from storage.articles import ArticleRow
    from storage.outlets import ensure_outlet

    settings = scrapy_settings(f"sqlite:///{folder / 'breakdown.db'}", None)
    db, state = runtime.database(settings), runtime.dedup_state(settings)
    ensure_outlet(db, "bench")
    params = state.engine.params
    process_page(PageTask(b"<p>warm</p>" * 50, None, "https://x.org/", _hints(), "", params))
    cpu = dict.fromkeys(("read", "decode+extract+fingerprint", "store", "bare"), 0.0)
    started = time.process_time()
    found = [p for p in read_pages(warc, 10 << 20) if isinstance(p, WarcPage)][:limit]
    cpu["read"] = time.process_time() - started
    batch: list[tuple[ArticleRow, DedupContext | None]] = []
    batch_size = settings.getint("NEWSCRAWL_STORE_BATCH")
    for k, page in enumerate(found):
        t0 = time.process_time()
        out = process_page(PageTask(page.body, page.charset, page.url, _hints(), "", params))
        t1 = time.process_time()
        if isinstance(out, Extracted):
            row = ArticleRow("bench", page.url, [], out.content, None, datetime.now(UTC))
            batch.append((row, DedupContext(state.engine, state.scheme_id, out.fingerprint)))
        if len(batch) >= batch_size or (k == len(found) - 1 and batch):
            store_articles(db, batch)  # as the ingest stores: group commit
            batch = []
        t2 = time.process_time()
        trafilatura.extract(page.body.decode("utf-8", "replace"), url=page.url)
        t3 = time.process_time()
        cpu["decode+extract+fingerprint"] += t1 - t0
        cpu["store"] += t2 - t1
        cpu["bare"] += t3 - t2
    n = len(found)
    print(
        f"CPU per page over {n} pages: "
        + ", ".join(f"{k} {v / n * 1000:.1f} ms" for k, v in cpu.items())
    )
    runtime.shutdown()


def compare_batches(warc: Path, folder: Path, n: int, repeats: int, sizes: list[str]) -> None:
    """The one- and two-core ingests with each store batch size, interleaved per repeat."""
    runs = [(size, workers) for size in sizes for workers in (1, 2)]
    wall: dict[tuple[str, int], list[float]] = {r: [] for r in runs}
    cpu: dict[tuple[str, int], list[float]] = {r: [] for r in runs}
    for repeat in range(repeats):
        for size, workers in runs:
            seconds, cpu_seconds, _peak, _summary = run_ingest(
                warc, workers, workers == 1, folder, f"NEWSCRAWL_STORE_BATCH={size}"
            )
            wall[size, workers].append(seconds)
            cpu[size, workers].append(cpu_seconds)
        print(
            f"repeat {repeat + 1}: "
            + ", ".join(f"batch {s} / {w} cores {wall[s, w][-1]:.1f} s" for s, w in runs),
            flush=True,
        )
    for workers in (1, 2):
        base = n / statistics.median(wall[sizes[0], workers])
        for size in sizes:
            rate = n / statistics.median(wall[size, workers])
            per_page = statistics.median(cpu[size, workers]) / n * 1000
            print(
                f"{workers} core{'s' if workers == 2 else ''}, store batch {size}: "
                f"{rate:.1f} pages/s ({rate / base:.2f}x batch {sizes[0]}), "
                f"{per_page:.1f} ms CPU per page"
            )


def memory_over_a_long_ingest(warc: Path, folder: Path, n: int) -> None:
    """One two-core ingest of ``n`` records: its tree's peak memory per quarter of the run, so
    growth with the number of records shows (the pages in flight are bounded)."""
    trace: list[tuple[float, int]] = []
    seconds, cpu_seconds, peak, summary = run_ingest(warc, 2, False, folder, trace=trace)
    quarters = [
        max((rss for t, rss in trace if k * seconds / 4 <= t < (k + 1) * seconds / 4), default=0)
        for k in range(4)
    ]
    print(f"last ingest: {summary}")
    print(
        f"{n} records in {seconds:.0f} s ({n / seconds:.1f} pages/s), "
        f"{cpu_seconds / n * 1000:.1f} ms CPU per page; peak memory {peak / 2**20:.0f} MiB, "
        "per quarter of the run "
        + " / ".join(f"{q / 2**20:.0f}" for q in quarters)
        + f" MiB (last quarter / second, past the warm-up: {quarters[3] / max(quarters[1], 1):.2f})"
    )


def _hints() -> Any:
    from crawler.registry import ExtractionHints

    return ExtractionHints()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--breakdown", type=int, metavar="N", help="only the CPU per stage, over N pages"
    )
    parser.add_argument(
        "--store-batch",
        metavar="N,M",
        help="only ingests with these NEWSCRAWL_STORE_BATCH values, side by side",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only one two-core ingest of --records, with its peak memory per quarter",
    )
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin a run to one core")
    folder = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    warc = folder / "bench.warc.gz"
    pages = write_warc(warc, load_pages(), args.records)
    if args.breakdown:
        breakdown(warc, folder, args.breakdown)
        shutil.rmtree(folder)
        return
    if args.memory:
        memory_over_a_long_ingest(warc, folder, args.records)
        shutil.rmtree(folder)
        return
    if args.store_batch:
        compare_batches(warc, folder, args.records, args.repeats, args.store_batch.split(","))
        shutil.rmtree(folder)
        return
    pages_file = folder / "pages.pickle"
    import pickle

    pages_file.write_bytes(pickle.dumps(pages))
    print(f"{args.records} records ({warc.stat().st_size / 1e6:.1f} MB gzipped), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    wall: dict[str, list[float]] = {"bare": [], "1": [], "2": []}
    cpu: dict[str, list[float]] = {"bare": [], "1": [], "2": []}
    peaks: dict[str, list[int]] = {"1": [], "2": []}
    summary = ""
    for repeat in range(args.repeats):
        seconds, cpu_seconds = run_bare(pages_file)
        wall["bare"].append(seconds)
        cpu["bare"].append(cpu_seconds)
        for workers, pin in ((1, True), (2, False)):
            k = str(workers)
            seconds, cpu_seconds, peak, summary = run_ingest(warc, workers, pin, folder)
            wall[k].append(seconds)
            cpu[k].append(cpu_seconds)
            peaks[k].append(peak)
        print(
            f"repeat {repeat + 1}: wall bare {wall['bare'][-1]:.1f} s, ingest 1 core "
            f"{wall['1'][-1]:.1f} s, 2 cores {wall['2'][-1]:.1f} s; CPU bare "
            f"{cpu['bare'][-1]:.1f} s, ingest 1 core {cpu['1'][-1]:.1f} s, "
            f"2 cores {cpu['2'][-1]:.1f} s",
            flush=True,
        )
    n = args.records
    rate = {k: n / statistics.median(v) for k, v in wall.items()}
    per_page = {k: statistics.median(v) / n * 1000 for k, v in cpu.items()}
    print(f"last ingest: {summary}")
    print(
        f"bare trafilatura.extract, 1 core: {rate['bare']:.1f} pages/s wall, "
        f"{per_page['bare']:.1f} ms CPU per page"
    )
    for k, target in (("1", 0.9), ("2", 1.8)):
        ratio = rate[k] / rate["bare"]
        verdict = "met" if ratio >= target else "NOT met"
        print(
            f"ingest, {k} core{'s' if k == '2' else ''}: {rate[k]:.1f} pages/s wall = "
            f"{ratio:.2f}x bare (target {target}x: {verdict}); {per_page[k]:.1f} ms CPU per "
            f"page (bare/ingest CPU {per_page['bare'] / per_page[k]:.2f}); peak memory "
            f"{max(peaks[k]) / 2**20:.0f} MiB"
        )
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
