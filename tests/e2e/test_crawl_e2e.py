"""End to end: crawl sample outlets from the loopback mock web into real databases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.demo.mockweb import MockOutlet, load_sample
from crawler.urls import canonical_url
from storage.db import Database
from storage.models import Article, CrawlRun, UrlState

from ..conftest import ROOT, MockServer, run_cli

OUTLETS = ["demo_bbc", "demo_presstv"]
CHROME = [
    "Accept all cookies",
    "Related stories",
    "All rights reserved",
    "Watch live",
    "Follow us on social media",
    "(AFP Photo)",
    "Presstv.com",
]


def expected(server: MockServer) -> dict[str, tuple[str, dict[str, object]]]:
    """canonical URL -> (outlet id, sample article) for the crawled outlets."""
    result = {}
    for spec in load_sample()["outlets"]:
        if spec["id"] in OUTLETS:
            outlet = MockOutlet(spec, server.port)
            for art in outlet.articles:
                result[canonical_url(outlet.url(art))] = (spec["id"], art)
    return result


def crawl(server: MockServer, db_url: str, *names: str, settings: tuple[str, ...] = ()) -> None:
    sets = [x for name in settings for x in ("--set", name)]
    result = run_cli(
        "crawl", *names, "--db", db_url, "--outlets-dir", str(server.outlets_dir), *sets
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def test_crawl_stores_exactly_the_articles_with_feed_metadata(
    mock_server: MockServer, db_url: str
) -> None:
    crawl(mock_server, db_url, *OUTLETS)
    want = expected(mock_server)
    db = Database(db_url)
    with db.read() as s:
        articles = {a.url: a for a in s.scalars(select(Article))}
        runs = list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
        failed = list(s.scalars(select(UrlState).where(UrlState.state != "stored")))
    assert set(articles) == set(want)
    assert not failed
    for url, (outlet_id, art) in want.items():
        stored = articles[url]
        assert stored.outlet_id == outlet_id
        assert stored.title == art["title"]
        # The feeds carry exact times; the page only a date: the feed's must win.
        assert stored.published_at is not None
        assert stored.published_at.isoformat() == str(art["published"]).replace("Z", "+00:00")
        assert stored.published_source in {"rss", "atom", "news_sitemap"}
        for paragraph in art["paragraphs"]:  # type: ignore[attr-defined]
            assert paragraph in stored.text
        for chrome in CHROME:
            assert chrome not in stored.text, (url, chrome)
        assert stored.language == "en"
    assert {(r.outlet_id, r.status, r.exit_code) for r in runs} == {
        (o, "finished", 0) for o in OUTLETS
    }
    assert sum(r.articles_stored for r in runs) == len(want)
    db.dispose()


def test_rerun_stores_nothing_new_and_fetches_no_known_article(
    mock_server: MockServer, sqlite_url: str
) -> None:
    crawl(mock_server, sqlite_url, *OUTLETS)
    mock_server.reset()
    # every feed read again (not skipped as unchanged): each entry meets the record
    crawl(mock_server, sqlite_url, *OUTLETS, settings=("NEWSCRAWL_CONDITIONAL_POLLS=false",))
    fetched_paths = {path for _host, path in mock_server.requests()}
    article_paths = {str(art["path"]) for _o, art in expected(mock_server).values()}
    assert not fetched_paths & article_paths, "known articles were downloaded again"
    db = Database(sqlite_url)
    with db.read() as s:
        runs = list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))
        count = len(list(s.scalars(select(Article.id))))
    assert count == len(expected(mock_server))
    second = runs[len(OUTLETS) :]
    assert {r.status for r in second} == {"finished"}
    assert sum(r.articles_stored for r in second) == 0
    assert sum(r.known_skipped for r in second) == len(expected(mock_server))
    db.dispose()


def test_malformed_outlet_file_fails_naming_file_and_problem(
    tmp_path: Path, sqlite_url: str
) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text(
        'id = "broken"\nname = "B"\nhomepage = "https://b.example/"\nlanguage = "en"\n'
        'allowed_domains = ["b.example"]\nsources = [{kind = "rss", url = "gopher://b.example/"}]\n'
    )
    result = run_cli("crawl", "--db", sqlite_url, "--outlets-dir", str(tmp_path))
    assert result.returncode == 1
    assert str(bad) in result.stderr and "sources[0].url" in result.stderr
    assert "Traceback" not in result.stderr


def test_scrapy_list_shows_every_registered_outlet(mock_server: MockServer) -> None:
    env = {**os.environ, "NEWSCRAWL_OUTLETS_DIR": str(mock_server.outlets_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == sorted(["presstv", "demo_bbc", "demo_presstv", "demo_wire"])


def test_cli_outlets_and_stats(mock_server: MockServer, sqlite_url: str) -> None:
    listing = run_cli("outlets", "--outlets-dir", str(mock_server.outlets_dir))
    assert listing.returncode == 0
    assert (
        "presstv\tPress TV" in listing.stdout
        and "https://www.presstv.ir/robots.txt" in listing.stdout
    )
    crawl(mock_server, sqlite_url, "demo_presstv")
    stats = run_cli("stats", "--db", sqlite_url)
    assert stats.returncode == 0
    line = next(x for x in stats.stdout.splitlines() if x.startswith("demo_presstv"))
    assert line.split()[1] == "6"


def test_demo_runs_offline_and_stores_the_sample(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_cli("demo", "--db", db_url, "--port", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    total = sum(len(o["articles"]) for o in load_sample()["outlets"])
    assert f"({total} articles)" in result.stdout
    assert "demo_wire" in result.stdout and "Traceback" not in result.stderr
    db = Database(db_url)
    with db.read() as s:
        articles = list(s.scalars(select(Article).order_by(Article.id)))
    db.dispose()
    assert len(articles) == total
    assert_same_clusters_as_the_dedup_command(articles)


def assert_same_clusters_as_the_dedup_command(articles: list[Article]) -> None:
    """The crawl links exactly the copies ``newscrawl dedup`` links in the texts it stored (in
    the order it stored them, with their publication dates): one engine, not two."""
    import io
    import json

    from pipelines.dedup.corpus import dedup_jsonl

    docs = [
        json.dumps(
            {"id": a.id, "text": a.text, "published": a.published_at and a.published_at.isoformat()}
        ).encode()
        for a in articles
    ]
    out = io.StringIO()
    dedup_jsonl(docs, out)
    by_command = {r["id"]: r["cluster"] for r in map(json.loads, out.getvalue().splitlines())}

    def groups(cluster_of: dict[int, int]) -> set[frozenset[int]]:
        members: dict[int, set[int]] = {}
        for doc, cluster in cluster_of.items():
            members.setdefault(cluster, set()).add(doc)
        return {frozenset(m) for m in members.values()}

    crawled = {a.id: a.cluster_id for a in articles if a.cluster_id is not None}
    assert len(crawled) == len(articles)
    assert groups(crawled) == groups(by_command)
    assert any(len(g) > 1 for g in groups(crawled))  # the demo has syndicated copies
    for a in articles:  # a canonical article reads as canonical in every link field
        if a.duplicate_of is None:
            assert (a.dup_kind, a.dedup_match_id, a.dedup_evidence, a.similarity) == (None,) * 4
        else:
            assert (a.dedup_evidence and a.dedup_evidence["passages"]) or a.dup_kind == "exact"


def test_overlapping_cron_runs_are_refused_by_the_lock(
    mock_server: MockServer, sqlite_url: str
) -> None:
    from storage.locks import crawl_lock

    with crawl_lock(sqlite_url) as lock:
        assert lock.held
        result = run_cli(
            "crawl", "demo_bbc", "--db", sqlite_url, "--outlets-dir", str(mock_server.outlets_dir)
        )
    assert result.returncode == 3
    assert "another crawl holds" in result.stderr


def test_cron_run_writes_plain_logs_and_one_summary_line(
    mock_server: MockServer, sqlite_url: str
) -> None:
    result = run_cli(
        "crawl", "demo_presstv", "--db", sqlite_url, "--outlets-dir", str(mock_server.outlets_dir)
    )
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    # under cron: a line per outlet and the summary; Scrapy's per-request detail is not logged
    assert len(lines) == 2, result.stderr[-3000:]
    assert "[crawler.extensions.runs] INFO: demo_presstv: run " in lines[0]
    assert "finished (finished): stored 6" in lines[0]
    summary = [line for line in lines if line.startswith("newscrawl: run ")]
    assert summary == [
        "newscrawl: run succeeded (exit 0): 1 outlets, " + summary[0].split(": 1 outlets, ")[1]
    ]
    assert "6 stored" in summary[0]


def test_a_chosen_log_level_gives_scrapys_own_log_lines(
    mock_server: MockServer, sqlite_url: str
) -> None:
    result = run_cli(
        *("crawl", "demo_presstv", "--db", sqlite_url, "--set", "LOG_LEVEL=INFO"),
        *("--outlets-dir", str(mock_server.outlets_dir)),
    )
    assert result.returncode == 0
    assert "[scrapy.core.engine] INFO: Spider opened" in result.stderr


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run ``newscrawl ARGS`` on a pseudo-terminal; its exit code and everything it showed."""
    import pty
    import select as select_mod

    controller, terminal = pty.openpty()
    env = {**os.environ, "NEWSCRAWL_EXTRACT_WORKERS": "1", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select_mod.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=60)
    os.close(controller)
    return proc.returncode, output.decode("utf-8", "replace")


