"""``newscrawl ingest``: CC-NEWS-shaped WARC files (built here with warcio) into a real SQLite
file and the real PostgreSQL, through the crawl's decoding, extraction, dedup and store."""

from __future__ import annotations

import gzip
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import runtime
from crawler.cli.common import DAYS, scrapy_settings
from crawler.demo.mockweb import MockOutlet, load_sample
from crawler.registry import load_registry
from crawler.urls import canonical_url
from pipelines.ingest.run import Ingest, IngestCounts, IngestOptions
from storage.db import Database
from storage.models import Article, ArticleProvenance, Outlet

from ..conftest import ROOT, MockServer, run_cli

BENCH_HTML = ROOT / "tests" / "data" / "extraction-benchmark" / "html"


@dataclass(frozen=True)
class Rec:
    """One capture: a response (with its request before it, as crawlers write them)."""

    url: str
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"


def write_warc(path: Path, captures: Sequence[Rec], *, compress: bool = True) -> list[str]:
    """A CC-NEWS-shaped WARC: a warcinfo record, then per capture a request and a response
    record. Returns the response records' ids in file order."""
    ids = []
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=compress)
        writer.write_record(
            writer.create_warcinfo_record(path.name, {"software": "tests", "format": "WARC/1.0"})
        )
        for c in captures:
            req = StatusAndHeaders(
                f"GET {c.url} HTTP/1.1", [("User-Agent", "test")], is_http_request=True
            )
            writer.write_record(
                writer.create_warc_record(
                    c.url, "request", payload=io.BytesIO(b""), http_headers=req
                )
            )
            reason = {200: "OK", 404: "Not Found"}.get(c.status, "-")
            http = StatusAndHeaders(
                f"{c.status} {reason}",
                [("Content-Type", c.content_type), ("Content-Length", str(len(c.body)))],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                c.url, "response", payload=io.BytesIO(c.body), http_headers=http
            )
            ids.append(record.rec_headers.get_header("WARC-Record-ID"))
            writer.write_record(record)
    return ids


def demo(outlet_id: str, port: int = 8000) -> MockOutlet:
    spec = next(o for o in load_sample()["outlets"] if o["id"] == outlet_id)
    return MockOutlet(spec, port)


def pages(outlet: MockOutlet, indexes: Sequence[int]) -> list[Rec]:
    return [
        Rec(outlet.url(outlet.articles[i]), outlet.article_page(i).encode("utf-8")) for i in indexes
    ]


def bench_pages(count: int) -> list[Rec]:
    """The extraction benchmark's real news pages, cycled, each at its own URL on one of five
    hosts (a copy of a page at another URL is an exact duplicate)."""
    bodies = [gzip.decompress(p.read_bytes()) for p in sorted(BENCH_HTML.glob("*.html.gz"))]
    return [
        Rec(f"https://news{i % 5}.example.org/story/{i}", bodies[i % len(bodies)])
        for i in range(count)
    ]


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """Each test's ingest opens its own database handle, dedup index and worker pool."""
    yield
    runtime.shutdown()
    for database in runtime._databases.values():
        database.dispose()
    runtime._databases.clear()
    runtime._dedup.clear()


def ingest(
    url: str,
    *files: Path,
    outlets_dir: Path | None = None,
    options: IngestOptions | None = None,
) -> IngestCounts:
    settings = scrapy_settings(
        url,
        str(outlets_dir) if outlets_dir else None,
        NEWSCRAWL_DEDUP_WINDOW_DAYS=DAYS,
        NEWSCRAWL_EXTRACT_WORKERS=2,
    )
    options = options or IngestOptions(in_flight=4)
    return Ingest(settings, load_registry(outlets_dir), options).run(files)


def articles(db: Database) -> dict[str, Article]:
    with db.read() as s:
        return {a.url: a for a in s.scalars(select(Article))}


