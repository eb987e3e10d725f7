"""Operating the corpus: read commands on read-only, missing, damaged and too-new databases,
options that make no sense, the crawl lock, runs of killed crawls. Commands that start no crawl
are called in this process (``crawler.cli.main``); every failure is one line and exit 1."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler import cli
from storage.articles import store_article
from storage.db import Database
from storage.runs import abandoned_runs, finish_run, mark_abandoned_runs, start_run

from ..conftest import sync_registry
from ..storage.test_storage import row


def stored_corpus(path: Path) -> Path:
    """A small SQLite corpus at ``path``: two articles and a finished run, all connections
    closed (so no -wal or -shm file is left beside it)."""
    from crawler.registry import load_registry

    db = Database(str(path))
    sync_registry(db, [load_registry()["presstv"]])
    for n in (1, 2):
        store_article(
            db,
            row(
                text=f"Story {n} about the council budget and the river bridge. " * 12,
                url=f"https://www.presstv.ir/Detail/2025/01/0{n}/{n}/S",
                aliases=[],
                text_hash=f"h{n}",
                published_at=datetime(2025, 1, n, tzinfo=UTC),
            ),
        )
    run = start_run(db, "presstv")
    finish_run(db, run, status="finished", articles_stored=2)
    db.dispose()
    return path


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Nobody may write in ``folder`` or its files, as on a read-only mount: write permission
    removed and, for root (whom permissions do not stop), the immutable attribute set."""
    paths = [folder, *folder.iterdir()]
    for p in paths:
        p.chmod(p.stat().st_mode & ~0o222)
    immutable = os.geteuid() == 0
    if immutable:
        if not shutil.which("chattr"):
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        if done.returncode:
            pytest.skip(f"chattr +i failed here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        for p in paths:
            p.chmod(p.stat().st_mode | 0o200)


def one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


READ_COMMANDS = [
    ["stats"],
    ["export", "--format", "jsonl"],
    ["report", "--days", "3650"],
    ["clusters", "--days", "0"],
]


def test_read_commands_read_a_read_only_database_and_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = stored_corpus(folder / "corpus.db")
    before = sorted(p.name for p in folder.iterdir())
    with read_only(folder):
        for command in READ_COMMANDS:
            assert cli.main([*command, "--db", str(path)]) == 0, capsys.readouterr().err
            out = capsys.readouterr().out
            if command[0] == "stats":
                assert out.splitlines()[1].split()[:2] == ["presstv", "2"]
            if command[0] == "export":
                assert len(out.splitlines()) == 2
            if command[0] == "report":
                assert "<html" in out.lower()
        db = Database(str(path), readonly=True)
        with db.read() as outer, db.read() as inner:  # two reads open at once
            assert outer.scalar(text("SELECT count(*) FROM articles")) == 2
            assert inner.scalar(text("SELECT count(*) FROM crawl_runs")) == 1
        db.dispose()
    assert sorted(p.name for p in folder.iterdir()) == before


def test_read_commands_on_a_missing_file_say_so_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "sub" / "none.db"
    for command in READ_COMMANDS:
        assert cli.main([*command, "--db", str(missing)]) == 1
        one_line_error(capsys.readouterr().err, "no database at", str(missing))
    assert not missing.parent.exists()
    # a file path, a sqlite:/// URL and the environment variable name the same database
    path = stored_corpus(tmp_path / "corpus.db")
    for db in (str(path), f"sqlite:///{path}"):
        assert cli.main(["stats", "--db", db]) == 0
        assert "presstv" in capsys.readouterr().out


def test_read_commands_do_not_migrate_an_old_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic import command

    from storage.db import _alembic_config, make_engine

    path = tmp_path / "old.db"
    engine = make_engine(str(path))
    cfg = _alembic_config(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    engine.dispose()
    data = path.read_bytes()
    assert cli.main(["stats", "--db", str(path)]) == 1
    one_line_error(capsys.readouterr().err, str(path), "revision 0003", "newscrawl upgrade")
    assert path.read_bytes() == data
    assert cli.main(["upgrade", "--db", str(path)]) == 0
    assert cli.main(["stats", "--db", str(path)]) == 0


def test_a_damaged_or_too_new_database_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not a database, " * 200)
    newer = stored_corpus(tmp_path / "newer.db")
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    conn.close()
    empty = tmp_path / "empty.db"
    empty.touch()
    cases = [
        (damaged, ("is not a usable SQLite database", "restore")),
        (newer, ("schema revision 9999", "newer than this newscrawl", "upgrade newscrawl")),
        (empty, ("holds no newscrawl tables",)),
    ]
    for path, needles in cases:
        commands = [*READ_COMMANDS, ["export", "--consumer", "c1"], ["upgrade"], ["crawl"]]
        if path is empty:
            commands = READ_COMMANDS  # upgrade and crawl create the schema in an empty file
        for command in commands:
            assert cli.main([*command, "--db", str(path)]) == 1, command
            one_line_error(capsys.readouterr().err, str(path), *needles)
    assert cli.main(["stats", "--db", "mysql://u@h/db"]) == 1
    one_line_error(capsys.readouterr().err, "SQLite or PostgreSQL")


def test_an_unusable_warc_folder_stops_the_crawl_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "corpus.db"
    a_file = tmp_path / "warc.txt"
    a_file.write_text("not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    for warc, why in ((a_file, "is not a folder"), (locked, "cannot write WARC files")):
        with read_only(locked):
            # (an outlet that does not exist: no crawl can ever start in this process)
            assert cli.main(["crawl", "nothing", "--db", str(db), "--warc", str(warc)]) == 1
        one_line_error(capsys.readouterr().err, "--warc", str(warc), why)
    assert not db.exists()  # nothing crawled, nothing written
    assert not list(locked.iterdir())


def test_a_warc_write_that_fails_mid_crawl_stops_the_crawl(tmp_path: Path) -> None:
    """A full disk under the archive: the crawl stops (reason warc_error, exit 1), it does not
    go on fetching responses it cannot keep."""
    import asyncio
    import errno
    import threading
    from types import SimpleNamespace

    from scrapy.http import HtmlResponse, Request
    from warcio.warcwriter import WARCWriter

    from crawler.extensions.runs import run_status
    from crawler.extensions.warc import WarcArchive

    class FullDisk:
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            pass

    closed: list[str] = []
    stats: dict[str, object] = {}

    async def close_spider_async(reason: str) -> None:
        closed.append(reason)

    crawler = SimpleNamespace(
        signals=SimpleNamespace(connect=lambda *a, **k: None),
        stats=SimpleNamespace(set_value=stats.__setitem__),
        engine=SimpleNamespace(close_spider_async=close_spider_async),
    )
    archive = WarcArchive(crawler, tmp_path / "warc")

    async def crawl() -> None:
        archive.spider_opened(SimpleNamespace(name="x"))
        archive.writer = WARCWriter(FullDisk(), gzip=True)
        request = Request("http://example.com/a")
        archive.response_received(HtmlResponse(request.url, body=b"<p>hi</p>"), request, None)
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.02)

    # on a thread of its own: this process may have an event loop running already
    thread = threading.Thread(target=asyncio.run, args=(crawl(),))
    thread.start()
    thread.join(10)
    archive.spider_closed(None)
    assert closed == ["warc_error"]
    assert "No space left on device" in str(stats["newscrawl/warc_error"])
    assert run_status("warc_error", stats) == ("failed", 1)


@pytest.fixture
def second_pg_url(pg_server_url: str) -> Iterator[str]:
    """Another scratch database on the same PostgreSQL server."""
    import uuid

    from sqlalchemy import create_engine, text

    from ..conftest import PG_ADMIN_URL

    name = f"newscrawl_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_crawl_lock_is_one_per_database(
    pg_url: str, second_pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from storage.locks import crawl_lock

    # (an outlet that does not exist: a crawl that passes the lock stops at once, exit 1)
    for one, other in ((pg_url, second_pg_url), (str(tmp_path / "a.db"), str(tmp_path / "b.db"))):
        with crawl_lock(one) as lock:
            assert lock.held
            with crawl_lock(one) as again:
                assert not again.held
            assert cli.main(["crawl", "nothing", "--db", one]) == 3
            one_line_error(capsys.readouterr().err, "another crawl holds")
            with crawl_lock(other) as elsewhere:
                assert elsewhere.held
            assert cli.main(["crawl", "nothing", "--db", other]) == 1
            one_line_error(capsys.readouterr().err, "unknown outlet")
        with crawl_lock(one) as after:  # released with its holder
            assert after.held


KILLED_CRAWL = """
import sys, time
from storage.runs import start_run
from storage.db import Database
db = Database(sys.argv[1])
print(*[start_run(db, "presstv") for _ in range(3)], flush=True)
time.sleep(60)
"""


def test_health_flags_a_never_crawled_outlet_and_says_why_a_run_failed(db: Database) -> None:
    from storage.reports import gather

    (health,) = gather(db, health_runs=3).health  # presstv: registered, never crawled
    assert (health.flagged, health.why, health.runs) == (True, "never crawled", 0)
    run = start_run(db, "presstv")
    finish_run(db, run, status="failed", message="no source answered (HTTP 503 x2)")
    (health,) = gather(db, health_runs=3).health
    assert health.why == "its last run failed: no source answered (HTTP 503 x2)"


def test_runs_of_killed_crawls_are_abandoned_and_flag_the_outlet(db: Database) -> None:
    """Three runs of a crawl that is then killed (SIGKILL: it records nothing): the next start
    marks them abandoned, and the report flags the outlet, before and after that start. A run
    whose process lives is left alone."""
    import signal
    import sys

    from sqlalchemy import select

    from storage.models import CrawlRun
    from storage.reports import gather

    from ..conftest import ROOT

    finished = start_run(db, "presstv")
    finish_run(db, finished, status="finished", articles_stored=5)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_CRAWL, db.url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    killed = [int(x) for x in proc.stdout.readline().split()]
    alive_elsewhere = Database(db.url)
    alive = start_run(alive_elsewhere, "presstv")
    assert abandoned_runs(db) == []  # its process still runs
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert abandoned_runs(db) == killed
    (health,) = gather(db, health_runs=3).health
    assert health.flagged and health.last_status == "abandoned"
    assert health.why == "3 of its last 3 runs were killed before they finished"
    assert mark_abandoned_runs(db) == killed  # what the next crawl's start does
    assert mark_abandoned_runs(db) == []
    with db.read() as s:
        status = dict(s.execute(select(CrawlRun.id, CrawlRun.status)).all())
    assert status == {finished: "finished", **dict.fromkeys(killed, "abandoned"), alive: "running"}
    (health,) = gather(db, health_runs=3).health
    assert health.flagged and health.why.endswith("killed before they finished")
    finish_run(alive_elsewhere, alive, status="finished", articles_stored=1)
    alive_elsewhere.dispose()
    assert abandoned_runs(db) == []


ODD_OPTIONS = [
    (["report", "--days", "99999999"], "--days"),
    (["report", "--health-runs", "0"], "--health-runs"),
    (["clusters", "--days", "nan"], "--days"),
    (["clusters", "--limit", "-1"], "--limit"),
    (["demo", "--port", "99999"], "--port"),
    (["browse", "--port", "-1"], "--port"),
    (["schedule", "--every", "-1"], "--every"),
    (["export", "--consumer", ""], "--consumer"),
    (["export", "--no-such-option"], "unrecognized arguments"),
    (["crawl", "nothing", "--set", "NEWSCRAWL_MAX_ATTEMPTS=many"], "must be a number"),
    (["crawl", "nothing", "--set", "ROBOTSTXT_OBEY=perhaps"], "must be true or false"),
    (
        ["crawl", "nothing", "--set", "DOWNLOAD_DELAYS=3"],
        "DOWNLOAD_DELAYS: no such Scrapy or newscrawl setting (did you mean DOWNLOAD_DELAY?)",
    ),
    (["crawl", "nothing", "--lock", "/"], "cannot use the lock file /"),
    (["upgrade", "--reindex", "--set", "NEWSCRAWL_DEDUP_JACCARD_MIN=high"], "must be a number"),
]


@pytest.mark.parametrize(("argv", "needle"), ODD_OPTIONS, ids=[" ".join(a) for a, _ in ODD_OPTIONS])
def test_odd_options_are_one_line_and_exit_1(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "corpus.db"
    assert cli.main([*argv, "--db", str(db)]) == 1
    one_line_error(capsys.readouterr().err, needle)
    assert not db.exists()  # refused before anything was opened or created


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"newscrawl {version('newscrawl')}"