def test_interactive_run_shows_a_live_progress_table(
    mock_server: MockServer, sqlite_url: str
) -> None:
    code, text = run_on_a_terminal(
        "crawl", "demo_presstv", "--db", sqlite_url, "--outlets-dir", str(mock_server.outlets_dir)
    )
    assert code == 0
    for column in ("outlet", "pages", "stored", "duplicates", "failed"):
        assert column in text
    assert "demo_presstv" in text and "finished" in text
    assert "INFO: Spider opened" not in text  # the table replaces the INFO log lines
    assert "newscrawl: run succeeded (exit 0)" in text


def test_log_lines_on_a_terminal_print_above_the_live_table(
    mock_server: MockServer, sqlite_url: str, tmp_path: Path
) -> None:
    """An outlet that cannot be reached logs errors while the table is drawn: each is a line
    of its own, never glued to the table's border."""
    outlets = tmp_path / "outlets"
    outlets.mkdir()
    shutil.copy(mock_server.outlets_dir / "demo_presstv.toml", outlets)
    host = "late-failure.mocknews.localhost"
    mock_server.route(host, "/robots.txt", "", status=404)
    # fails once the table is on the screen
    feed = mock_server.route(host, "/rss.xml", "busy", status=503, delay=2)
    (outlets / "late.toml").write_text(
        f'id = "late"\nname = "Late"\nhomepage = "http://{host}/"\nlanguage = "en"\n'
        f'allowed_domains = ["{host}"]\n[[sources]]\nkind = "rss"\nurl = "{feed}"\n',
        encoding="utf-8",
    )
    code, text = run_on_a_terminal(
        *("crawl", "demo_presstv", "late", "--db", sqlite_url, "--outlets-dir", str(outlets)),
        *("--set", "RETRY_TIMES=0"),
    )
    assert code == 1, text[-3000:]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    logged = [line for line in re.split(r"[\r\n]+", plain) if " ERROR: " in line]
    assert logged, text[-3000:]
    for line in logged:
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[", line), repr(line)
    assert "late failed: no source answered (HTTP 503 x1)" in plain


DEAD_END = """
id = "deadend"
name = "Dead end"
homepage = "http://deadend.mocknews.localhost:9/"
language = "en"
allowed_domains = ["deadend.mocknews.localhost"]

[[sources]]
kind = "rss"
url = "http://deadend.mocknews.localhost:9/rss.xml"
"""


def scrapy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    scrapy_bin = Path(sys.executable).with_name("scrapy")
    return subprocess.run(
        [str(scrapy_bin), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_scrapy_crawl_exits_with_the_runs_code_and_a_bad_file_is_one_line(
    tmp_path: Path,
) -> None:
    """``scrapy crawl`` of an outlet whose only source cannot be fetched records a failed run
    and exits 1, as ``newscrawl crawl`` does (Scrapy's own command exits 0); a malformed outlet
    file under ``scrapy`` is one line naming the file and the key, not a traceback."""
    outlets = tmp_path / "outlets"
    outlets.mkdir()
    (outlets / "deadend.toml").write_text(DEAD_END, encoding="utf-8")
    env = {
        "NEWSCRAWL_OUTLETS_DIR": str(outlets),
        "NEWSCRAWL_DATABASE_URL": f"sqlite:///{tmp_path / 'corpus.db'}",
    }
    done = scrapy("crawl", "deadend", "-s", "LOG_LEVEL=WARNING", env=env)
    assert done.returncode == 1, done.stderr[-2000:]
    # the refusal of a loopback address says how to allow it
    assert "NEWSCRAWL_ALLOWED_ADDRESSES=127.0.0.1:9" in done.stderr, done.stderr[-2000:]
    db = Database(env["NEWSCRAWL_DATABASE_URL"])
    with db.read() as s:
        assert [r.status for r in s.scalars(select(CrawlRun))] == ["failed"]
    db.dispose()
    (outlets / "bad.toml").write_text('id = "bad"\nname = "Bad"\n', encoding="utf-8")
    listed = scrapy("list", env=env)
    assert listed.returncode == 1
    assert listed.stderr.strip().splitlines() == [
        f"newscrawl: {outlets / 'bad.toml'}: homepage: missing required key"
    ]


def test_article_downloads_wait_for_room_in_the_extraction_backlog_and_all_are_stored(
    mock_server: MockServer, sqlite_url: str
) -> None:
    # one article in hand at a time over both outlets: every download waits for the one before
    result = run_cli(
        *("crawl", *OUTLETS, "--db", sqlite_url, "--outlets-dir", str(mock_server.outlets_dir)),
        *("--set", "NEWSCRAWL_EXTRACT_IN_HAND=1", "--set", "LOG_LEVEL=INFO"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    peaks = [int(n) for n in re.findall(r"'newscrawl/extract/in_hand_peak': (\d+)", result.stderr)]
    waits = re.findall(r"'newscrawl/extract/in_hand_waits': (\d+)", result.stderr)
    assert peaks and max(peaks) == 1
    assert waits  # the gate held downloads back
    db = Database(sqlite_url)
    with db.read() as s:
        stored = {a.url for a in s.scalars(select(Article))}
    assert stored == set(expected(mock_server))
    db.dispose()
