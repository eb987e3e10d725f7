"""Distributed mode on the machine's real Redis and PostgreSQL: ``newscrawl schedule`` fills the
shared queues, worker processes crawl from them into one database, and the database (not Redis)
is the record, so a killed worker loses nothing after a later schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler.dates import utcnow
from crawler.demo.mockweb import MockOutlet, load_sample
from crawler.urls import canonical_url
from storage.db import Database
from storage.models import Article, Source, UrlState

from ..conftest import ROOT, MockServer, run_cli, service_missing, sync_registry

REDIS_URL = os.environ.get("NEWSCRAWL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
OUTLETS = ["demo_bbc", "demo_presstv", "demo_wire"]


@dataclass
class Cluster:
    redis_url: str
    prefix: str
    db_url: str

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "NEWSCRAWL_REDIS_URL": self.redis_url,
            "NEWSCRAWL_REDIS_PREFIX": self.prefix,
            "NEWSCRAWL_DATABASE_URL": self.db_url,
            "NEWSCRAWL_EXTRACT_WORKERS": "1",
            **extra,
        }


@pytest.fixture
def cluster(pg_url: str) -> Iterator[Cluster]:
    """Redis (a key prefix of its own, deleted afterwards) and an empty PostgreSQL database."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:
        service_missing("Redis at " + REDIS_URL, exc)
    prefix = f"nctest-{uuid.uuid4().hex[:8]}"
    yield Cluster(REDIS_URL, prefix, pg_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def start_worker(
    server: MockServer, cluster: Cluster, *args: str, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "worker",
            *args,
            "--outlets-dir",
            str(server.outlets_dir),
        ],
        cwd=ROOT,
        env={**os.environ, **cluster.env(**env)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a kill takes the pool with it
    )


def schedule(server: MockServer, cluster: Cluster, *args: str) -> str:
    result = run_cli(
        "schedule", *OUTLETS, "--outlets-dir", str(server.outlets_dir), *args, env=cluster.env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def expected(server: MockServer) -> tuple[dict[str, str], dict[str, str]]:
    """(canonical URL -> outlet id, copy URL -> URL of the article it copies)."""
    urls: dict[str, str] = {}
    refs: dict[str, str] = {}
    copies: dict[str, str] = {}
    for spec in load_sample()["outlets"]:
        outlet = MockOutlet(spec, server.port)
        for i, art in enumerate(outlet.articles):
            url = canonical_url(outlet.url(art))
            urls[url] = spec["id"]
            refs[f"{spec['id']}:{i}"] = url
            if art.get("copy_of"):
                copies[url] = art["copy_of"]
    return urls, {url: refs[ref] for url, ref in copies.items()}


def check_corpus(server: MockServer, db_url: str) -> None:
    """Every sample article stored once, every copy in its original's cluster, nothing else
    clustered together."""
    urls, copies = expected(server)
    db = Database(db_url)
    with db.read() as s:
        rows = list(s.scalars(select(Article)))
    db.dispose()
    by_url = {a.url: a for a in rows}
    assert len(rows) == len(by_url) == len(urls)
    assert set(by_url) == set(urls)
    for url, original in copies.items():
        assert by_url[url].cluster_id == by_url[original].cluster_id, url
        assert by_url[original].duplicate_of is None
    sizes = Counter(a.cluster_id for a in rows)
    assert sorted(n for n in sizes.values() if n > 1) == [2] * len(copies)


def finish(worker: subprocess.Popen[str], timeout: float = 180) -> str:
    _out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return err


def test_three_workers_store_each_article_once_and_copies_in_one_cluster(
    mock_server: MockServer, cluster: Cluster
) -> None:
    mock_server.reset()
    # A worker takes up to CONCURRENT_REQUESTS requests off the queue at once, and loopback
    # answers in a millisecond: with few in flight and a politeness delay, as a real outlet
    # would have, no worker can take the whole (small) web before the others look. The delay
    # outlasts the workers' start-up skew on a loaded 2-core machine (at 0.25 s one worker once
    # took it all while the other two were still starting).
    slow = ["--set", "CONCURRENT_REQUESTS=2", "--set", "DOWNLOAD_DELAY=0.75"]
    workers = [
        start_worker(mock_server, cluster, *OUTLETS, "--until-idle", "4", *slow) for _ in range(3)
    ]
    report = schedule(mock_server, cluster)
    assert "scheduled 5 source polls" in report
    errors = [finish(w) for w in workers]
    for err in errors:
        assert " ERROR: " not in err, err[-3000:]
    check_corpus(mock_server, cluster.db_url)
    # The shared seen-set: an article listed by a feed and a sitemap, polled by different
    # workers, was still fetched once.
    fetched = Counter(path for _host, path in mock_server.requests() if "/news/" in path)
    assert fetched and max(fetched.values()) == 1, fetched.most_common(3)
    # More than one worker did the work.
    busy = sum(" 0 stored," not in err.splitlines()[-1] for err in errors)
    assert busy >= 2, [e.splitlines()[-1] for e in errors]
    # A second schedule right away polls nothing (not due) and re-sends nothing (all stored).
    again = schedule(mock_server, cluster)
    assert "scheduled 0 source polls and 0 article URLs" in again


def test_a_killed_worker_loses_nothing_after_a_later_schedule(
    mock_server: MockServer, cluster: Cluster
) -> None:
    schedule(mock_server, cluster)
    # slow enough that the kill lands mid-crawl, with articles between fetch and store
    worker = start_worker(mock_server, cluster, *OUTLETS, "--set", "DOWNLOAD_DELAY=0.3")
    db = Database(cluster.db_url)
    deadline = time.monotonic() + 90
    stored = 0
    while time.monotonic() < deadline and stored < 4:
        time.sleep(0.2)
        with db.read() as s:
            stored = s.scalar(select(func.count()).select_from(Article)) or 0
    os.killpg(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    with db.read() as s:
        stored = s.scalar(select(func.count()).select_from(Article)) or 0
        unfinished = (
            s.scalar(
                select(func.count()).select_from(UrlState).where(UrlState.state == "discovered")
            )
            or 0
        )
    assert 4 <= stored < 26 and unfinished > 0, (stored, unfinished)
    # What the dead worker held is in no queue; the database knows it was never stored.
    report = schedule(mock_server, cluster, "--set", "NEWSCRAWL_RESCHEDULE_AFTER=0")
    assert " 0 article URLs" not in report, report
    finish(start_worker(mock_server, cluster, *OUTLETS, "--until-idle", "3"))
    check_corpus(mock_server, cluster.db_url)
    with db.read() as s:
        states = Counter(s.scalars(select(UrlState.state)))
    assert states == {"stored": 26}
    db.dispose()


POLL_OUTLET = """
id = "poll_test"
name = "Polling test"
homepage = "http://poll.mocknews.localhost:{port}/"
language = "en"
allowed_domains = ["poll.mocknews.localhost"]

[politeness]
download_delay = 0

[polling]
min_interval = 60
max_interval = 240

[[sources]]
kind = "rss"
url = "http://poll.mocknews.localhost:{port}/changing.xml"

[[sources]]
kind = "rss"
url = "http://poll.mocknews.localhost:{port}/static.xml"

[[sources]]
kind = "rss"
url = "http://poll.mocknews.localhost:{port}/busy.xml"
max_interval = 120
"""


def rss(items: list[str], port: int) -> str:
    entries = "".join(
        f"<item><title>{i}</title><link>http://poll.mocknews.localhost:{port}/a/{i}</link></item>"
        for i in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'


def test_a_feed_that_changes_is_polled_more_often_within_bounds(
    mock_server: MockServer, cluster: Cluster, tmp_path: Path
) -> None:
    """Simulated time drives the schedule (one step a minute); a real worker answers."""
    from crawler.distributed import Scheduler
    from crawler.registry import load_registry

    port = mock_server.port
    host = "poll.mocknews.localhost"
    outlets = tmp_path / "outlets"
    outlets.mkdir()
    (outlets / "poll_test.toml").write_text(POLL_OUTLET.format(port=port))
    mock_server.route(host, "/robots.txt", "", status=404)
    mock_server.route(host, "/static.xml", rss(["s1", "s2", "s3", "s4"], port))
    mock_server.route(host, "/busy.xml", "slow down", status=429, headers={"Retry-After": "7200"})
    for i in range(4):
        mock_server.route(host, f"/a/{i}", "<html><body><p>x</p></body></html>")

    from crawler.cli.common import scrapy_settings as _scrapy_settings
    from crawler.distributed import distributed_settings

    settings = _scrapy_settings(
        cluster.db_url, str(outlets), **distributed_settings(cluster.redis_url, cluster.prefix)
    )
    registry = load_registry(outlets)
    db = Database(cluster.db_url)
    sync_registry(db, registry.values())
    scheduler = Scheduler(settings, {"poll_test": registry["poll_test"]})
    worker = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "worker", "poll_test", "--outlets-dir", str(outlets)],
        cwd=ROOT,
        env={**os.environ, **cluster.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        t0 = utcnow()
        intervals: dict[str, list[float]] = {"changing": [], "static": []}
        mock_server.reset()
        for step in range(20):
            items = [f"c{step}-{k}" for k in range(4)]  # four new items at every poll
            mock_server.route(host, "/changing.xml", rss(items, port))
            scheduler.run(now=t0 + timedelta(seconds=60 * step))
            deadline = time.monotonic() + 30
            while True:  # until the worker has answered every queued poll
                with db.read() as s:
                    rows = list(s.scalars(select(Source).where(Source.outlet_id == "poll_test")))
                if all(r.polled_seq == r.poll_seq for r in rows):
                    break
                assert time.monotonic() < deadline, [
                    (r.url, r.poll_seq, r.polled_seq) for r in rows
                ]
                assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
                time.sleep(0.1)
            for r in rows:
                name = r.url.rsplit("/", 1)[1].removesuffix(".xml")
                if name in intervals and r.poll_interval is not None:
                    intervals[name].append(r.poll_interval)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
        scheduler.close()
    polls = Counter(
        path for h, path in mock_server.requests() if h == host and path.endswith(".xml")
    )
    # every step for the changing feed; 0, 60, 180, 420, 660, 900, 1140 s for the static one
    assert polls["/changing.xml"] == 20
    assert 5 <= polls["/static.xml"] <= 8
    assert polls["/changing.xml"] >= 2.5 * polls["/static.xml"]
    for values in intervals.values():
        assert all(60 <= v <= 240 for v in values)
    assert intervals["changing"][-1] == 60 and intervals["static"][-1] == 240
    # 429 with Retry-After: two hours: asked once, then left alone for the rest of the hour
    assert polls["/busy.xml"] == 1
    with db.read() as s:
        busy = s.scalars(select(Source).where(Source.url.endswith("/busy.xml"))).one()
    assert busy.last_status == "http_429" and busy.retry_not_before is not None
    assert busy.retry_not_before > utcnow() + timedelta(seconds=7000)
    db.dispose()


def test_the_schedule_sends_stored_articles_due_again_once_each(cluster: Cluster) -> None:
    """The refetch schedule and following a moved modification date hold in distributed mode
    too: the scheduler queues a stored article when a step comes, once, as a refetch that
    passes the shared seen-set; and a followed story again after ``every``."""
    from crawler.cli.common import scrapy_settings as _scrapy_settings
    from crawler.distributed import Scheduler, distributed_settings
    from crawler.items import Discovery
    from crawler.registry import load_registry
    from storage.articles import store_article
    from storage.url_state import record_discovered

    from ..storage.test_revisions import URL, V1, version

    settings = _scrapy_settings(
        cluster.db_url,
        None,
        **distributed_settings(cluster.redis_url, cluster.prefix),
        NEWSCRAWL_REFETCH_AFTER=[3600.0],
        NEWSCRAWL_REFETCH_WHILE_MODIFIED=7200.0,
    )
    presstv = load_registry()["presstv"]
    db = Database(cluster.db_url)
    sync_registry(db, [presstv])
    found = Discovery(URL, "https://www.presstv.ir/rss.xml", "rss", title="Due")
    record_discovered(db, "presstv", [(URL, found.to_meta())])
    store_article(db, version(V1, "Due", 0, url=URL, aliases=[]))
    with db.read() as s:
        first = s.scalars(select(Article.first_stored_at)).one()
    scheduler = Scheduler(settings, {"presstv": presstv})
    queue = scheduler.queues["presstv"]

    def queued_articles() -> list[Any]:
        requests = [queue.pop() for _ in range(len(queue))]  # the outlet's polls too
        return [r for r in requests if "discovery" in r.meta]

    try:
        report = scheduler.run(now=first + timedelta(minutes=30))
        assert report.enqueued_articles == 0 and queued_articles() == [], report.line()
        report = scheduler.run(now=first + timedelta(minutes=90))
        assert "1 article URLs, 1 of them refetches" in report.line(), report.line()
        [request] = queued_articles()
        assert request.url == URL and request.dont_filter  # past the shared seen-set
        assert Discovery.from_meta(request.meta["discovery"]) == found
        assert scheduler.run(now=first + timedelta(minutes=100)).enqueued_articles == 0
        # the refetch found the declared date moved: followed two hours after the claim
        with db.write() as s:
            s.execute(
                UrlState.__table__.update()
                .where(UrlState.url == URL)
                .values(modified_moved_at=first + timedelta(hours=2))
            )
        for hours, sent in ((3, 0), (4, 1), (5, 0), (6, 1)):
            assert scheduler.run(now=first + timedelta(hours=hours)).enqueued_refetches == sent
            assert [r.url for r in queued_articles()] == [URL] * sent, hours
    finally:
        scheduler.close()
        db.dispose()