def provenance(db: Database) -> list[ArticleProvenance]:
    with db.read() as s:
        return list(s.scalars(select(ArticleProvenance).order_by(ArticleProvenance.id)))


def test_articles_stored_with_their_provenance(db: Database, tmp_path: Path) -> None:
    bbc, presstv = demo("demo_bbc"), demo("demo_presstv")
    captures = [
        *pages(bbc, [0, 1, 2]),
        Rec(
            bbc.base + "/rss.xml", b"<rss version='2.0'></rss>", content_type="application/rss+xml"
        ),
        Rec(bbc.base + "/news/gone", b"<html><body>Not found</body></html>", status=404),
        *pages(presstv, [1, 2]),
    ]
    warc = tmp_path / "CC-NEWS-20250304120000-00001.warc.gz"
    ids = write_warc(warc, captures)

    counts = ingest(db.url, warc)

    assert (counts.responses, counts.html_200, counts.stored) == (7, 5, 5)
    assert dict(counts.skipped) == {"not_html": 1, "status": 1} and not counts.failed
    stored = articles(db)
    assert set(stored) == {canonical_url(c.url) for c in captures[:3] + captures[5:]}
    bbc_article = stored[canonical_url(bbc.url(bbc.articles[0]))]
    assert bbc_article.title == bbc.articles[0]["title"]
    assert bbc.articles[0]["paragraphs"][1] in bbc_article.text
    # no registry outlet holds these hosts: one outlet per host, made on the fly
    assert {a.outlet_id for a in stored.values()} == {bbc.host, presstv.host}
    with db.read() as s:
        outlet = s.get(Outlet, bbc.host)
    assert outlet is not None and outlet.homepage == f"http://{bbc.host}:8000/"

    rows = provenance(db)
    by_article = {r.article_id: r for r in rows}
    assert len(rows) == 5 and set(by_article) == {a.id for a in stored.values()}
    assert [r.record_id for r in rows] == [ids[i] for i in (0, 1, 2, 5, 6)]
    assert {r.warc_file for r in rows} == {str(warc.resolve())}
    assert all("trafilatura" in r.extractor_version for r in rows)
    # the raw page is found again at the recorded offset
    with warc.open("rb") as fh:
        for article in stored.values():
            row = by_article[article.id]
            fh.seek(row.record_offset)
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == row.record_id
            assert canonical_url(record.rec_headers.get_header("WARC-Target-URI")) == article.url


def test_articles_are_stored_many_per_transaction_each_with_its_own_provenance(
    db: Database, tmp_path: Path
) -> None:
    """Group commit: batches of three here. A copy of the first page at another host, in the
    same batch as its original (not yet in the committed index), still joins its cluster."""
    bbc = demo("demo_bbc")
    first = pages(bbc, [0])[0]
    captures = [first, Rec("https://copies.example.net/wire/1", first.body), *pages(bbc, [1, 2, 3])]
    warc = tmp_path / "batched.warc.gz"
    ids = write_warc(warc, captures)

    options = IngestOptions(in_flight=2, store_batch=3, store_wait=3600)
    counts = ingest(db.url, warc, options=options)

    assert (counts.stored, counts.duplicates, counts.transactions) == (5, 1, 2)
    stored = articles(db)
    original = stored[canonical_url(first.url)]
    copy = stored[canonical_url(captures[1].url)]
    assert copy.duplicate_of == original.id and copy.cluster_id == original.cluster_id
    by_article = {r.article_id: r.record_id for r in provenance(db)}
    assert [by_article[stored[canonical_url(c.url)].id] for c in captures] == ids


