"""Hostile probing, round two ("Nothing lost"), at the lowest layer that shows each fault: the
spider, middlewares, pipelines and storage built from a throwaway crawler with the project's
settings (``tests/components.py``), driven by hand-made responses, against SQLite and
PostgreSQL where storage is involved."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import TextResponse, XmlResponse
from sqlalchemy import select

from crawler import runtime
from crawler.dates import utcnow
from crawler.items import FetchFailure
from crawler.registry import Politeness, Source
from storage.articles import ArticleRow, store_article
from storage.content import ArticleContent
from storage.db import Database
from storage.models import Article, CrawlRun, UrlState
from storage.url_state import pending_urls, record_discovered, record_failure

from ..components import OUTLET, Harness, Web, aiter_of, build, collect, run
from ..conftest import MockServer, run_cli, sync_registry
from ..hostile_web import HostileOutlet, assert_nothing_lost, rss

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test's components open their own database handles; closed afterwards."""
    yield
    for database in runtime._databases.values():
        database.dispose()
    runtime._databases.clear()


def source_response(
    url: str, body: str | bytes, kind: str, request: Request | None = None
) -> TextResponse:
    """A feed's, sitemap's or robots.txt's response (to ``request``, else a bare one)."""
    data = body.encode() if isinstance(body, str) else body
    request = request or Request(url, meta={"source_kind": kind, "sitemap_depth": 0})
    cls = TextResponse if kind == "robots" else XmlResponse
    return cls(url, body=data, request=request, headers={"Content-Type": "application/xml"})


def urlset(urls: list[str]) -> str:
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<urlset xmlns="{SITEMAP_NS}">{locs}</urlset>'


def sitemap_index(urls: list[str]) -> str:
    locs = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{locs}</sitemapindex>'


def parse(h: Harness, response: TextResponse) -> list[Any]:
    return run(collect(h.spider.parse_source(response)))


def requests_in(output: list[Any]) -> list[str]:
    return [r.url for r in output if isinstance(r, Request)]


def failures_in(output: list[Any]) -> dict[str, str]:
    return {f.url: f.reason for f in output if isinstance(f, FetchFailure)}


GOOD = [f"https://news.example/news/{n}" for n in (1, 2, 3)]
# short once canonical, but requested as written: Scrapy's URLLENGTH_LIMIT would drop it silently
TRACKED = "https://news.example/news/6?utm_source=" + "y" * 2100
BAD_PORT = "https://news.example:99999/news/4"
# not compressible: PostgreSQL compresses a long but repetitive key enough to index it
LONG = "https://news.example/news/5?q=" + "".join(
    hashlib.sha256(str(i).encode()).hexdigest() for i in range(63)
)


# -- 1. one bad URL must not drop its whole source ------------------------------------------


@pytest.mark.parametrize("kind", ["rss", "sitemap"])
def test_a_bad_port_in_one_entry_skips_that_entry_only(kind: str) -> None:
    h = build()
    urls = [GOOD[0], BAD_PORT, *GOOD[1:]]
    body = rss([(u, "t") for u in urls]) if kind == "rss" else urlset(urls)
    output = parse(h, source_response(f"https://news.example/{kind}.xml", body, kind))
    assert requests_in(output) == GOOD
    assert failures_in(output) == {BAD_PORT: "bad_url"}
    assert h.crawler.stats.get_value("newscrawl/discovery/bad_url") == 1


@pytest.mark.parametrize("kind", ["sitemap_index", "robots"])
def test_a_bad_port_in_one_sitemap_link_skips_that_sitemap_only(kind: str) -> None:
    h = build()
    good = ["https://news.example/a.xml", "https://news.example/b.xml"]
    bad = "https://news.example:99999/c.xml"
    links = [good[0], bad, good[1]]
    if kind == "robots":
        body = "User-agent: *\nAllow: /\n" + "".join(f"Sitemap: {u}\n" for u in links)
        url = "https://news.example/robots.txt"
    else:
        body, url = sitemap_index(links), "https://news.example/index.xml"
    output = parse(h, source_response(url, body, kind))
    assert requests_in(output) == good
    assert h.crawler.stats.get_value("newscrawl/sitemap/bad_url") == 1


