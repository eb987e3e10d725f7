"""Exports read back equal to the database rows (non-Latin text included); a consumer's
checkpoint moves only after a successful export."""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler import cli
from crawler.output.export import FIELDS, SCHEMA_VERSION
from storage import exports
from storage.articles import ArticleRow, store_article, upsert_article
from storage.db import Database
from storage.exports import ExportFilter, iter_articles
from storage.models import Article

from ..conftest import ROOT, run_cli, sync_registry
from ..storage.test_storage import row

TEXTS = [
    "English text about the council budget vote and the river bridge. " * 5,
    "Texte français sur l'élection à l'Élysée, « guillemets » et accents. " * 5,
    "النص العربي عن الانتخابات والميزانية في المدينة اليوم. " * 5,
    "中文新闻：市议会今天就预算进行投票，河上的新桥也在讨论之中。" * 5,
]


@pytest.fixture
def corpus(db: Database) -> Database:
    return fill(db)


@pytest.fixture
def sqlite_corpus(sqlite_url: str) -> Iterator[Database]:
    """The corpus on SQLite only, for what does not depend on the database."""
    from crawler.registry import load_registry

    db = Database(sqlite_url)
    sync_registry(db, [load_registry()["presstv"]])
    yield fill(db)
    db.dispose()


def fill(db: Database) -> Database:
    for i, text in enumerate(TEXTS):
        store_article(
            db,
            row(
                text=text,
                url=f"https://www.presstv.ir/Detail/2025/01/0{i + 1}/{i}/S",
                aliases=[],
                title=f"Title {i} — {text[:10]}",
                tags=["a", f"t{i}"],
                published_at=datetime(2025, 1, i + 1, 9, 30, tzinfo=UTC),
                language=["en", "fr", "ar", "zh"][i],
                text_hash=f"h{i}",
            ),
        )
    return db


def db_rows(db: Database) -> list[dict[str, object]]:
    from storage.exports import ExportRow

    with db.read() as s:
        return [
            {"schema_version": SCHEMA_VERSION, **ExportRow(a).as_dict()}
            for a in s.scalars(select(Article).order_by(Article.id))
        ]


