"""``newscrawl reextract``: a WARC file (built here with warcio) ingested under an old extractor
version, then extracted again by a changed extractor (monkeypatched in this process) into the
real SQLite file and the real PostgreSQL: text, revision, search, signature and cluster
updated in place, and nothing stored lost when a file is gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler import runtime
from crawler.cli import main
from crawler.cli.common import DAYS, scrapy_settings
from crawler.decoding import decode_html
from crawler.registry import load_registry
from crawler.urls import canonical_url
from pipelines.ingest import reextract as reextract_mod
from pipelines.ingest import run as ingest_run
from pipelines.ingest import work
from pipelines.ingest.reextract import Reextract, ReextractCounts
from storage.db import Database
from storage.models import Article, ArticleProvenance
from storage.revisions import history
from storage.search import search

from .test_ingest import Rec, articles, bench_pages, fresh_runtime, ingest, write_warc

__all__ = ["fresh_runtime"]  # the autouse fixture, used here too

OLD = "newscrawl 0.0.1; trafilatura 1.0.0"
NEW = "newscrawl 0.0.2; trafilatura 1.0.0"


def captures() -> list[Rec]:
    """Three different stories and, on a fourth host, a copy of the first."""
    recs = bench_pages(3)
    return [*recs, Rec("https://news3.example.org/story/3", recs[0].body)]


def setup(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[Rec]]:
    recs = captures()
    warc = tmp_path / "old.warc.gz"
    write_warc(warc, recs)
    monkeypatch.setattr(ingest_run, "extractor_version", lambda: OLD)
    counts = ingest(db.url, warc)
    assert (counts.stored, counts.duplicates) == (4, 1)
    return warc, recs


def new_extractor(monkeypatch: pytest.MonkeyPatch, recs: list[Rec]) -> None:
    """The copy (the fourth page) now extracts as the second story: say the old extractor
    took a syndication box for the story."""
    real = work.extract_page
    other = decode_html(recs[1].body, "utf-8").text

    def changed(html: str, url: str, **kw: Any) -> Any:
        return real(other if url == recs[3].url else html, url, **kw)

    monkeypatch.setattr(work, "extract_page", changed)


def reextract(
    db: Database, outlet: str | None = None, older_than: str | None = None, dry_run: bool = False
) -> ReextractCounts:
    settings = scrapy_settings(db.url, None, NEWSCRAWL_DEDUP_WINDOW_DAYS=DAYS)
    state = None if dry_run else runtime.dedup_state(settings)
    job = Reextract(runtime.database(settings), state, load_registry(None), NEW)
    return job.run(job.selected(outlet, older_than), dry_run=dry_run)


def versions(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(ArticleProvenance.extractor_version)))


def test_a_changed_extraction_updates_text_revision_search_and_cluster(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warc, recs = setup(db, tmp_path, monkeypatch)
    urls = [canonical_url(r.url) for r in recs]
    before = articles(db)
    old_text = before[urls[3]].text
    assert before[urls[3]].cluster_id == before[urls[0]].cluster_id
    new_extractor(monkeypatch, recs)

    counts = reextract(db)

    assert (counts.examined, counts.changed, counts.unchanged, counts.moved) == (4, 1, 3, 1)
    assert not counts.failed and not counts.problems
    after = articles(db)
    moved, first, second = after[urls[3]], after[urls[0]], after[urls[1]]
    assert moved.text == second.text != old_text
    assert moved.fetched_at == before[urls[3]].fetched_at  # not fetched again
    # it left the first story's cluster and joined the second's, as its copy
    assert moved.cluster_id == second.cluster_id and moved.duplicate_of == second.id
    assert moved.dup_kind == "exact" and moved.dedup_match_id == second.id
    assert first.cluster_id == first.id and first.duplicate_of is None
    # the version it replaced is kept
    kept = history(db, [urls[3]])
    assert kept is not None and [v.text for v in kept.versions] == [old_text, moved.text]
    assert kept.versions[0].changed in ("text", "both")
    assert kept.versions[0].cause == "reextract"  # the extractor's change, not the outlet's
    # full-text search follows the update
    word = next(w for w in second.text.split() if len(w) > 7 and w.isalpha() and w not in old_text)
    assert moved.id in {h.article_id for h in search(db, word)}
    assert versions(db) == [NEW] * 4

    # a rerun finds nothing to do, and neither does --older-than the version just written
    assert reextract(db).examined == 0
    assert reextract(db, older_than=NEW).examined == 0
    assert articles(db)[urls[3]].text == moved.text


def test_outlet_filter_and_older_than(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warc, recs = setup(db, tmp_path, monkeypatch)
    new_extractor(monkeypatch, recs)
    # nothing is older than the version it was ingested with
    assert reextract(db, older_than=OLD).examined == 0
    counts = reextract(db, outlet="news3.example.org", older_than="0.0.2")
    assert (counts.examined, counts.changed, counts.moved) == (1, 1, 1)
    assert sorted(versions(db)) == [OLD, OLD, OLD, NEW]
    assert reextract(db, outlet="news3.example.org").examined == 0
    assert reextract(db).examined == 3


def test_a_missing_warc_file_keeps_what_is_stored_and_says_why(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warc, recs = setup(db, tmp_path, monkeypatch)
    new_extractor(monkeypatch, recs)
    before = {url: a.text for url, a in articles(db).items()}
    warc.rename(tmp_path / "elsewhere.warc.gz")

    dry = reextract(db, dry_run=True)
    assert (dry.examined, dry.missing) == (4, 4)
    counts = reextract(db)

    assert (counts.examined, counts.changed, counts.missing) == (4, 0, 4)
    assert dict(counts.failed) == {"missing_warc": 4}
    assert {p.url for p in counts.problems} == set(before)
    assert all(p.detail == str(warc.resolve()) for p in counts.problems)
    assert {url: a.text for url, a in articles(db).items()} == before
    assert versions(db) == [OLD] * 4  # tried again next time


def test_a_truncated_warc_file_is_a_reason_per_article(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warc, _recs = setup(db, tmp_path, monkeypatch)
    with db.read() as s:
        last = max(s.scalars(select(ArticleProvenance.record_offset)))
    data = warc.read_bytes()
    warc.write_bytes(data[: last + (len(data) - last) // 2])  # the last record cut in two
    counts = reextract(db)
    assert counts.failed["damaged_warc"] == 1 and counts.unchanged == 3
    assert len(articles(db)) == 4


def test_dry_run_stores_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warc, recs = setup(db, tmp_path, monkeypatch)
    new_extractor(monkeypatch, recs)
    before = {url: (a.text, a.cluster_id) for url, a in articles(db).items()}
    counts = reextract(db, dry_run=True)
    assert (counts.examined, counts.changed, counts.missing) == (4, 0, 0)
    assert {url: (a.text, a.cluster_id) for url, a in articles(db).items()} == before
    assert versions(db) == [OLD] * 4


def test_the_command(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _warc, recs = setup(db, tmp_path, monkeypatch)
    new_extractor(monkeypatch, recs)
    monkeypatch.setattr(ingest_run, "extractor_version", lambda: NEW)
    assert main(["reextract", "--db", db.url, "--dry-run"]) == 0
    assert "4 articles to reextract" in capsys.readouterr().err
    assert main(["reextract", "--db", db.url, "--outlet", "news3.example.org"]) == 0
    err = capsys.readouterr().err
    assert "1 examined, 0 unchanged, 1 changed, 1 clusters moved" in err
    assert main(["reextract", "--db", db.url, "--older-than", "not a version"]) == 1
    with db.read() as s:
        assert s.scalar(select(Article.text).where(Article.url == canonical_url(recs[3].url)))


@pytest.mark.parametrize(
    ("stored", "target", "older_than", "expected"),
    [
        (OLD, NEW, False, True),
        (NEW, NEW, False, False),
        (OLD, NEW, True, True),
        (NEW, OLD, True, False),
        (NEW, "0.0.2", True, False),
        ("newscrawl 0.0.2; trafilatura 0.9", "trafilatura 1.0", True, True),
        ("garbage", NEW, True, True),
    ],
)
def test_is_outdated(stored: str, target: str, older_than: bool, expected: bool) -> None:
    assert reextract_mod.is_outdated(stored, target, older_than) is expected
