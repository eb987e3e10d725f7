"""The hostile-input and fault catalogue of ../shared/docs/reliability.md (A1-F5), each as a
crawl on loopback. "Nothing lost" is asserted the same way each time: the database holds
exactly the expected articles, once each, and every URL not stored has a recorded reason."""

from __future__ import annotations

import base64
import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.demo.mockweb import compressed_bomb
from crawler.urls import canonical_url
from storage.db import Database
from storage.models import Article, CrawlRun, Signature, UrlAlias, UrlState

from ..conftest import ROOT, MockServer, run_cli
from ..hostile_web import (
    Canary,
    HostileOutlet,
    TcpProxy,
    article_page,
    assert_nothing_lost,
    paragraphs,
    rss,
    stored_and_failed,
)

OutletFactory = Callable[[str], HostileOutlet]


@pytest.fixture
def outlet(mock_server: MockServer, tmp_path: Path) -> OutletFactory:
    return lambda name: HostileOutlet(mock_server, tmp_path / "outlets", name)


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- A: transport and size -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a1_compression_bombs_are_dropped(
    outlet: OutletFactory, sqlite_url: str, encoding: str
) -> None:
    o = outlet(f"a1_{encoding}")
    good = o.article(1)
    bomb = o.route(
        "/news/2", body_b64=b64(compressed_bomb(encoding)), headers={"Content-Encoding": encoding}
    )
    o.feed([good, bomb])
    result = o.crawl(sqlite_url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_nothing_lost(sqlite_url, {good}, {bomb: "too_large"})


@pytest.mark.parametrize("action", [None, "no_length"])
def test_a2_large_honest_body_is_cancelled_not_retried(
    outlet: OutletFactory, sqlite_url: str, action: str | None
) -> None:
    o = outlet(f"a2_{action or 'length'}")
    good = o.article(1)
    big = o.route(
        "/news/2", body=article_page("Big", ["x " * 1000] * 6000), action=action
    )  # ~12 MB
    o.feed([good, big])
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {good}, {big: {"too_large", "connection_lost", "truncated"}})
    assert o.requests_to("/news/2") == 1  # a size failure is not transient: no retry