def test_an_over_long_url_fails_url_too_long_and_its_siblings_are_recorded(db: Database) -> None:
    """On PostgreSQL a 4,000-character URL in the url_state primary key failed the whole
    feed's insert (index row size); on SQLite it stayed ``discovered`` with no reason."""
    h = build(db_url=db.url, components=["crawler.middlewares.known_urls.KnownUrlFilter"])
    known_filter = h.components["crawler.middlewares.known_urls.KnownUrlFilter"]
    response = source_response(
        "https://news.example/rss.xml", rss([(u, "t") for u in [*GOOD, LONG, TRACKED]]), "rss"
    )
    output = run(
        collect(known_filter.process_spider_output(response, aiter_of(parse(h, response))))
    )
    assert requests_in(output) == GOOD
    assert failures_in(output) == {LONG: "url_too_long", TRACKED: "url_too_long"}
    store = _store_pipeline(h)
    for failure in output[len(GOOD) :]:
        with pytest.raises(DropItem):
            run(store.process_item(failure))
    with db.read() as s:
        states = {u.url: (u.state, u.reason, u.detail) for u in s.scalars(select(UrlState))}
    assert {u: states[u][0] for u in GOOD} == dict.fromkeys(GOOD, "discovered")
    failed = {k: v for k, v in states.items() if k not in GOOD}
    assert len(failed) == 2
    for key, (state, reason, detail) in failed.items():
        assert (state, reason) == ("failed", "url_too_long")
        assert len(key) <= 2048 and "https://news.example/news/" in (detail or "")


def test_an_over_long_url_recorded_whole_by_an_earlier_version_stops_being_pending(
    sqlite_url: str,
) -> None:
    """SQLite took over-long keys: such a ``discovered`` row would be fetched, and refused,
    on every run; its failure now fails it too."""
    db = Database(sqlite_url)
    sync_registry(db, [OUTLET])
    with db.write() as s:
        s.add(
            UrlState(
                url=LONG, outlet_id="probe", state="discovered", attempts=0,
                first_seen_at=utcnow(), updated_at=utcnow(),
                discovery={"url": LONG, "source_url": "s", "source_kind": "rss"},
            )
        )  # fmt: skip
    assert [u for u, _ in pending_urls(db, "probe", 5, 10)] == [LONG]
    record_failure(db, "probe", LONG, "url_too_long")
    assert pending_urls(db, "probe", 5, 10) == []
    db.dispose()


def _store_pipeline(h: Harness) -> Any:
    from pipelines.store import StorePipeline

    return StorePipeline(h.crawler)


# -- 2. the per-run cap counts new work -----------------------------------------------------


def test_the_per_run_cap_counts_new_work_so_a_backlog_drains_over_runs(db: Database) -> None:
    """A sitemap of 300 URLs, a cap of 100: each run fetches 100 URLs not yet stored (the first
    from the record of the one before), until all are stored. The cap used to count URLs
    before the stored ones were filtered out: run 1 stored 100 and runs 2-4 nothing."""
    sitemap_url = "https://news.example/sitemap.xml"
    outlet = replace(OUTLET, sources=(Source("sitemap", sitemap_url),))
    urls = [f"https://news.example/news/{n}" for n in range(300)]
    fetched_per_run = []
    for _ in range(4):
        h = build(outlet, db_url=db.url, NEWSCRAWL_MAX_ARTICLES_PER_RUN=100)
        output = run(h.start())
        for source in [r for r in output if "source_kind" in r.meta]:
            output += run(h.scrape(source_response(source.url, urlset(urls), "sitemap", source)))
        articles = [r for r in output if isinstance(r, Request) and "discovery" in r.meta]
        for request in articles:  # fetched and stored
            store_article(db, article_row(request.meta["canonical_url"]))
        fetched_per_run.append(len(articles))
    assert fetched_per_run == [100, 100, 100, 0]
    with db.read() as s:
        assert set(s.scalars(select(Article.url))) == set(urls)


def article_row(url: str) -> ArticleRow:
    text_hash = hashlib.sha256(url.encode()).hexdigest()
    return ArticleRow(
        outlet_id="probe",
        url=url,
        aliases=[],
        content=ArticleContent(
            title="t", language="en", text=f"text of {url}", text_hash=text_hash
        ),
        discovered_via=None,
        fetched_at=utcnow(),
    )