def test_a_rerun_stores_nothing_twice(db: Database, tmp_path: Path) -> None:
    bbc = demo("demo_bbc")
    first = tmp_path / "a.warc.gz"
    write_warc(first, pages(bbc, [0, 1, 2, 3]))
    # the same pages captured again in a second, uncompressed file, and one new page
    second = tmp_path / "b.warc"
    write_warc(second, pages(bbc, [2, 3, 4]), compress=False)

    ingest(db.url, first)
    again = ingest(db.url, first, second)

    assert again.already == 4 and again.stored == 1 and again.unchanged == 2
    stored = articles(db)
    assert len(stored) == 5
    rows = provenance(db)
    assert len(rows) == 4 + 3 and len({r.record_id for r in rows}) == 7
    with db.read() as s:
        per_article = s.execute(
            select(ArticleProvenance.article_id, func.count()).group_by(
                ArticleProvenance.article_id
            )
        ).all()
    twice = {stored[canonical_url(bbc.url(bbc.articles[i]))].id for i in (2, 3)}
    assert {a for a, n in per_article if n == 2} == twice


def test_a_later_capture_with_an_edit_keeps_the_old_version_as_an_ingest_revision(
    db: Database, tmp_path: Path
) -> None:
    from storage.models import ArticleRevision

    bbc = demo("demo_bbc")
    first = tmp_path / "a.warc.gz"
    write_warc(first, pages(bbc, [0]))
    ingest(db.url, first)
    page = bbc.article_page(0)
    # a sentence added to the story's first paragraph (the first <p> is its byline)
    lead = page.index("</p>", page.index("</time>"))
    edited = page[:lead] + " A correction was added to this story later." + page[lead:]
    assert edited != page
    later = tmp_path / "b.warc.gz"
    write_warc(later, [Rec(bbc.url(bbc.articles[0]), edited.encode("utf-8"))])
    again = ingest(db.url, later)
    assert again.stored == 0 and again.unchanged == 0
    with db.read() as s:
        revs = list(s.scalars(select(ArticleRevision)))
    assert [(r.revision, r.changed, r.cause) for r in revs] == [(1, "text", "ingest")]
    assert "A correction was added" in next(iter(articles(db).values())).text


