"""Distributed mode: crawl throughput for 1, 2 and 4 workers, and the dedup index's cost per
document in each store.

    python bench/distributed_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
                                      [--redis redis://127.0.0.1:6379/0] [--outlets 10]
                                      [--per-outlet 100] [--workers 1,2,4] [--repeats 3]
                                      [--index-docs 3000]

1. Workers. The BBC-built mock web of ``bench/crawl_bench.py`` (heavy page chrome, so that
   extraction is the bottleneck, 10 % syndicated copies) is served from its own process. For each
   worker count, a fresh PostgreSQL database and Redis prefix; the workers (``newscrawl worker``,
   one extraction process each) start and wait on the empty queues; then ``newscrawl schedule``
   queues the feeds and the clock runs until every article is stored. Workers are pinned
   round-robin to the machine's cores (1 worker: core 0 only; 2 workers: one core each).
   Reports articles/s (median of ``--repeats``) and the ratio to one worker.
2. The dedup index, per document (query the candidates, then add the document), for the same
   fingerprints (real BBC texts): the in-memory ``BandIndex``; the database band table as a
   store uses it (advisory locks, one candidate query, the insert; one transaction per
   document); and Redis with one pipeline per document (SMEMBERS of every key, SADD to every
   key), which has no transaction with the article's row.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.crawl_bench import Web, fresh_postgres, stored_articles  # noqa: E402
from bench.newsweb import build_web  # noqa: E402

NEWSCRAWL = Path(sys.executable).with_name("newscrawl")


def workers_run(web: Web, pg_admin: str, redis_url: str, workers: int, folder: Path) -> float:
    """Articles/s of ``workers`` workers over the whole web, from the schedule to the last
    stored article."""
    import redis

    db_url = fresh_postgres(pg_admin, f"nc_dist_bench_{workers}")
    prefix = f"ncbench-{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        NEWSCRAWL_ALLOWED_ADDRESSES=f"127.0.0.1:{web.port}",
        NEWSCRAWL_DATABASE_URL=db_url,
        NEWSCRAWL_REDIS_URL=redis_url,
        NEWSCRAWL_REDIS_PREFIX=prefix,
        NEWSCRAWL_EXTRACT_WORKERS="1",
        NEWSCRAWL_LOG_LEVEL="WARNING",
    )
    outlets = web.outlet_ids()
    common = ["--outlets-dir", str(web.outlets_dir)]
    # create the schema once, before workers race to
    subprocess.run([str(NEWSCRAWL), "upgrade"], env=env, check=True, capture_output=True)
    cores = os.cpu_count() or 1
    procs = []
    for i in range(workers):
        cmd = ["taskset", "-c", str(i % cores), str(NEWSCRAWL), "worker", *outlets, *common]
        procs.append(
            subprocess.Popen(
                cmd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / f"worker{workers}-{i}.log", "w"),  # noqa: SIM115
                start_new_session=True,
            )
        )
    time.sleep(8)  # start-up (imports, pool warm-up) outside the timing
    expected = sum(len(o.articles) for o in web.outlets)
    subprocess.run(
        [str(NEWSCRAWL), "schedule", *outlets, *common], env=env, check=True, capture_output=True
    )
    started = time.perf_counter()  # from the feeds in the queue (the command's start-up is not
    done = 0  # the workers' work)
    deadline = started + 1800
    while done < expected and time.perf_counter() < deadline:
        time.sleep(0.25)
        done = finished_urls(db_url)  # stored, or failed for good (a page with no text)
    elapsed = time.perf_counter() - started
    stored = stored_articles(db_url)
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=120)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    if done < expected:
        raise RuntimeError(f"{workers} workers finished {done} of {expected} articles")
    return stored / elapsed


def finished_urls(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(
            text("select count(*) from url_state where state = 'stored' or reason is not null")
        ).scalar_one()
    engine.dispose()
    return int(n)


def index_costs(pg_admin: str, redis_url: str, docs: int) -> dict[str, float]:
    """Microseconds per document, query + add, in each store."""
    import numpy as np
    import redis
    from sqlalchemy import insert, update

    from bench.syndication import load_articles
    from crawler.dates import utcnow
    from pipelines.dedup.fingerprint import fingerprint
    from pipelines.dedup.index import BandIndex
    from pipelines.dedup.params import DedupParams
    from storage import bands
    from storage.db import Database
    from storage.models import Article, Outlet

    params = DedupParams()
    texts = [r["body"] for r in load_articles()]
    fps = [fingerprint(texts[i % len(texts)] + f" {i}", params) for i in range(docs)]
    keys = [fp.keys for fp in fps]
    assert all(k is not None for k in keys)
    out: dict[str, float] = {}

    index = BandIndex()
    t = time.perf_counter()
    for i, k in enumerate(keys):
        index.query(k)
        index.add(i + 1, k)
    out["memory"] = (time.perf_counter() - t) / docs * 1e6

    db = Database(fresh_postgres(pg_admin, "nc_dist_bench_index"))
    now = utcnow()
    with db.write() as s:
        s.execute(insert(Outlet).values(id="x", name="x", homepage="", language="", updated_at=now))
        s.execute(
            insert(Article),
            [
                dict(
                    url=f"u{i}",
                    outlet_id="x",
                    text="",
                    text_hash="",
                    fetched_at=now,
                    first_stored_at=now,
                    tags=[],
                )
                for i in range(docs)
            ],
        )
    # A store commits its article anyway: the index's cost is what it adds to that transaction.
    t = time.perf_counter()
    for i in range(docs):
        with db.write() as s:
            s.execute(update(Article).where(Article.id == i + 1).values(text="x"))
    commit_only = (time.perf_counter() - t) / docs * 1e6
    t = time.perf_counter()
    for i, k in enumerate(keys):
        with db.write() as s:
            s.execute(update(Article).where(Article.id == i + 1).values(text="y"))
            bands.lock_keys(s, k)
            bands.band_candidates(s, k, DedupParams().stop_postings)
            bands.save_bands(s, i + 1, k)
    with_index = (time.perf_counter() - t) / docs * 1e6
    out["postgresql"] = with_index - commit_only
    out["postgresql, with the article's commit"] = with_index
    db.dispose()

    client = redis.Redis.from_url(redis_url)
    prefix = f"ncbench-idx-{uuid.uuid4().hex[:8]}"
    t = time.perf_counter()
    for i, k in enumerate(keys):
        pipe = client.pipeline(transaction=False)
        names = [f"{prefix}:{v}" for v in np.asarray(k).tolist()]
        for name in names:
            pipe.smembers(name)
        for name in names:
            pipe.sadd(name, i + 1)
        pipe.execute()
    out["redis"] = (time.perf_counter() - t) / docs * 1e6
    stale = list(client.scan_iter(f"{prefix}:*", count=10_000))
    for j in range(0, len(stale), 10_000):
        client.delete(*stale[j : j + 10_000])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", required=True, help="PostgreSQL admin URL")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--outlets", type=int, default=10)
    ap.add_argument("--per-outlet", type=int, default=100)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--index-docs", type=int, default=3000)
    args = ap.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n]

    costs = index_costs(args.postgres, args.redis, args.index_docs)
    print(f"dedup index, query + add per document ({args.index_docs} BBC texts):")
    for store, micros in costs.items():
        print(f"  {store:<38} {micros:8.0f} us/doc  {1e6 / micros:8.0f} docs/s")

    folder = Path(f"/tmp/nc-dist-bench-{os.getpid()}")
    folder.mkdir(parents=True, exist_ok=True)
    web = Web(build_web(args.outlets, args.per_outlet), folder, cpus=None)
    try:
        rates: dict[int, list[float]] = {n: [] for n in counts}
        for _ in range(args.repeats):
            for n in counts:  # interleaved, so machine noise falls on every count alike
                rate = workers_run(web, args.postgres, args.redis, n, folder)
                rates[n].append(rate)
                print(f"  {n} worker(s): {rate:6.1f} articles/s", flush=True)
    finally:
        web.close()
    print(f"crawl, {args.outlets} x {args.per_outlet} articles, median of {args.repeats}:")
    base = statistics.median(rates[counts[0]])
    for n in counts:
        med = statistics.median(rates[n])
        print(f"  {n} worker(s): {med:6.1f} articles/s  x{med / base:.2f} of {counts[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