# -- 3. every redirect hop is checked: allowed domains, addresses, the target's robots.txt ---

ALLOW_ALL = "User-agent: *\nAllow: /\n"
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


def article_request(h: Harness, url: str) -> Request:
    from crawler.items import Discovery

    (request,) = h.spider.article_requests(Discovery(url, "https://news.example/rss.xml", "rss"))
    assert isinstance(request, Request)
    return request


def page(n: int) -> str:
    text = " ".join(f"Sentence {i} of story {n} about the council budget." for i in range(40))
    return f"<html><head><title>Story {n}</title></head><body><article><p>{text}</p></article></body></html>"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://other.example/story", "offsite_redirect"),  # robots.txt there: Disallow
        ("https://robots-home.example/news/robots-1", "offsite_redirect"),  # "robots" in URL
        ("https://cdn.news.example/news/1", "robots_disallowed"),  # on-site, its robots says no
        ("https://internal.news.example/news/1", "blocked_address"),  # on-site name, 10.0.0.5
        ("https://www.news.example/news/1", None),  # on-site and allowed: stored
    ],
)
def test_every_redirect_hop_is_checked(sqlite_url: str, target: str, reason: str | None) -> None:
    """Article requests skip Scrapy's dupefilter (dont_filter), and so they used to skip its
    off-site check on every hop: an article redirected to another host was fetched and stored
    under the outlet, whatever that host's robots.txt said."""
    h = build(db_url=sqlite_url)
    for host, rules in [
        ("news.example", ALLOW_ALL),
        ("www.news.example", ALLOW_ALL),
        ("cdn.news.example", DISALLOW_ALL),
        ("other.example", DISALLOW_ALL),
        ("robots-home.example", ALLOW_ALL),
    ]:
        h.web.add(f"https://{host}/robots.txt", rules, content_type="text/plain")
    start = h.web.redirect("https://news.example/news/1", target)
    h.web.add(target, page(1))
    output = run(h.fetch(article_request(h, start)))
    if reason is None:
        assert [type(o).__name__ for o in output] == ["ArticleItem"]
        assert output[0].response_url == target
    else:
        assert failures_in(output) == {start: reason}
        assert h.web.count(target) == 0  # refused before the request left


# -- 4. a run ends within its time budget and says what it did not reach --------------------


def test_a_run_is_closed_at_its_time_limit_and_the_run_row_says_so(db: Database) -> None:
    h = build(db_url=db.url, NEWSCRAWL_RUN_TIME_LIMIT=0.2)
    run(asyncio.sleep(0.4))
    assert h.crawler.engine.closed == ["time_limit"]
    # what it did not reach is on record: two URLs discovered, never stored
    record_discovered(
        db, "probe", [(u, {"url": u, "source_url": "s", "source_kind": "rss"}) for u in GOOD[:2]]
    )
    recorder = next(
        e for e in h.crawler.extensions.middlewares if type(e).__name__ == "CrawlRunRecorder"
    )
    recorder.spider_closed(h.spider, "time_limit")
    with db.read() as s:
        row = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
    assert row is not None
    assert (row.status, row.close_reason, row.exit_code) == ("time_limit", "time_limit", 0)
    assert "time limit" in (row.message or "") and "2 URLs pending" in (row.message or "")


# -- 5. robots.txt: the first 500 KiB, whatever the size, encoding or redirects --------------

SECRET = "https://news.example/news/secret-1"
OPEN = "https://news.example/news/1"


def robots_verdicts(h: Harness) -> dict[str, str | None]:
    """Fetch the open and the secret article: URL -> failure reason (None: fetched)."""
    verdicts: dict[str, str | None] = {}
    for url in (OPEN, SECRET):
        h.web.add(url, page(1))
        output = run(h.fetch(article_request(h, url)))
        verdicts[url] = failures_in(output).get(url)
    return verdicts


