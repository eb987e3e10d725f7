"""Exports read back equal to the database rows (non-Latin text included); a consumer's
checkpoint moves only after a successful export."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.export import FIELDS, SCHEMA_VERSION
from storage import repo
from storage.db import Database
from storage.exports import ExportFilter, iter_articles
from storage.models import Article

from .conftest import run_cli
from .test_storage import row

TEXTS = [
    "English text about the council budget vote and the river bridge. " * 5,
    "Texte français sur l'élection à l'Élysée, « guillemets » et accents. " * 5,
    "النص العربي عن الانتخابات والميزانية في المدينة اليوم. " * 5,
    "中文新闻：市议会今天就预算进行投票，河上的新桥也在讨论之中。" * 5,
]


@pytest.fixture
def corpus(db: Database) -> Database:
    for i, text in enumerate(TEXTS):
        repo.store_article(
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
            assert table.schema.metadata[b"newscrawl_schema_version"] == b"2"
            got = table.to_pylist()
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
    first = run_cli("export", "--db", url, "--consumer", "search-index")
    assert len(first.stdout.splitlines()) == 4  # the failed export did not advance it
    again = run_cli("export", "--db", url, "--consumer", "search-index")
    assert again.stdout == ""
    repo.store_article(
        corpus,
        row(
            text="A new story. " * 30,
            url="https://www.presstv.ir/Detail/2025/02/01/9/N",
            aliases=[],
            text_hash="new",
        ),
    )
    new = run_cli("export", "--db", url, "--consumer", "search-index")
    assert [json.loads(x)["url"] for x in new.stdout.splitlines()] == [
        "https://www.presstv.ir/Detail/2025/02/01/9/N"
    ]
    other = run_cli("export", "--db", url, "--consumer", "research")
    assert len(other.stdout.splitlines()) == 5  # consumers are independent


def test_warc_archive_reads_back_and_re_extracts_to_the_stored_text(
    mock_server: object, tmp_path: Path, sqlite_url: str
) -> None:
    from crawler.extraction import extract_page
    from crawler.mockweb import MockOutlet, load_sample
    from crawler.warc import read_responses

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
