"""End-to-end crawl throughput and memory, against the extraction limit and against peers.

    python bench/crawl_bench.py [--outlets 10] [--per-outlet 100] [--repeats 3]
                                [--postgres URL] [--peers trafilatura,news-please]
                                [--memory N] [--cores 2] [--web bbc|scrapinghub]

Builds a mock news web from the real BBC articles (``bench/newsweb.py``), or with ``--web
scrapinghub`` from the Scrapinghub benchmark's real pages cycled, serves it on loopback
from a separate process, and measures in one run, each as the median of ``--repeats`` runs:

1. the limit: bare ``trafilatura.extract`` over the same article pages, one process on one core
   and a process pool on all cores;
2. newscrawl crawling the web end to end (``newscrawl crawl``: feeds, sitemaps, extraction,
   dedup, storage) into SQLite on one core and on all cores, and into PostgreSQL with
   ``--postgres``; then a re-crawl of the unchanged web;
3. with ``--only batch``: group commit (``NEWSCRAWL_STORE_BATCH=50``, the default) against
   one transaction per article (``=1``), interleaved, into SQLite and, with ``--postgres``,
   PostgreSQL;
4. peers on the same feeds: trafilatura's own crawler (``trafilatura -i FEEDS --feed``, its
   per-host sleep set to newscrawl's delay, 0) and news-please's library (``--peers``; each is
   skipped with a note when not installed).

Prints articles/s, CPU seconds per article and peak resident memory (the process tree's summed
PSS, sampled every 0.25 s: memory shared between forked workers counts once), and the ratios.
``--memory N`` adds one crawl of N articles with its resident memory over time (quartiles of the
run), to show whether it stays flat, and a re-crawl of that unchanged web.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.newsweb import build_real_web, build_web  # noqa: E402
from crawler.demo.mockweb import MockOutlet  # noqa: E402

NEWSCRAWL = Path(sys.executable).with_name("newscrawl")
# Peers resolve *.localhost through the system resolver, which does not map it to loopback here;
# newscrawl's own resolver does (RFC 6761). The same mapping, patched in for the peers.
RESOLVE_LOCALHOST = """
import socket, sys
_orig = socket.getaddrinfo
def _gai(host, *a, **k):
    if isinstance(host, str) and host.endswith('.localhost'):
        host = '127.0.0.1'
    return _orig(host, *a, **k)
socket.getaddrinfo = _gai
"""


@dataclass
class Run:
    wall: float
    cpu: float
    peak_pss: int | None  # None where not measured apart from the benchmark's own process
    articles: int
    pss_series: list[tuple[float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.articles / self.wall if self.wall else 0.0

    @property
    def cpu_per_article(self) -> float:
        return self.cpu / self.articles if self.articles else float("nan")


class TreeMonitor:
    """Samples a process and its descendants: summed proportional resident memory (PSS, peak and
    series) and CPU time (the last reading of each process, so a process that exits keeps what it
    had used)."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.cpu: dict[int, float] = {}
        self.peak = 0
        self.series: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.perf_counter()
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            pss = 0
            for p in procs:
                try:
                    with p.oneshot():
                        # PSS: pages shared by the forked workers are counted once, not per process
                        pss += p.memory_full_info().pss
                        t = p.cpu_times()
                        self.cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    continue
            self.peak = max(self.peak, pss)
            self.series.append((time.perf_counter() - self.started, pss))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(
    cmd: list[str],
    count: Callable[[str], int],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run a command under the tree monitor; ``count`` gets its standard output and says how
    many articles it produced."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    monitor = TreeMonitor(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    monitor.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}:\n{err[-2000:]}")
    return Run(wall, sum(monitor.cpu.values()), monitor.peak, count(out), monitor.series)


def last_line_count(marker: str = "") -> Callable[[str], int]:
    """For commands that print their article count last (after ``marker``)."""
    return lambda out: int(out.strip().splitlines()[-1].removeprefix(marker))