def test_a3_gzip_sitemap_bomb_is_ignored_and_other_sources_crawled(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("a3")
    good = o.article(1)
    o.feed([good])
    sm = o.route(
        "/sitemap.xml.gz",
        body_b64=b64(gzip.compress(bytes(64 * 1024 * 1024))),
        content_type="application/x-gzip",
    )
    o.sources.append(("sitemap", sm))
    result = o.crawl(sqlite_url)
    assert result.returncode == 0
    assert_nothing_lost(sqlite_url, {good}, {})
    assert "sitemap.xml.gz" in result.stderr and "skipped" in result.stderr


def test_a4_stalls_truncation_resets_and_503_retry_then_fail_then_heal(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("a4")
    good = o.article(1)
    stall = o.article(2, action="stall", delay=6)
    trunc = o.article(3, action="truncate")
    reset = o.article(4, action="reset")
    busy = o.article(5, status=503, headers={"Retry-After": "1"})
    o.feed([good, stall, trunc, reset, busy])
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(
        sqlite_url,
        {good},
        {
            stall: "timeout",
            trunc: {"truncated", "connection_lost"},
            reset: "connection_lost",
            busy: "http_503",
        },
    )
    assert o.requests_to("/news/5") == 2  # RETRY_TIMES=1: tried, retried, recorded
    # the servers heal; the next run stores them all
    for n in (2, 3, 4, 5):
        o.article(n)
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {good, stall, trunc, reset, busy}, {})


def test_a5_redirect_loops_and_long_chains_stop_at_the_cap(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("a5")
    good = o.article(1)
    loop = o.route("/news/loop", status=302, headers={"Location": "/news/loop"})
    for i in range(8):
        o.route(f"/news/chain{i}", status=302, headers={"Location": f"/news/chain{i + 1}"})
    o.article(99)
    o.route("/news/chain8", status=302, headers={"Location": "/news/99"})
    o.feed([good, loop, o.url("/news/chain0")])
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(
        sqlite_url, {good}, {loop: "redirect_loop", o.url("/news/chain0"): "redirect_loop"}
    )


def test_a6_pdf_video_and_binary_labelled_html_are_skipped(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("a6")
    good = o.article(1)
    pdf = o.route(
        "/news/2", body_b64=b64(b"%PDF-1.4\n" + os.urandom(200_000)), content_type="application/pdf"
    )
    video = o.route("/news/3", body_b64=b64(os.urandom(300_000)), content_type="video/mp4")
    binary = o.route(
        "/news/4", body_b64=b64(b"\x00\x01\x02" + os.urandom(50_000)), content_type="text/html"
    )
    o.feed([good, pdf, video, binary])
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(
        sqlite_url, {good}, {pdf: "not_html", video: "not_html", binary: "binary_body"}
    )


# -- B: schemes and addresses ----------------------------------------------------------------------


def test_b1_bad_schemes_rejected_per_item_relative_links_joined(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("b1")
    good = o.article(1)
    o.article(2)
    to_file = o.route("/news/3", status=302, headers={"Location": "file:///etc/passwd"})
    to_data = o.route("/news/4", status=302, headers={"Location": "data:text/html,<p>owned</p>"})
    feed_links = [
        good,
        "/news/2",
        "file:///etc/passwd",
        "data:text/html,x",
        "ftp://x.example/a",
        "javascript:alert(1)",
        "mailto:a@b.c",
        to_file,
        to_data,
    ]
    o.feed(feed_links)
    assert o.crawl(sqlite_url).returncode == 0
    counts, reasons = stored_and_failed(sqlite_url)
    assert set(counts) == {good, o.url("/news/2")}
    db = Database(sqlite_url)
    with db.read() as s:
        texts = " ".join(s.scalars(select(Article.text)))
    assert "root:" not in texts and "owned" not in texts
    assert set(reasons) >= {to_file, to_data}


def test_b2_private_and_loopback_addresses_refused_in_every_spelling(
    outlet: OutletFactory, sqlite_url: str, canary: Canary
) -> None:
    o = outlet("b2")
    o.extra_domains = [
        "canary.localhost",
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "localhost",
    ]
    o.patterns = ["/"]
    p = canary.port
    hostile = [
        f"http://canary.localhost:{p}/a",
        f"http://127.0.0.1:{p}/b",
        f"http://2130706433:{p}/c",
        f"http://0x7f000001:{p}/d",
        f"http://0177.0.0.1:{p}/e",
        f"http://localhost:{p}/f",
    ]
    good = o.article(1)
    redirect = o.route("/news/2", status=302, headers={"Location": f"http://127.0.0.1:{p}/g"})
    o.feed([good, redirect, *hostile])
    assert o.crawl(sqlite_url).returncode == 0
    assert canary.connections == 0
    counts, reasons = stored_and_failed(sqlite_url)
    assert set(counts) == {good}
    for url in [*hostile, redirect]:
        assert reasons.get(canonical_url(url)) == "blocked_address", url


def test_b2_policy_covers_metadata_private_and_mapped_forms() -> None:
    import ipaddress

    from crawler.middlewares.safety import is_public, parse_allowed

    for addr in [
        "169.254.169.254",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ]:
        assert not is_public(ipaddress.ip_address(addr)), addr
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    networks, endpoints = parse_allowed(["127.0.0.1:8080", "10.1.0.0/16", "[::1]:9000"])
    assert (ipaddress.ip_address("127.0.0.1"), 8080) in endpoints
    assert ipaddress.ip_address("10.1.2.3") in networks[0]


def test_b3_feed_body_that_is_a_path_or_url_opens_nothing(
    outlet: OutletFactory, sqlite_url: str, canary: Canary
) -> None:
    o = outlet("b3")
    good = o.article(1)
    o.feed([good])
    for i, body in enumerate(["/etc/passwd", f"http://127.0.0.1:{canary.port}/feed"]):
        o.sources.append(
            ("rss", o.route(f"/evil{i}.xml", body, content_type="application/rss+xml"))
        )
    result = o.crawl(sqlite_url)
    assert result.returncode == 0
    assert canary.connections == 0
    assert_nothing_lost(sqlite_url, {good}, {})
    assert (
        result.stderr.count("/evil0.xml skipped") == 1
        and result.stderr.count("/evil1.xml skipped") == 1
    )


@pytest.mark.parametrize(
    ("case", "robots", "stored"),
    [
        ("404", {"status": 404, "body": "gone"}, True),
        ("503", {"status": 503, "body": "down"}, False),
        ("timeout", {"action": "stall", "delay": 6}, False),
        ("disallow", {"body": "User-agent: *\nDisallow: /\n"}, False),
        ("junk", {"body": "\n".join(f"%#!{i} ~~~ garbage ~~~" for i in range(120_000))}, True),
    ],
)
def test_b4_robots_policy(
    outlet: OutletFactory, sqlite_url: str, case: str, robots: dict[str, object], stored: bool
) -> None:
    """404: no robots.txt, crawl. 5xx or no answer: RFC 9309 "unreachable", crawl nothing.
    Disallow: obeyed. Megabytes of junk: no rules in it, crawl."""
    o = outlet(f"b4_{case}")
    good = o.article(1)
    o.feed([good])
    o.robots = {"content_type": "text/plain", **robots}
    result = o.crawl(sqlite_url)
    counts, _ = stored_and_failed(sqlite_url)
    assert (good in counts) is stored, result.stderr[-2000:]
    if not stored and case != "disallow":
        assert "unreachable" in result.stderr
        assert o.requests_to("/news/1") == 0 and o.requests_to("/rss.xml") == 0


def test_b5_a_run_that_reached_no_source_says_which_outlet_failed_and_why(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    """Every source of one outlet fails (its robots.txt answers 503) while another outlet is
    crawled: the summary, the run row and ``newscrawl stats`` name the failed outlet and why."""
    down, up = outlet("b5_down"), outlet("b5_up")
    down.feed([down.article(1)])
    down.robots = {"status": 503, "body": "down"}
    up.feed([up.article(1)])
    up.write()
    down.write()
    result = run_cli(
        *("crawl", "b5_down", "b5_up", "--db", sqlite_url, "--outlets-dir", str(down.folder)),
        *("--set", "DOWNLOAD_TIMEOUT=3", "--set", "RETRY_TIMES=1"),
    )
    assert result.returncode == 1, result.stderr[-2000:]
    summary = result.stderr[result.stderr.index("newscrawl: run failed") :]
    assert "b5_down failed: no source answered (robots.txt unreachable x" in summary
    assert "robots_unreachable: HTTP 503" in summary and "b5_up" not in summary
    db = Database(sqlite_url)
    with db.read() as s:
        (run,) = s.scalars(select(CrawlRun).where(CrawlRun.outlet_id == "b5_down")).all()
    db.dispose()
    assert run.status == "failed" and run.message and "robots.txt unreachable" in run.message
    stats = run_cli("stats", "--db", sqlite_url)
    assert "b5_down: last run failed: no source answered" in stats.stdout


def known_skipped_in_last_run(db_url: str) -> int:
    db = Database(db_url)
    with db.read() as s:
        run = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).one()
    db.dispose()
    return run.known_skipped


@pytest.mark.parametrize("validator", ["ETag", None])
def test_b6_an_unchanged_feed_costs_a_304_or_a_hash_and_a_changed_one_is_read(
    outlet: OutletFactory, sqlite_url: str, validator: str | None
) -> None:
    """A feed that has not changed since the last finished run: answered 304 to the
    validator it sent (or, from a server that ignores validators, the same body again) and
    not parsed. When it changes, its new entry is stored."""
    o = outlet(f"b6_{(validator or 'none').lower().replace('-', '_')}")
    first = o.article(1)
    headers = {"ETag": '"v1"'} if validator == "ETag" else {}
    if validator == "Last-Modified":
        headers = {"Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"}
    o.route(
        "/rss.xml",
        rss([(first, "Headline 1")]),
        content_type="application/rss+xml",
        headers=headers,
    )
    o.sources.append(("rss", o.url("/rss.xml")))
    assert o.crawl(sqlite_url).returncode == 0
    assert o.crawl(sqlite_url).returncode == 0
    feed_304s = [p for h, p in o.server.not_modified() if h == o.host]
    assert feed_304s == (["/rss.xml"] if validator else [])
    assert known_skipped_in_last_run(sqlite_url) == 0  # not parsed: its entry not even looked at
    second = o.article(2)
    o.route(
        "/rss.xml",
        rss([(second, "Headline 2"), (first, "Headline 1")]),
        content_type="application/rss+xml",
        headers={"ETag": '"v2"'} if validator == "ETag" else {},
    )
    assert o.crawl(sqlite_url).returncode == 0
    assert known_skipped_in_last_run(sqlite_url) == 1
    assert_nothing_lost(sqlite_url, {first, second}, {})


# -- C: XML, feeds, sitemaps -----------------------------------------------------------------------

LOL = """<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>"""


def test_c1_c2_entity_expansion_and_external_entities(
    outlet: OutletFactory, sqlite_url: str, canary: Canary
) -> None:
    o = outlet("c12")
    good = o.article(1)
    o.feed([good])
    xxe = f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY net SYSTEM "http://127.0.0.1:{canary.port}/x">]>'
    docs = {
        "/lol-rss.xml": f'<?xml version="1.0"?>{LOL}<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><link>{o.url("/news/1")}</link></item></channel></rss>',
        "/lol-atom.xml": f'<?xml version="1.0"?>{LOL}<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title><entry><title>&lol9;</title><link href="{o.url("/news/1")}"/></entry></feed>',
        "/xxe-rss.xml": f'<?xml version="1.0"?>{xxe}<rss version="2.0"><channel><title>&xxe;&net;</title><item><title>&xxe;</title><link>{o.url("/news/1")}?&net;</link></item></channel></rss>',
    }
    for path, body in docs.items():
        o.sources.append(("rss", o.route(path, body, content_type="application/rss+xml")))
    for path, body in {
        "/lol-sitemap.xml": f'<?xml version="1.0"?>{LOL}<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{o.url("/news/&lol9;")}</loc></url></urlset>',
        "/xxe-sitemap.xml": f'<?xml version="1.0"?>{xxe}<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{o.url("/news/")}&xxe;&net;</loc></url></urlset>',
    }.items():
        o.sources.append(("sitemap", o.route(path, body, content_type="application/xml")))
    started = time.monotonic()
    result = o.crawl(sqlite_url)
    assert result.returncode == 0
    assert time.monotonic() - started < 60
    assert canary.connections == 0
    db = Database(sqlite_url)
    with db.read() as s:
        titles_and_texts = " ".join(f"{a.title} {a.text}" for a in s.scalars(select(Article)))
    assert "root:" not in titles_and_texts and "lollollol" not in titles_and_texts
    assert good in stored_and_failed(sqlite_url)[0]


def test_c3_slow_feed_pattern_stopped_by_time_budget(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("c3")
    good = o.article(1)
    slow = o.article(2)
    o.route(
        "/slow.xml",
        rss(
            [(slow, "slow")],
            f"<item><title>x</title><link>{slow}</link><author>{'a' * 65536}</author></item>",
        ),
        content_type="application/rss+xml",
    )
    o.sources.append(("rss", o.url("/slow.xml")))
    o.feed([good])
    started = time.monotonic()
    result = o.crawl(sqlite_url, "NEWSCRAWL_PARSE_TIMEOUT=2")
    assert result.returncode == 0
    assert time.monotonic() - started < 40
    assert "parsing took over 2 s" in result.stderr
    assert_nothing_lost(sqlite_url, {good}, {})


def test_c4_sitemap_traps_each_fetched_once_and_capped(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("c4")
    good = o.article(1)
    index = '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</sitemapindex>'

    def sm(*paths: str) -> str:
        return index.format("".join(f"<sitemap><loc>{o.url(p)}</loc></sitemap>" for p in paths))

    o.route("/self.xml", sm("/self.xml"), content_type="application/xml")
    o.route("/cycle-a.xml", sm("/cycle-b.xml"), content_type="application/xml")
    o.route("/cycle-b.xml", sm("/cycle-a.xml"), content_type="application/xml")
    for depth in range(10):
        o.route(f"/deep{depth}.xml", sm(f"/deep{depth + 1}.xml"), content_type="application/xml")
    huge = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{o.url(f'/news/many{i}')}</loc></url>" for i in range(150_000))
        + "</urlset>"
    )
    o.route("/huge.xml", huge, content_type="application/xml")  # ~9 MB, under the size cap
    o.route(
        "/leaf.xml",
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{good}</loc></url></urlset>',
        content_type="application/xml",
    )
    for path in ("/self.xml", "/cycle-a.xml", "/deep0.xml", "/huge.xml", "/leaf.xml"):
        o.sources.append(("sitemap_index", o.url(path)))
    result = o.crawl(
        sqlite_url, "NEWSCRAWL_MAX_ARTICLES_PER_RUN=20", "NEWSCRAWL_MAX_SITEMAP_DEPTH=3"
    )
    assert result.returncode == 0
    for path in ("/self.xml", "/cycle-a.xml", "/cycle-b.xml"):
        assert o.requests_to(path) == 1
    assert o.requests_to("/deep5.xml") == 0  # depth cap
    fetched = [p for h, p in o.server.requests() if h == o.host and p.startswith("/news/many")]
    assert len(fetched) <= 20  # per-run article cap
    counts, _ = stored_and_failed(sqlite_url)
    assert good in counts


def test_c5_malformed_feeds_bad_items_skipped_good_items_stored(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("c5")
    urls = [o.article(n) for n in range(1, 6)]
    o.sources.append(
        (
            "rss",
            o.route(
                "/error.xml",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
                content_type="text/html",
            ),
        )
    )
    o.sources.append(
        ("rss", o.route("/as-html.xml", rss([(urls[0], "one")]), content_type="text/html"))
    )  # wrong type, fine feed
    atom = (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="{o.url("/news/")}"><title>t</title>'
        '<entry><title>rel</title><link href="2"/></entry><entry><title>no link</title></entry></feed>'
    )
    o.sources.append(("atom", o.route("/relative.xml", atom, content_type="application/atom+xml")))
    weird = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>w</title>'
        f"<item><guid>same</guid><title>dup</title><link>{urls[2]}</link><pubDate>not a date</pubDate></item>"
        f"<item><guid>same</guid><title>dup</title><link>{urls[2]}</link></item>"
        f"<item><title>future</title><link>{urls[3]}</link><pubDate>Tue, 04 Mar 2999 10:30:00 +0000</pubDate></item>"
        f"<item><title>Caf\xe9 cp1252</title><link>{urls[4]}</link></item></channel></rss>"
    ).encode("cp1252")
    o.sources.append(
        ("rss", o.route("/weird.xml", body_b64=b64(weird), content_type="application/rss+xml"))
    )
    result = o.crawl(sqlite_url)
    assert result.returncode == 0
    assert_nothing_lost(sqlite_url, {urls[0], urls[1], urls[2], urls[3], urls[4]}, {})
    db = Database(sqlite_url)
    with db.read() as s:
        future = s.scalars(select(Article).where(Article.url == urls[3])).one()
    assert future.published_at is None or future.published_at.year < 2999


# -- D: content and extraction ---------------------------------------------------------------------


def test_d1_pathological_pages_fail_with_a_reason_and_the_crawl_goes_on(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("d1")
    good = o.article(1)
    nested = o.article(
        2,
        body="<html><body>"
        + "<div>" * 20_000
        + "deep text " * 50
        + "</div>" * 20_000
        + "</body></html>",
    )
    huge = o.article(3, body="<html><body><p>" + "word " * 1_800_000 + "</p></body></html>")  # 9 MB
    o.feed([good, nested, huge])
    result = o.crawl(sqlite_url)
    assert result.returncode == 0
    counts, reasons = stored_and_failed(sqlite_url)
    assert good in counts
    assert reasons.get(nested) == "extraction_empty"  # trafilatura gives up on the depth
    # a 9 MB text node is either extracted or fails with a recorded reason, never silently
    assert huge in counts or reasons.get(huge, "").startswith(("extraction", "text_too_short"))


def test_d2_slow_extraction_hits_the_per_document_limit(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("d2")
    good = o.article(1)
    slow = o.article(2, body=article_page("slow", ["Many words in a paragraph here. " * 40] * 4000))
    o.feed([good, slow])
    result = o.crawl(sqlite_url, "NEWSCRAWL_EXTRACT_TIMEOUT=0.5")  # the slow page needs seconds
    assert result.returncode == 0
    assert_nothing_lost(sqlite_url, {good}, {slow: "extraction_timeout"})


def test_d3_text_hygiene_identical_on_sqlite_and_postgresql(
    outlet: OutletFactory, sqlite_url: str, pg_url: str
) -> None:
    o = outlet("d3")
    dirty = [
        "\ufeffBOM at the start of a paragraph about the council budget and the vote today.",
        "Zero\u200b\u200b\u200bwidth runs and a NUL\x00 byte inside the story about the river bridge.",
        "Mixed encodings: caf\u00e9, na\u00efve, \u201cquotes\u201d and \u2014 dashes in the league report.",
        "A lone surrogate \ud800 and more text about the hospital and the school and the city.",
    ]
    body = article_page("Dirty", dirty).encode("utf-8", "surrogatepass")
    url = o.article(1, body_b64=b64(body))
    o.feed([url])
    texts = []
    for db_url in (sqlite_url, pg_url):
        assert o.crawl(db_url).returncode == 0
        db = Database(db_url)
        with db.read() as s:
            texts.append(s.scalars(select(Article.text)).one())
        db.dispose()
    assert texts[0] == texts[1]
    assert "\x00" not in texts[0] and "\ufeff" not in texts[0] and "\u200b" not in texts[0]
    assert "café" in texts[0]


# -- E: dedup and storage --------------------------------------------------------------------------


def test_e1_one_article_under_many_urls(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("e1")
    canonical = o.url("/news/1")
    page = article_page("One story", paragraphs(1), canonical=canonical)
    o.article(1, body=page)
    variants = [o.route(p, page) for p in ("/news/1/", "/news/1-amp")]
    mobile_host = f"m.{o.host}"
    mobile = o.server.route(mobile_host, "/news/1", page)
    o.feed([canonical + "?utm_source=rss&utm_medium=feed", *variants])
    o.feed([mobile, canonical + "#comments"], path="/rss2.xml")
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {canonical}, {})
    db = Database(sqlite_url)
    with db.read() as s:
        aliases = set(s.scalars(select(UrlAlias.url)))
    assert {*variants, mobile} <= aliases


def test_e2_hostile_rel_canonical_is_not_believed(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("e2")
    urls = [
        o.article(n, body=article_page(f"H{n}", paragraphs(n), canonical=o.url("/")))
        for n in (1, 2)
    ]
    urls += [
        o.article(
            n,
            body=article_page(f"H{n}", paragraphs(n), canonical="https://elsewhere.example/news/1"),
        )
        for n in (3, 4)
    ]
    o.feed(urls)
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, set(urls), {})


def test_e3_copy_linked_and_in_place_update_replaces(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    o = outlet("e3")
    story = paragraphs(7, 6)
    first = o.article(1, body=article_page("Original", story))
    copy = o.article(2, body=article_page("Republished", story[:5]))
    feed = rss([(first, "Original"), (copy, "Republished")])
    o.route("/rss.xml", feed, content_type="application/rss+xml")
    o.sources.append(("rss", o.url("/rss.xml")))
    assert o.crawl(sqlite_url).returncode == 0
    # the original is corrected in place; its feed entry says so
    o.article(
        1,
        body=article_page(
            "Original",
            [
                *story[:5],
                "A corrected final paragraph with new facts about the council vote and budget.",
            ],
        ),
    )
    # ...and its feed entry says it changed after the stored version was fetched
    changed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    marker = f"<atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>{changed}</atom:updated>"
    updated = feed.replace("<title>Original</title>", "<title>Original</title>" + marker)
    o.route("/rss.xml", updated, content_type="application/rss+xml")
    time.sleep(1.5)
    assert o.crawl(sqlite_url).returncode == 0
    db = Database(sqlite_url)
    with db.read() as s:
        rows = {a.url: a for a in s.scalars(select(Article))}
    assert set(rows) == {first, copy}
    assert rows[copy].cluster_id == rows[first].cluster_id
    assert "corrected final paragraph" in rows[first].text


def test_e4_short_text_never_minhash_indexed(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("e4")
    short = o.article(
        1,
        body=article_page(
            "Brief",
            [
                "Markets closed higher on Friday after a quiet week of trading in the city, with the budget vote still to come, the council undecided on the plans for the new river bridge, and teachers at the old school waiting for news of their pay."
            ],
        ),
    )
    o.feed([short])
    assert o.crawl(sqlite_url).returncode == 0
    db = Database(sqlite_url)
    with db.read() as s:
        sig = s.scalars(select(Signature)).one()
    assert sig.minhash == b"" and sig.shingle_count < 50


def test_e5_changed_dedup_parameters_are_refused(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("e5")
    o.feed([o.article(1)])
    assert o.crawl(sqlite_url).returncode == 0
    result = o.crawl(sqlite_url, "NEWSCRAWL_DEDUP_SEED=1")
    assert result.returncode == 1
    assert "other dedup parameters" in result.stderr


WRITER = """
import sys
from datetime import UTC, datetime
from storage.articles import ArticleRow, store_article
from storage.content import ArticleContent
from storage.db import Database
from storage.outlets import sync_outlets
from crawler.registry import load_registry
db = Database(sys.argv[1])
sync_outlets(db, [load_registry()["presstv"].record()])
worker = int(sys.argv[2])
for i in range(150):
    n = i if i % 3 == 0 else worker * 1000 + i  # every third URL is written by all workers
    url = f"https://www.presstv.ir/Detail/2025/01/01/{n}/S"
    content = ArticleContent(title="t", language="en", text=f"text {n}", text_hash=f"h{n}")
    store_article(db, ArticleRow("presstv", url, [], content, None, datetime.now(UTC)))
"""


def run_writers(db_url: str, workers: int) -> list[str]:
    """``workers`` processes storing 150 articles each at once, a third of the URLs shared."""
    Database(db_url).dispose()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(w)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    db = Database(db_url)
    with db.read() as s:
        urls = list(s.scalars(select(Article.url)))
    db.dispose()
    assert not any("locked" in e for e in errors)
    return urls


def test_e6_four_processes_write_one_sqlite_file(sqlite_url: str) -> None:
    urls = run_writers(sqlite_url, 4)
    assert len(urls) == len(set(urls)) == 50 + 4 * 100


def test_e7_two_workers_upsert_one_url_at_once_on_postgresql(pg_url: str) -> None:
    urls = run_writers(pg_url, 2)
    assert len(urls) == len(set(urls)) == 50 + 2 * 100


def test_e8_disk_full_stops_the_crawl_and_a_rerun_stores_the_rest(
    outlet: OutletFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    o = outlet("e8")
    urls = [o.article(n, body=article_page(f"H{n}", paragraphs(n, 30))) for n in range(1, 41)]
    o.feed(urls)
    Database(sqlite_url).dispose()
    pages = os.path.getsize(sqlite_url.removeprefix("sqlite:///")) // 4096
    monkeypatch.setenv("NEWSCRAWL_SQLITE_PRAGMAS", f"max_page_count={pages + 40}")
    result = o.crawl(sqlite_url, "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    assert result.returncode == 1
    assert "storage failed" in result.stderr and "full" in result.stderr
    monkeypatch.delenv("NEWSCRAWL_SQLITE_PRAGMAS")
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, set(urls), {})


def test_e8_postgresql_going_down_mid_crawl_stops_it_and_a_rerun_stores_the_rest(
    outlet: OutletFactory, pg_url: str
) -> None:
    o = outlet("e8pg")
    urls = slow_outlet(o)
    Database(pg_url).dispose()
    proxy = TcpProxy(5432)
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    proc = start_crawl(o, via_proxy)
    wait_for_rows(pg_url, 3)
    proxy.cut()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-3000:]
    assert "storage failed" in err
    assert o.crawl(pg_url).returncode == 0
    assert_nothing_lost(pg_url, set(urls), {})


def test_e8_unreachable_or_read_only_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert result.returncode == 1 and "cannot open database" in result.stderr
    assert "Traceback" not in result.stderr
    ro = tmp_path / "ro.db"
    Database(f"sqlite:///{ro}").dispose()
    result = run_cli("crawl", "--db", f"sqlite:///file:{ro}?mode=ro&uri=true")
    assert result.returncode == 1 and "Traceback" not in result.stderr


# -- F: process lifecycle --------------------------------------------------------------------------


def slow_outlet(o: HostileOutlet, n: int = 60) -> list[str]:
    urls = [o.article(i, delay=0.3) for i in range(1, n + 1)]
    o.feed(urls)
    o.write()
    return urls


def start_crawl(o: HostileOutlet, db_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NEWSCRAWL_EXTRACT_WORKERS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            o.name,
            "--db",
            db_url,
            "--outlets-dir",
            str(o.folder),
            "--set",
            "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(db_url: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = Database(db_url)
            with db.read() as s:
                if len(list(s.scalars(select(Article.id)))) >= n:
                    db.dispose()
                    return
            db.dispose()
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} rows after {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_f1_graceful_stop_keeps_rows_and_rerun_completes(
    outlet: OutletFactory, sqlite_url: str, sig: signal.Signals
) -> None:
    o = outlet(f"f1_{sig.name.lower()}")
    urls = slow_outlet(o)
    proc = start_crawl(o, sqlite_url)
    wait_for_rows(sqlite_url, 3)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err[-2000:]
    db = Database(sqlite_url)
    with db.read() as s:
        kept = len(list(s.scalars(select(Article.id))))
        run = s.scalars(select(CrawlRun)).one()
    assert 3 <= kept < len(urls)
    assert run.status == "interrupted"
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, set(urls), {})


def test_f1_the_first_sigint_sends_nothing_more_and_the_crawl_ends_in_seconds(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    """60 articles behind one connection, 0.3 s each: 30-odd requests sit in the downloader's
    queue. After SIGINT none of them is sent (31 were, one by one behind the delay), the crawl
    says so and ends within seconds, and they are fetched by the next run, not failed."""
    o = outlet("f1_prompt")
    urls = slow_outlet(o)
    proc = start_crawl(o, sqlite_url)
    wait_for_rows(sqlite_url, 3)

    def article_requests() -> int:
        return sum(1 for h, p in o.server.requests() if h == o.host and p.startswith("/news/"))

    before = article_requests()
    signalled = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    took = time.monotonic() - signalled
    assert proc.returncode == 2, err[-2000:]
    assert article_requests() - before <= 1  # at most the one already on its way
    assert "stopping: no new requests" in err and "queued requests not sent" in err
    assert took < 10, f"{took:.1f} s from SIGINT to exit"
    db = Database(sqlite_url)
    with db.read() as s:
        states = {u.state for u in s.scalars(select(UrlState))}
    db.dispose()
    assert states == {"stored", "discovered"}  # not sent is not failed
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, set(urls), {})


def test_f1_a_second_sigint_stops_at_once_with_exit_2_and_the_run_interrupted(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    """The first SIGINT starts a graceful stop, which waits for a download that stalls for
    30 s; the second stops the crawl at once: exit 2, the run recorded interrupted, the stalled
    article still on record to be fetched next time."""
    o = outlet("f1_twice")
    good = [o.article(i) for i in (1, 2)]
    stalled = o.article(3, action="stall", delay=30)
    o.feed([*good, stalled])
    o.write()
    proc = start_crawl(o, sqlite_url)
    deadline = time.monotonic() + 60
    while not o.requests_to("/news/3") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert o.requests_to("/news/3"), "the stalling article was never requested"
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert proc.poll() is None  # the graceful stop waits for the stalled download
    proc.send_signal(signal.SIGINT)
    second = time.monotonic()
    try:
        _out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 2, err[-2000:]
    assert time.monotonic() - second < 10
    assert "stopped it at once; 1 runs recorded interrupted" in err
    db = Database(sqlite_url)
    with db.read() as s:
        run = s.scalars(select(CrawlRun)).one()
        state = s.get(UrlState, canonical_url(stalled))
    assert (run.status, run.exit_code, run.close_reason) == ("interrupted", 2, "second_sigint")
    assert state is not None and state.state == "discovered"  # fetched again next run
    db.dispose()


def test_f2_sigkill_leaves_no_partial_rows(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("f2")
    urls = slow_outlet(o)
    proc = start_crawl(o, sqlite_url)
    wait_for_rows(sqlite_url, 3)
    proc.kill()
    proc.communicate(timeout=30)
    db = Database(sqlite_url)
    with db.read() as s:
        for article in s.scalars(select(Article)):
            assert article.text and article.cluster_id is not None
            assert s.get(Signature, article.id) is not None
        (killed,) = s.scalars(select(CrawlRun)).all()
    assert killed.status == "running"  # the killed process could record nothing
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, set(urls), {})
    with db.read() as s:  # the rerun found the killed run's process gone
        runs = {r.id: r.status for r in s.scalars(select(CrawlRun))}
    assert runs[killed.id] == "abandoned" and list(runs.values()).count("finished") == 1


def test_f3_failed_url_heals_and_is_stored_next_run(outlet: OutletFactory, sqlite_url: str) -> None:
    o = outlet("f3")
    good = o.article(1)
    flaky = o.article(2, healthy_after=2)  # 503 twice (a try and a retry), then fine
    o.feed([good, flaky])
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {good}, {flaky: "http_503"})
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {good, flaky}, {})


def test_f4_jobdir_pause_and_resume_serialises_every_request(
    outlet: OutletFactory, sqlite_url: str, tmp_path: Path
) -> None:
    o = outlet("f4")
    urls = [o.article(n) for n in range(1, 7)]
    o.feed(urls)
    o.write()
    env = {
        **os.environ,
        "NEWSCRAWL_OUTLETS_DIR": str(o.folder),
        "NEWSCRAWL_DATABASE_URL": sqlite_url,
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", o.name, "-s", f"JOBDIR={tmp_path / 'job'}"]
    first = subprocess.run(
        [*cmd, "-s", "CLOSESPIDER_ITEMCOUNT=2", "-s", "CONCURRENT_REQUESTS=1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Unable to serialize" not in first.stderr and "Traceback" not in first.stderr
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "Unable to serialize" not in second.stderr and "Traceback" not in second.stderr
    assert_nothing_lost(sqlite_url, set(urls), {})


def test_f5_runaway_outlet_is_bounded_and_others_unaffected(
    outlet: OutletFactory, mock_server: MockServer, sqlite_url: str
) -> None:
    o = outlet("f5")
    many = [o.url(f"/news/gone{i}") for i in range(3000)]  # thousands of 404s
    o.feed(many)
    for depth in range(50):  # endless sitemap pagination
        o.route(
            f"/page{depth}.xml",
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{o.url(f"/page{depth + 1}.xml")}</loc></sitemap></sitemapindex>',
            content_type="application/xml",
        )
    o.sources.append(("sitemap_index", o.url("/page0.xml")))
    o.write()
    calm = HostileOutlet(mock_server, o.folder, "f5_calm")
    good = calm.article(1)
    calm.feed([good])
    calm.write()
    result = run_cli(
        "crawl",
        o.name,
        calm.name,
        "--db",
        sqlite_url,
        "--outlets-dir",
        str(o.folder),
        "--set",
        "NEWSCRAWL_MAX_ARTICLES_PER_RUN=200",
        "--set",
        "NEWSCRAWL_MAX_SITEMAP_DEPTH=3",
        "--set",
        "CLOSESPIDER_ERRORCOUNT=50",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    fetched = [p for h, p in mock_server.requests() if h == o.host and p.startswith("/news/gone")]
    assert len(fetched) <= 200
    assert o.requests_to("/page5.xml") == 0
    counts, reasons = stored_and_failed(sqlite_url)
    assert good in counts
    assert sum(1 for r in reasons.values() if r == "http_404") == len(set(fetched))


def test_f3_url_in_flight_at_a_crash_is_fetched_next_run_though_no_feed_lists_it(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    """The first run records each new URL before fetching it; a URL the process never got to
    (here: dropped from the feed before the second run, and its first fetch failed) is fetched
    again from the record."""
    o = outlet("f3b")
    good = o.article(1)
    dropped = o.article(2, status=503)
    o.feed([good, dropped])
    assert o.crawl(sqlite_url).returncode == 0
    o.article(2)  # heals...
    o.feed([good])  # ...but the feed no longer lists it
    o.sources = o.sources[-1:]
    assert o.crawl(sqlite_url).returncode == 0
    assert_nothing_lost(sqlite_url, {good, dropped}, {})


def test_discovered_urls_are_recorded_before_fetching(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    from storage.models import UrlState

    o = outlet("disc")
    stall = o.article(1, action="stall", delay=30)
    o.feed([stall])
    o.write()
    proc = start_crawl(o, sqlite_url)
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline and state is None:
        time.sleep(0.3)
        try:
            db = Database(sqlite_url)
            with db.read() as s:
                row = s.get(UrlState, stall)
                state = row.state if row else None
            db.dispose()
        except Exception:
            pass
    proc.kill()
    proc.communicate(timeout=30)
    assert state == "discovered"


def test_failures_of_tracked_links_count_against_their_canonical_record(
    outlet: OutletFactory, sqlite_url: str
) -> None:
    """A failing link with tracking parameters is recorded under its canonical URL, so its
    attempts add up and stop at NEWSCRAWL_MAX_ATTEMPTS."""
    o = outlet("tracked")
    bad = o.article(1, status=500)
    o.feed([bad + "?utm_source=rss&utm_campaign=x"])
    for _ in range(3):
        assert o.crawl(sqlite_url, "NEWSCRAWL_MAX_ATTEMPTS=2").returncode == 0
    from storage.models import UrlState

    db = Database(sqlite_url)
    with db.read() as s:
        states = {u.url: (u.state, u.reason, u.attempts) for u in s.scalars(select(UrlState))}
    # runs 1 and 2 try it (from the feed, then from the record); run 3 finds the feed
    # unchanged (not parsed) and the record at its limit: nothing more
    assert states == {bad: ("failed", "http_500", 2)}
    assert o.requests_to("/news/1") == 2 * 2  # two runs, two tries each (RETRY_TIMES=1)