def test_a_rule_line_cut_at_the_500_kib_limit_is_dropped_not_widened(sqlite_url: str) -> None:
    """``Disallow: /news/secret`` cut at the limit used to be read as ``Disallow: /``."""
    head = "User-agent: *\nDisallow: /private/\n"
    cut_line = "Disallow: /news/secret\n"
    padding = 500 * 1024 - len(head) - len("Disallow: /")  # the cut falls right after the "/"
    body = head + "#" * (padding - 1) + "\n" + cut_line + "Disallow: /news/secret\n"
    h = build(db_url=sqlite_url)
    h.web.add("https://news.example/robots.txt", body, content_type="text/plain")
    assert robots_verdicts(h) == {OPEN: None, SECRET: None}  # the secret rule lay past the limit


def test_a_gzip_encoded_robots_txt_over_the_size_cap_is_read_to_500_kib(sqlite_url: str) -> None:
    """11 MB of rules, gzip-encoded: decompression used to stop at DOWNLOAD_MAXSIZE with an
    error, and the file was treated as absent, so disallowed pages were fetched."""
    import gzip

    body = "User-agent: *\nDisallow: /news/secret\n" + "# comment line\n" * 750_000
    h = build(db_url=sqlite_url)
    h.web.add(
        "https://news.example/robots.txt",
        gzip.compress(body.encode()),
        content_type="text/plain",
        **{"Content-Encoding": "gzip"},
    )
    assert robots_verdicts(h) == {OPEN: None, SECRET: "robots_disallowed"}


@pytest.mark.parametrize("hops", [1, 5])
def test_a_robots_txt_redirected_to_another_host_is_followed(sqlite_url: str, hops: int) -> None:
    """RFC 9309 (2.3.1.2): follow at least five redirects, to any host. The off-site check
    used to refuse the hop, and the file was treated as absent."""
    h = build(db_url=sqlite_url)
    chain = ["https://news.example/robots.txt"] + [
        f"https://robots-home.example/r{i}" for i in range(1, hops)
    ]
    final = "https://robots-home.example/robots.txt"
    for here, there in zip(chain, [*chain[1:], final], strict=True):
        h.web.redirect(here, there, status=301)
    h.web.add(final, "User-agent: *\nDisallow: /news/secret\n", content_type="text/plain")
    assert robots_verdicts(h) == {OPEN: None, SECRET: "robots_disallowed"}


# -- 6. robots.txt Crawl-delay, where the outlet sets no delay of its own ---------------------


@pytest.mark.parametrize(
    ("crawl_delay", "outlet_delay", "slot_delay"),
    [
        ("5", None, 5.0),  # honoured
        ("3600", None, 30.0),  # capped at NEWSCRAWL_MAX_CRAWL_DELAY
        ("5", 0.0, 0.0),  # the outlet's own delay wins, even 0
    ],
)
def test_robots_crawl_delay_is_honoured_unless_the_outlet_sets_a_delay(
    sqlite_url: str, crawl_delay: str, outlet_delay: float | None, slot_delay: float
) -> None:
    politeness = (
        Politeness(download_delay=0.0, concurrency=4)
        if outlet_delay is None
        else Politeness(download_delay=outlet_delay, concurrency=4, explicit_delay=True)
    )
    h = build(replace(OUTLET, politeness=politeness), db_url=sqlite_url, DOWNLOAD_DELAY=0.0)
    robots = f"User-agent: *\nCrawl-delay: {crawl_delay}\nDisallow: /news/secret\n"
    h.web.add("https://news.example/robots.txt", robots, content_type="text/plain")
    assert robots_verdicts(h) == {OPEN: None, SECRET: "robots_disallowed"}
    assert h.crawler.engine.downloader.slots["news.example"].delay == slot_delay


# -- loopback crawls: what needs a real download ------------------------------------------


@pytest.fixture
def outlet(mock_server: MockServer, tmp_path: Path) -> Callable[[str], HostileOutlet]:
    return lambda name: HostileOutlet(mock_server, tmp_path / "outlets", name)