class Web:
    """The mock web in its own process (pinned to ``cpus``), with outlet files for newscrawl."""

    def __init__(self, sample: dict[str, Any], folder: Path, cpus: str | None) -> None:
        self.folder = folder
        self.sample_path = folder / "sample.json"
        self.sample_path.write_text(json.dumps(sample), encoding="utf-8")
        self.outlets_dir = folder / "outlets"
        cmd = [sys.executable, "-m", "crawler.demo.mockweb", "--sample", str(self.sample_path)]
        cmd += ["--outlets-dir", str(self.outlets_dir)]
        if cpus:
            cmd = ["taskset", "-c", cpus, *cmd]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"mock web did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.outlets = [MockOutlet(spec, self.port) for spec in sample["outlets"]]
        self._extracts: dict[str, bool] = {}

    def pages(self) -> list[tuple[str, str]]:
        return [
            (o.url(a), o.article_page(i)) for o in self.outlets for i, a in enumerate(o.articles)
        ]

    def _mock(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return bytes(r.read())

    def extracted_articles(self, run: Callable[[], Run]) -> Run:
        """``run``, with its articles counted as the distinct article pages it fetched that bare
        trafilatura extracts text from: for a peer whose output files are named by a hash of
        their text, which the copies of a cycled page share."""
        self._mock("/_mock/reset")
        result = run()
        fetched = {tuple(x) for x in json.loads(self._mock("/_mock/requests"))}
        pages = {
            (o.host, a["path"]): (o, i) for o in self.outlets for i, a in enumerate(o.articles)
        }
        extracted = 0
        for key in fetched & pages.keys():
            outlet, index = pages[key]
            html = outlet.article_page(index)
            if html not in self._extracts:
                self._extracts[html] = _extract_one((outlet.url(outlet.articles[index]), html)) > 0
            extracted += self._extracts[html]
        return replace(result, articles=extracted)

    def outlet_ids(self) -> list[str]:
        return [str(o.spec["id"]) for o in self.outlets]

    def feed_urls(self) -> list[str]:
        return [o.base + o.feed()[0] for o in self.outlets]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --- the limit --------------------------------------------------------------------------------


def _extract_one(page: tuple[str, str]) -> int:
    import trafilatura

    return len(trafilatura.extract(page[1], url=page[0]) or "")


def bare_limit(pages: list[tuple[str, str]], processes: int) -> Run:
    """Memory is not reported: this process also holds every page of the web."""
    _extract_one(pages[0])  # import and first-call costs outside the timing, as for the pool
    started, cpu0 = time.perf_counter(), time.process_time()
    if processes == 1:
        os.sched_setaffinity(0, {0})
        try:
            done = sum(1 for p in pages if _extract_one(p) > 0)
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        cpu = time.process_time() - cpu0
    else:
        ctx = multiprocessing.get_context("forkserver")
        with ctx.Pool(processes) as pool:
            pool.map(_extract_one, pages[:processes])  # start-up outside the timing
            started = time.perf_counter()
            before = psutil.Process().children(recursive=True)
            cpu_before = sum(sum(p.cpu_times()[:2]) for p in before)
            done = sum(1 for n in pool.imap_unordered(_extract_one, pages, chunksize=8) if n)
            cpu = sum(sum(p.cpu_times()[:2]) for p in before) - cpu_before
    wall = time.perf_counter() - started
    return Run(wall, cpu, None, done)


# --- newscrawl --------------------------------------------------------------------------------


def stored_articles(db_url: str) -> int:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        if not inspect(conn).has_table("articles"):
            return 0
        n = int(conn.execute(text("select count(*) from articles")).scalar_one())
    engine.dispose()
    return n


def newscrawl_run(
    web: Web, db_url: str, cpus: str, workers: int, folder: Path, *settings: str
) -> Run:
    """``newscrawl crawl`` of the web's outlets; counts the articles it added."""
    env = dict(os.environ, NEWSCRAWL_ALLOWED_ADDRESSES=f"127.0.0.1:{web.port}")
    cmd = ["taskset", "-c", cpus, str(NEWSCRAWL), "crawl", *web.outlet_ids(), "--db", db_url]
    cmd += ["--outlets-dir", str(web.outlets_dir), "--lock", str(folder / "crawl.lock")]
    for setting in (f"NEWSCRAWL_EXTRACT_WORKERS={workers}", "LOG_LEVEL=WARNING", *settings):
        cmd += ["--set", setting]
    before = stored_articles(db_url)
    return measure(cmd, lambda _out: stored_articles(db_url) - before, env=env)


def fresh_postgres(base_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


# --- peers ------------------------------------------------------------------------------------


def trafilatura_peer(web: Web, folder: Path, cpus: str, parallel: int) -> Run:
    feeds = folder / "feeds.txt"
    feeds.write_text("\n".join(web.feed_urls()) + "\n")
    config = folder / "trafilatura.cfg"
    import trafilatura.settings

    cfg = Path(trafilatura.settings.__file__).with_name("settings.cfg").read_text()
    # its politeness delay set to newscrawl's for these outlets (0), loopback allowed
    cfg = cfg.replace("SLEEP_TIME = 5.0", "SLEEP_TIME = 0")
    config.write_text(cfg.replace("SSRF_PROTECTION = on", "SSRF_PROTECTION = off"))
    out = folder / "trafilatura-out"
    shutil.rmtree(out, ignore_errors=True)
    launcher = RESOLVE_LOCALHOST + "from trafilatura.cli import main\nsys.exit(main())\n"
    cmd = ["taskset", "-c", cpus, sys.executable, "-c", launcher, "-i", str(feeds), "--feed"]
    cmd += ["--parallel", str(parallel), "-o", str(out), "--config-file", str(config)]
    # counted from what it fetched: its files are named by a hash of their text, so the copies
    # of a cycled page (--web scrapinghub) would count once
    return web.extracted_articles(lambda: measure(cmd, lambda _out: 0))


NEWS_PLEASE_SCRIPT = (
    RESOLVE_LOCALHOST
    + """
import json, sys, feedparser, urllib.request
from newsplease import NewsPlease
feeds = sys.argv[1].split(",")
urls = [e.link for f in feeds for e in feedparser.parse(urllib.request.urlopen(f).read()).entries]
arts = NewsPlease.from_urls(urls, request_args={"timeout": 30}, fetch_images=False)
print(json.dumps(sum(1 for a in arts.values() if getattr(a, "maintext", None))))
"""
)


def scrapy_fetch_only(web: Web, cpus: str) -> Run:
    """The floor of a Scrapy-based crawler: feeds read, every article downloaded, nothing else."""
    scrapy_bin = str(Path(sys.executable).with_name("scrapy"))
    cmd = ["taskset", "-c", cpus, scrapy_bin, "runspider", str(ROOT / "bench/fetch_only_spider.py")]
    cmd += ["-a", "feeds=" + ",".join(web.feed_urls())]
    # the resolver is installed with the process, before a spider's own settings apply
    cmd += ["-s", "TWISTED_DNS_RESOLVER=crawler.resolver.LocalhostAwareResolver"]
    # run outside the project folder: Scrapy would otherwise find scrapy.cfg and load newscrawl's
    # own settings and middlewares instead of its defaults
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return measure(cmd, last_line_count("PAGES"), env=env, cwd=Path(tempfile.gettempdir()))


def news_please_peer(web: Web, python: str, cpus: str) -> Run:
    cmd = ["taskset", "-c", cpus, python, "-c", NEWS_PLEASE_SCRIPT, ",".join(web.feed_urls())]
    return measure(cmd, last_line_count())


# --- report -----------------------------------------------------------------------------------


def median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.rate)
    return ordered[len(ordered) // 2]


def line(name: str, r: Run) -> str:
    peak = f"{r.peak_pss / 2**20:7.0f} MiB" if r.peak_pss is not None else "      -    "
    return (
        f"{name:<34} {r.articles:>6} articles  {r.rate:7.1f}/s  "
        f"{r.cpu_per_article * 1000:6.1f} ms CPU/article  peak {peak}  wall {r.wall:6.1f} s"
    )


def sample_web(kind: str, outlets: int, per_outlet: int, folder: Path, seed: int = 7) -> Any:
    """The mock web's outlets: BBC-built pages, or the Scrapinghub set's real pages cycled."""
    if kind == "scrapinghub":
        return build_real_web(outlets, per_outlet, folder / "pages")
    return build_web(outlets, per_outlet, seed=seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outlets", type=int, default=10)
    ap.add_argument("--per-outlet", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cores", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--postgres", help="also crawl into this PostgreSQL server (admin URL)")
    ap.add_argument("--peers", default="trafilatura,news-please")
    ap.add_argument("--news-please-python", default="/tmp/npvenv/bin/python")
    ap.add_argument("--peer-outlets", type=int, default=5)
    ap.add_argument("--peer-per-outlet", type=int, default=100)
    ap.add_argument("--memory", type=int, default=0, help="one crawl of this many articles")
    ap.add_argument("--only", default="", help="comma list: limit,newscrawl,postgres,peers,batch")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--web",
        choices=("bbc", "scrapinghub"),
        default="bbc",
        help="article pages built from the BBC articles, or the Scrapinghub set's real pages",
    )
    args = ap.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    want = lambda part: not only or part in only  # noqa: E731
    all_cpus = f"0-{args.cores - 1}"
    results: dict[str, Run] = {}

    with tempfile.TemporaryDirectory(prefix="newscrawl-bench-") as tmp:
        folder = Path(tmp)
        sample = sample_web(args.web, args.outlets, args.per_outlet, folder)
        # one core for the crawler, the other for the mock web, when measuring one core
        web = Web(sample, folder, cpus=str(args.cores - 1) if args.cores > 1 else None)
        try:
            pages = web.pages()
            print(
                f"mock web ({args.web}): {len(web.outlets)} outlets, {len(pages)} article pages, "
                f"port {web.port}"
            )
            if want("limit"):
                results["limit, 1 core"] = median_run(
                    [bare_limit(pages, 1) for _ in range(args.repeats)]
                )
                print(line("bare trafilatura.extract, 1 core", results["limit, 1 core"]))
                results[f"limit, {args.cores} cores"] = median_run(
                    [bare_limit(pages, args.cores) for _ in range(args.repeats)]
                )
                print(
                    line(
                        f"bare trafilatura.extract, {args.cores} cores",
                        results[f"limit, {args.cores} cores"],
                    )
                )

            if want("newscrawl"):
                results["scrapy fetch only"] = median_run(
                    [scrapy_fetch_only(web, "0") for _ in range(args.repeats)]
                )
                print(line("scrapy fetch-only spider, 1 core", results["scrapy fetch only"]))
                for cores in sorted({1, args.cores}):
                    runs, recrawls = [], []
                    for i in range(args.repeats):
                        db = f"sqlite:///{folder}/nc-{cores}-{i}.db"
                        runs.append(newscrawl_run(web, db, f"0-{cores - 1}", cores, folder))
                        if cores == args.cores:
                            recrawls.append(newscrawl_run(web, db, all_cpus, cores, folder))
                    results[f"newscrawl, {cores} core(s)"] = median_run(runs)
                    print(
                        line(
                            f"newscrawl -> SQLite, {cores} core(s)",
                            results[f"newscrawl, {cores} core(s)"],
                        )
                    )
                    if recrawls:
                        rc = sorted(recrawls, key=lambda r: r.wall)[len(recrawls) // 2]
                        results["recrawl"] = rc
                        print(
                            f"{'re-crawl of the unchanged web':<34} {rc.articles:>6} new articles, "
                            f"wall {rc.wall:.1f} s"
                        )

            if "batch" in only:  # not part of a full run: asked for by name
                # group commit against one transaction per article, interleaved per round
                targets = [("SQLite", lambda i, b: f"sqlite:///{folder}/batch-{b}-{i}.db")]
                if args.postgres:
                    pg = args.postgres
                    targets.append(("PostgreSQL", lambda i, b: fresh_postgres(pg, f"nc_b{b}_{i}")))
                for kind, url_of in targets:
                    per: dict[int, list[Run]] = {1: [], 50: []}
                    for i in range(args.repeats):
                        for b in per:
                            setting = f"NEWSCRAWL_STORE_BATCH={b}"
                            db = url_of(i, b)
                            run = newscrawl_run(web, db, all_cpus, args.cores, folder, setting)
                            per[b].append(run)
                    for b, runs in per.items():
                        results[f"newscrawl, {kind}, store batch {b}"] = median_run(runs)
                        print(line(f"newscrawl -> {kind}, batch {b}", median_run(runs)))
                    one, many = median_run(per[1]), median_run(per[50])
                    print(
                        f"  {kind}: group commit / one transaction each: "
                        f"{many.rate / one.rate:.2f}x articles/s, "
                        f"{many.cpu_per_article / one.cpu_per_article:.2f}x CPU per article"
                    )

            if args.postgres and want("postgres"):
                runs = []
                for i in range(args.repeats):
                    db = fresh_postgres(args.postgres, f"newscrawl_bench_{i}")
                    runs.append(newscrawl_run(web, db, all_cpus, args.cores, folder))
                results["newscrawl, PostgreSQL"] = median_run(runs)
                print(
                    line(
                        f"newscrawl -> PostgreSQL, {args.cores} cores",
                        results["newscrawl, PostgreSQL"],
                    )
                )

        finally:
            web.close()

        peers = set(args.peers.split(",")) if want("peers") else set()
        if peers:
            # trafilatura's CLI crawler wrote output for only 2 of 1,000 pages of the 10x100 web
            # (and of a 2x500 one) but for 496 of 500 on 5x100: the peers get a web it handles,
            # and newscrawl is measured again on that same web.
            (folder / "peers").mkdir()
            pweb = Web(
                sample_web(args.web, args.peer_outlets, args.peer_per_outlet, folder / "peers", 5),
                folder / "peers",
                None,
            )
            try:
                runs = []
                for i in range(args.repeats):
                    db = f"sqlite:///{folder}/peers/nc-{i}.db"
                    runs.append(newscrawl_run(pweb, db, all_cpus, args.cores, folder))
                results["peer web: newscrawl"] = median_run(runs)
                print(
                    line(f"peer web: newscrawl, {args.cores} cores", results["peer web: newscrawl"])
                )
                if "trafilatura" in peers:
                    results["trafilatura --feed"] = median_run(
                        [
                            trafilatura_peer(pweb, folder / "peers", all_cpus, args.cores)
                            for _ in range(args.repeats)
                        ]
                    )
                    print(
                        line(
                            f"peer web: trafilatura --feed, {args.cores} cores",
                            results["trafilatura --feed"],
                        )
                    )
                if "news-please" in peers:
                    if Path(args.news_please_python).exists():
                        results["news-please"] = median_run(
                            [
                                news_please_peer(pweb, args.news_please_python, all_cpus)
                                for _ in range(args.repeats)
                            ]
                        )
                        print(
                            line(
                                f"peer web: news-please, {args.cores} cores", results["news-please"]
                            )
                        )
                    else:
                        print(f"news-please: not measured ({args.news_please_python} absent)")
            finally:
                pweb.close()

        if args.memory:
            per = max(1, args.memory // 20)
            (folder / "big").mkdir()
            big = Web(sample_web(args.web, 20, per, folder / "big", 11), folder / "big", cpus=None)
            try:
                big_db = f"sqlite:///{folder}/big.db"
                cap = f"NEWSCRAWL_MAX_ARTICLES_PER_RUN={per}"
                run = newscrawl_run(big, big_db, all_cpus, args.cores, folder, cap)
                results[f"memory, {args.memory}"] = run
                print(line(f"newscrawl, {args.memory} articles", run))
                # peak within each quarter of the run (the last sample is the shutdown)
                series = run.pss_series
                quarters = [
                    max(pss for _, pss in series[len(series) * q // 4 : len(series) * (q + 1) // 4])
                    for q in range(4)
                ]
                print(
                    "  peak resident memory (PSS) in each quarter of the run: "
                    + ", ".join(f"{pss / 2**20:.0f} MiB" for pss in quarters)
                )
                again = newscrawl_run(big, big_db, all_cpus, args.cores, folder, cap)
                results["memory recrawl"] = again
                print(
                    f"  re-crawl of that unchanged web: {again.articles} new articles, "
                    f"wall {again.wall:.1f} s = {again.wall / run.wall:.3f} of the first crawl"
                )
            finally:
                big.close()

    def ratio(a: str, b: str) -> float | None:
        if a in results and b in results and results[b].rate:
            return results[a].rate / results[b].rate
        return None

    ratios = {
        "newscrawl 1 core / limit 1 core": ratio("newscrawl, 1 core(s)", "limit, 1 core"),
        "scrapy fetch-only / limit 1 core": ratio("scrapy fetch only", "limit, 1 core"),
        f"newscrawl {args.cores} cores / newscrawl 1 core": ratio(
            f"newscrawl, {args.cores} core(s)", "newscrawl, 1 core(s)"
        ),
        f"newscrawl {args.cores} cores / limit {args.cores} cores": ratio(
            f"newscrawl, {args.cores} core(s)", f"limit, {args.cores} cores"
        ),
        "newscrawl / trafilatura --feed (peer web)": ratio(
            "peer web: newscrawl", "trafilatura --feed"
        ),
        "newscrawl / news-please (peer web)": ratio("peer web: newscrawl", "news-please"),
    }
    if "recrawl" in results and f"newscrawl, {args.cores} core(s)" in results:
        first = results[f"newscrawl, {args.cores} core(s)"].wall
        ratios["re-crawl time / first crawl time"] = results["recrawl"].wall / first
    print("ratios:")
    for name, value in ratios.items():
        if value is not None:
            print(f"  {name:<44} {value:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": {
                        k: {
                            "articles": r.articles,
                            "wall_s": r.wall,
                            "articles_per_s": r.rate,
                            "cpu_s_per_article": r.cpu_per_article,
                            "peak_pss_bytes": r.peak_pss,
                        }
                        for k, r in results.items()
                    },
                    "ratios": ratios,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