def test_jsonl_csv_parquet_round_trip(corpus: Database, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    expected = db_rows(corpus)
    url = corpus.url
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"x.{fmt}"
        result = run_cli("export", "--db", url, "--format", fmt, "--output", str(out))
        assert result.returncode == 0, result.stderr
        if fmt == "jsonl":
            got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        elif fmt == "csv":
            with out.open(encoding="utf-8", newline="") as fh:
                got = list(csv.DictReader(fh))
            for r in got:  # CSV is text: compare as the writer formats it
                r["tags"] = r["tags"].split(" | ") if r["tags"] else []
            expected_csv = [{k: ("" if v is None else v) for k, v in e.items()} for e in expected]
            expected_csv = [
                {k: (v if isinstance(v, list) else str(v)) for k, v in e.items()}
                for e in expected_csv
            ]
            assert got == expected_csv
            continue
        else:
            table = pq.read_table(out)
            assert (
                table.schema.metadata[b"newscrawl_schema_version"] == str(SCHEMA_VERSION).encode()
            )
            for name in ("published", "fetched"):  # times, not text
                assert str(table.schema.field(name).type) == "timestamp[us, tz=UTC]"
            got = [
                {
                    k: v.isoformat() if k in ("published", "fetched") and v else v
                    for k, v in r.items()
                }
                for r in table.to_pylist()
            ]
        assert got == expected, fmt
        assert list(got[0]) == list(FIELDS)


def test_filters_fields_and_unique(corpus: Database) -> None:
    rows = list(iter_articles(corpus, ExportFilter(language="ar")))
    assert [r.article.language for r in rows] == ["ar"]
    rows = list(
        iter_articles(corpus, ExportFilter(published_since=datetime(2025, 1, 3, tzinfo=UTC)))
    )
    assert len(rows) == 2
    result = run_cli("export", "--db", corpus.url, "--fields", "id,title", "--unique")
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 4 and set(lines[0]) == {"id", "title"}
    bad = run_cli("export", "--db", corpus.url, "--fields", "id,nope")
    assert bad.returncode == 1 and "unknown field" in bad.stderr


def cli_exports_until(url: str, consumer: str, count: int, timeout: float = 30) -> list[str]:
    """``newscrawl export --consumer`` run until it has given ``count`` lines in all (see
    ``exports_until``: on PostgreSQL a transaction open elsewhere on the server delays rows)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        done = run_cli("export", "--db", url, "--consumer", consumer)
        assert done.returncode == 0, done.stderr[-2000:]
        lines += done.stdout.splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_consumer_checkpoint_advances_only_after_success(corpus: Database, tmp_path: Path) -> None:
    url = corpus.url
    failed = run_cli(
        "export",
        "--db",
        url,
        "--consumer",
        "search-index",
        "--output",
        str(tmp_path / "missing" / "x.jsonl"),
    )
    assert failed.returncode != 0
    first = cli_exports_until(url, "search-index", 4)
    assert len(first) == 4  # the failed export did not advance it
    again = run_cli("export", "--db", url, "--consumer", "search-index")
    assert again.stdout == ""
    store_article(
        corpus,
        row(
            text="A new story. " * 30,
            url="https://www.presstv.ir/Detail/2025/02/01/9/N",
            aliases=[],
            text_hash="new",
        ),
    )
    new = cli_exports_until(url, "search-index", 1)
    assert [json.loads(x)["url"] for x in new] == ["https://www.presstv.ir/Detail/2025/02/01/9/N"]
    other = cli_exports_until(url, "research", 5)
    assert len(other) == 5  # consumers are independent


def test_warc_archive_reads_back_and_re_extracts_to_the_stored_text(
    mock_server: object, tmp_path: Path, sqlite_url: str
) -> None:
    from crawler.demo.mockweb import MockOutlet, load_sample
    from crawler.extensions.warc import read_responses
    from pipelines.extract.page import extract_page

    outlets_dir = mock_server.outlets_dir  # type: ignore[attr-defined]
    warc_dir = tmp_path / "warc"
    result = run_cli(
        "crawl",
        "demo_presstv",
        "--db",
        sqlite_url,
        "--outlets-dir",
        str(outlets_dir),
        "--warc",
        str(warc_dir),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    files = list(warc_dir.glob("demo_presstv-*.warc.gz"))
    assert len(files) == 1
    pages = {r.url: r for r in read_responses(files[0])}
    spec = next(o for o in load_sample()["outlets"] if o["id"] == "demo_presstv")
    hints = (("figcaption",), (r"^\s*Presstv\.com\s*$",))
    db = Database(sqlite_url)
    with db.read() as s:
        stored = {a.url: a.text for a in s.scalars(select(Article))}
    assert len(stored) == len(MockOutlet(spec, 0).articles)
    for url, text in stored.items():
        assert extract_page(pages[url].decode().text, url, *hints).text == text
    assert any(u.endswith("/atom.xml") for u in pages)  # feeds are archived too


def character_device(tmp_path: Path) -> Path:
    """A character device to export onto: a private twin of /dev/null when we may make one
    (root; a bug then replaces the twin, not the machine's /dev/null), else /dev/null itself
    (which a user without root cannot replace)."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return node


def test_export_onto_a_device_writes_to_it_and_leaves_it_a_device(
    sqlite_corpus: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = character_device(tmp_path)
    for fmt in ("jsonl", "csv", "parquet"):
        code = cli.main(["export", "--db", sqlite_corpus.url, "--format", fmt, "-o", str(device)])
        assert code == 0, capsys.readouterr().err
        assert stat.S_ISCHR(device.stat().st_mode), fmt
        assert not Path(f"{device}.partial").exists()
        assert "4 articles" in capsys.readouterr().err
    code = cli.main(["report", "--db", sqlite_corpus.url, "-o", str(device)])
    assert code == 0 and stat.S_ISCHR(device.stat().st_mode)


def test_a_failed_export_leaves_no_partial_file_and_says_why_in_one_line(
    sqlite_corpus: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    url = sqlite_corpus.url
    assert cli.main(["export", "--db", url, "-o", str(folder), "--consumer", "c1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"newscrawl export: cannot write {folder}: Is a directory"
    assert not list(tmp_path.glob("*.partial")) and not list(folder.iterdir())
    # A full disk, as the kernel reports it: the file size limit reached mid-write (EFBIG).
    # (A plain export: it writes nothing to the database, which the limit would stop too.)
    target = tmp_path / "corpus.jsonl"
    target.write_text("the previous export\n")
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, old_limit[1]))
    try:
        code = cli.main(["export", "--db", url, "-o", str(target)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"newscrawl export: cannot write {target}: File too large"
    )
    assert target.read_text() == "the previous export\n"
    assert not Path(f"{target}.partial").exists()
    # the failure did not move the consumer's checkpoint
    assert cli.main(["export", "--db", url, "-o", str(target), "--consumer", "c1"]) == 0
    assert len(target.read_text().splitlines()) == 4


def export_to(db: Database, consumer: str) -> list[tuple[int, str]]:
    """One consumer export through the storage functions: (id, text) of what it received."""
    with exports.consumer_batch(db, consumer, ExportFilter()) as batch:
        got = [(r.article.id, r.article.text) for r in batch.rows]
    exports.advance_consumer(db, consumer, batch.until, len(got))
    return got


def exports_until(db: Database, consumer: str, count: int, timeout: float = 30) -> list[Any]:
    """What a consumer exporting every 0.2 s has received once it has ``count`` rows. On
    PostgreSQL a transaction open anywhere on the server (the tests beside this one) holds the
    cursor back until it ends: the rows come at a later export, never lost, never twice."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        got += export_to(db, consumer)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def story(n: int, text: str | None = None) -> ArticleRow:
    return row(
        text=text or f"Story {n}. " * 30,
        url=f"https://www.presstv.ir/Detail/2025/03/0{n}/{n}/S",
        aliases=[],
        text_hash=str(hash(text or n)),
    )


def test_a_consumer_receives_every_commit_and_every_revision_once(db: Database) -> None:
    """Writer A stores an article and stays open; writer B stores another and commits (on
    PostgreSQL; SQLite has one writer at a time); the consumer exports; A commits. Nothing
    is skipped, nothing repeated; an article updated in place comes again, once."""
    pg = db.dialect == "postgresql"
    other = Database(db.url)  # writer B, on its own connections
    first = store_article(db, story(1)).article_id
    assert exports_until(db, "c1", 1) == [(first, story(1).content.text)]
    with db.write() as a:
        in_a = upsert_article(a, story(2)).article_id
        in_b = store_article(other, story(3)).article_id if pg else None
        with exports.consumer_batch(db, "c1", ExportFilter()) as batch:
            during = [r.article.id for r in batch.rows]
        if pg:
            exports.advance_consumer(db, "c1", batch.until, len(during))
    if not pg:
        exports.advance_consumer(db, "c1", batch.until, len(during))
        in_b = store_article(other, story(3)).article_id
    assert in_b is not None and in_a < in_b  # an id checkpoint at in_b would skip in_a
    assert in_a not in during
    after = [i for i, _ in exports_until(db, "c1", 2 - len(during))]
    assert sorted(during + after) == [in_a, in_b]
    assert export_to(db, "c1") == []
    store_article(other, story(3, "Corrected story three. " * 30))  # in place
    assert exports_until(db, "c1", 1) == [(in_b, "Corrected story three. " * 30)]
    assert export_to(db, "c1") == []
    other.dispose()
    # a consumer seen for the first time receives everything, each article once
    assert sorted(i for i, _ in exports_until(db, "new", 3)) == [first, in_a, in_b]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_to_the_change_cursor_keeps_each_consumer_where_it_was(
    backend: str, sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    from alembic import command
    from sqlalchemy import text

    from crawler.registry import load_registry
    from storage.db import _alembic_config, make_engine

    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outlets (id, name, homepage, language, updated_at) "
                "VALUES ('presstv', 'Press TV', '', 'en', '2025-01-01')"
            )
        )
        for n in range(1, 5):
            conn.execute(
                text(
                    "INSERT INTO articles (url, outlet_id, text, text_hash, fetched_at, "
                    "first_stored_at, tags) VALUES (:u, 'presstv', :t, :h, '2025-01-01', "
                    "'2025-01-01', '[]')"
                ),
                {"u": story(n).url, "t": story(n).content.text, "h": str(n)},
            )
        conn.execute(
            text(
                "INSERT INTO export_consumers (name, last_article_id, last_export_at, last_count)"
                " VALUES ('half', 2, '2025-01-01', 2), ('all', 4, '2025-01-01', 4)"
            )
        )
    engine.dispose()
    db = Database(url)  # upgrades to 0005
    sync_registry(db, [load_registry()["presstv"]])
    new = store_article(db, story(5)).article_id
    assert [i for i, _ in exports_until(db, "half", 3)] == [3, 4, new]
    assert [i for i, _ in exports_until(db, "all", 1)] == [new]
    assert [i for i, _ in exports_until(db, "fresh", 5)] == [1, 2, 3, 4, new]
    db.dispose()


@pytest.mark.parametrize("consumer", [None, "loader"])
def test_export_into_a_pipe_closed_early_is_quiet_and_exit_0(
    sqlite_corpus: Database, consumer: str | None
) -> None:
    """``newscrawl export | head -1``: the reader goes away after a line; the export stops
    without a "Broken pipe" traceback and exits 0, as other Unix tools do under a shell. A
    consumer's batch is whole or nothing: exit 1, its checkpoint where it was."""
    for i in range(200):  # well past a pipe's 64 KiB buffer, so the writer meets the closed end
        store_article(
            sqlite_corpus,
            row(
                text=f"Article {i} of the long export. " * 40,
                url=f"https://www.presstv.ir/Detail/2025/02/01/{i}/S",
                aliases=[],
                text_hash=f"pipe{i}",
            ),
        )
    argv = [sys.executable, "-m", "crawler.cli", "export", "--db", sqlite_corpus.url]
    proc = subprocess.Popen(
        argv + (["--consumer", consumer] if consumer else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["id"]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    if consumer is None:
        assert proc.wait(timeout=60) == 0, err
        assert err == ""
        return
    assert proc.wait(timeout=60) == 1, err
    assert err.strip() == (
        "newscrawl export: the reader closed the pipe; consumer 'loader''s checkpoint has not "
        "moved (the same articles come next time)"
    )
    again = run_cli("export", "--db", sqlite_corpus.url, "--consumer", consumer)
    assert len(again.stdout.splitlines()) == 204  # every article, none skipped