def test_robots_txt_over_the_size_cap_gzip_or_redirected_is_obeyed_in_a_crawl(
    outlet: Callable[[str], HostileOutlet], sqlite_url: str
) -> None:
    """A 12 MB robots.txt (over DOWNLOAD_MAXSIZE: the download used to fail and the host was
    never crawled), an 11 MB gzip-encoded one and one redirected to another host (both used
    to count as absent, so disallowed pages were fetched): each obeyed as far as its first
    500 KiB, in one crawl of three outlets."""
    import gzip

    rules = "User-agent: *\nDisallow: /news/2\n"
    big, packed, moved = outlet("r2_big"), outlet("r2_gzip"), outlet("r2_moved")
    big.robots = {"body": rules + "# padding line\n" * 800_000, "content_type": "text/plain"}
    packed.robots = {
        "body_b64": base64.b64encode(gzip.compress((rules + "#\n" * 5_600_000).encode())).decode(),
        "content_type": "text/plain",
        "headers": {"Content-Encoding": "gzip"},
    }
    elsewhere = moved.server.route("robots-elsewhere.localhost", "/robots.txt", rules)
    moved.robots = {"status": 301, "headers": {"Location": elsewhere}}
    expected_stored, expected_failed = set(), {}
    for o in (big, packed, moved):
        good, secret = o.article(1), o.article(2)
        o.feed([good, secret])
        o.write()
        expected_stored.add(good)
        expected_failed[secret] = "robots_disallowed"
    result = run_cli(
        "crawl", *(o.name for o in (big, packed, moved)), "--db", sqlite_url,
        "--outlets-dir", str(big.folder), "--set", "DOWNLOAD_TIMEOUT=10",
        "--set", "LOG_LEVEL=INFO",  # Scrapy's stats dump, read below
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert_nothing_lost(sqlite_url, expected_stored, expected_failed)
    for o in (big, packed, moved):
        assert o.requests_to("/news/2") == 0
    assert "'newscrawl/robotstxt/truncated': 1" in result.stderr  # the 12 MB download stopped


def test_a_crawl_of_trickling_articles_ends_at_its_time_limit(
    outlet: Callable[[str], HostileOutlet], sqlite_url: str
) -> None:
    """12 articles that send a byte a second: each try runs into DOWNLOAD_TIMEOUT, and with its
    retries the crawl held the lock for minutes (276 s with the defaults). Closed at the run
    time limit, the run ends within it plus one download timeout, says so in its run row and
    summary line, and leaves every URL pending for the next run."""
    o = outlet("r2_slow")
    urls = [o.article(n, action="trickle", delay=1.0) for n in range(1, 13)]
    o.feed(urls)
    started = time.monotonic()
    result = o.crawl(
        sqlite_url, "NEWSCRAWL_RUN_TIME_LIMIT=2", "DOWNLOAD_TIMEOUT=5", "RETRY_TIMES=2"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    assert elapsed < 22  # without the limit: 12 URLs x 3 tries x 5 s on 8 connections, 30 s+
    assert "stopped at the time limit: r2_slow" in result.stderr
    database = Database(sqlite_url)
    with database.read() as s:
        row = s.scalars(select(CrawlRun)).one()
        states = {u.url: (u.state, u.attempts) for u in s.scalars(select(UrlState))}
    database.dispose()
    assert row.status == "time_limit"
    assert row.message == "stopped at the run time limit (2 s): 12 URLs pending for the next run"
    assert set(states) == set(urls)
    assert all(state in ("discovered", "failed") and n < 5 for state, n in states.values())


def test_a_feeds_validators_are_kept_only_from_a_run_that_finished(db: Database) -> None:
    """A run that read the feed but was interrupted keeps nothing, so the next run reads the
    feed whole (its entries may not all be on record yet); one that finished makes the next
    poll conditional."""
    from storage.outlets import sync_outlets

    feed_url = "https://news.example/rss.xml"
    outlet = replace(OUTLET, sources=(Source("rss", feed_url),))
    sync_outlets(db, [outlet.record()])

    def poll(close_reason: str) -> Request:
        web = Web()
        web.add(feed_url, rss([("https://news.example/news/1", "One")]), ETag='"v1"')
        h = build(outlet, web=web, db_url=db.url)
        (request,) = [r for r in run(h.start()) if "source_kind" in r.meta]
        run(h.fetch(request))
        h.spider.closed(close_reason)
        return request

    assert b"If-None-Match" not in poll("shutdown").headers
    assert b"If-None-Match" not in poll("finished").headers  # the interrupted run kept nothing
    assert poll("finished").headers[b"If-None-Match"] == b'"v1"'