def test_a_damaged_warc_says_so_and_keeps_what_was_stored(db: Database, tmp_path: Path) -> None:
    bbc = demo("demo_bbc")
    whole = tmp_path / "whole.warc.gz"
    write_warc(whole, pages(bbc, range(6)))
    data = whole.read_bytes()
    with whole.open("rb") as fh:
        it = ArchiveIterator(fh)
        offsets = [it.get_record_offset() for r in it if r.rec_type == "response"]
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: offsets[4] + 300])  # inside the fifth page's record
    corrupt = tmp_path / "corrupt.warc.gz"
    corrupt.write_bytes(data[: offsets[2]] + b"\x1f\x8b\x08\x00garbage" * 50 + data[offsets[2] :])
    not_warc = tmp_path / "notes.warc"
    not_warc.write_text("these are my notes, not a WARC file\n")

    counts = ingest(db.url, truncated)
    assert counts.stored == 4
    assert len(counts.damaged) == 1 and "truncated" in counts.damaged[0]
    assert str(truncated) in counts.damaged[0]
    assert len(articles(db)) == 4 and len(provenance(db)) == 4

    counts = ingest(db.url, not_warc, corrupt)
    assert len(counts.damaged) == 2 and str(not_warc) in counts.damaged[0]
    # the copy's first two records were stored from the truncated file: skipped
    assert str(corrupt) in counts.damaged[1] and counts.already == 2 and counts.stored == 0
    assert len(articles(db)) == 4 and len(provenance(db)) == 4

    counts = ingest(db.url, whole)
    assert not counts.damaged and counts.already == 4 and counts.stored == 2
    assert len(articles(db)) == 6 and len(provenance(db)) == 6


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_copies_in_a_warc_join_the_clusters_of_a_crawl(
    backend: str, mock_server: MockServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Outlets crawled live (with --warc), then a CC-NEWS-shaped WARC holding another outlet's
    copies of their stories: the copies join the crawled clusters. The crawl's own archive,
    ingested after, finds every article already stored."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    outlets = str(mock_server.outlets_dir)
    archive = tmp_path / "warc"
    crawl = run_cli(
        "crawl", "demo_bbc", "demo_presstv", "--db", url, "--outlets-dir", outlets,
        "--warc", str(archive),
    )  # fmt: skip
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    db = Database(url)
    crawled = articles(db)
    bbc, presstv = demo("demo_bbc", mock_server.port), demo("demo_presstv", mock_server.port)
    wire = demo("demo_wire", mock_server.port)
    assert len(crawled) == len(bbc.articles) + len(presstv.articles)

    cc_news = tmp_path / "CC-NEWS-20250305000000-00002.warc.gz"
    write_warc(cc_news, pages(wire, range(len(wire.articles))))
    result = run_cli("ingest", str(cc_news), "--db", url, "--outlets-dir", outlets, "--progress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "newscrawl ingest: file 1" in result.stderr  # the live line
    assert f"{len(wire.articles)} stored, 5 duplicates linked" in result.stderr

    after = articles(db)
    # the sample's syndicated copies: the wire's first five stories
    seeds = [presstv.articles[0], bbc.articles[0], bbc.articles[3], bbc.articles[6]]
    seeds.append(bbc.articles[9])
    for i, seed_art in enumerate(seeds):
        copy = after[canonical_url(wire.url(wire.articles[i]))]
        seed = after[canonical_url(bbc.url(seed_art) if i else presstv.url(seed_art))]
        assert copy.outlet_id == "demo_wire" and copy.cluster_id == seed.cluster_id
        assert copy.duplicate_of == seed.id or seed.duplicate_of == copy.id
    own = [after[canonical_url(wire.url(a))] for a in wire.articles[5:]]
    assert all(a.cluster_id == a.id and a.duplicate_of is None for a in own)
    assert all(after[u].cluster_id == a.cluster_id for u, a in crawled.items())

    warcs = [str(p) for p in sorted(archive.glob("*.warc.gz"))]
    assert len(warcs) == 2
    again = run_cli("ingest", *warcs, "--db", url, "--outlets-dir", outlets)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f" 0 stored, 0 duplicates linked, 0 updated, {len(crawled)} unchanged" in again.stderr
    assert len(articles(db)) == len(after)
    rows = provenance(db)
    assert {r.article_id for r in rows} == {a.id for a in after.values()}
    db.dispose()


def test_a_killed_ingest_completes_on_rerun(sqlite_url: str, tmp_path: Path) -> None:
    """SIGKILL midway (the ingest and its workers), then the same command again: everything
    stored once, with the clusters an uninterrupted ingest makes."""
    warc = tmp_path / "big.warc.gz"
    write_warc(warc, bench_pages(60))
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    ingest(reference_url, warc)

    command = [sys.executable, "-m", "crawler.cli", "ingest", str(warc), "--db", sqlite_url,
               "--set", "NEWSCRAWL_STORE_BATCH=5"]  # fmt: skip
    env = {**os.environ, "NEWSCRAWL_EXTRACT_WORKERS": "2"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    path = sqlite_url.removeprefix("sqlite:///")
    stored_at_kill = 0
    deadline = time.monotonic() + 180
    while stored_at_kill < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        try:
            with sqlite3.connect(path, timeout=1) as conn:
                stored_at_kill = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        except sqlite3.Error:
            pass  # not created or migrated yet
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    assert 10 <= stored_at_kill < 60

    rerun = run_cli("ingest", str(warc), "--db", sqlite_url)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    def shape(url: str) -> dict[str, tuple[str, str | None]]:
        db = Database(url)
        stored = articles(db)
        by_id = {a.id: a.url for a in stored.values()}
        rows = provenance(db)
        assert len(rows) == len(stored) == len({r.record_id for r in rows})
        db.dispose()
        return {u: (a.text_hash, by_id.get(a.duplicate_of or 0)) for u, a in stored.items()}

    assert shape(sqlite_url) == shape(reference_url)
