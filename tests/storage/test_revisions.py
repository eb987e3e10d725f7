"""Article revisions on real databases (SQLite files and the local PostgreSQL server): a refetch
that changed the text or headline keeps the old version, in the update's own transaction; an
unchanged one keeps nothing. Then what reads them: history, export, the report."""

from __future__ import annotations

import csv
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.output import export
from crawler.output.report import render
from pipelines.dedup.engine import DedupEngine
from pipelines.dedup.fingerprint import fingerprint
from pipelines.dedup.store import DedupContext, ensure_scheme
from pipelines.dedup.store import store_article as dedup_store
from storage.articles import ArticleRow, store_article, upsert_article
from storage.clock import utcnow
from storage.db import Database
from storage.exports import ExportFilter, iter_revisions
from storage.models import Article, ArticleRevision, Signature, UrlState
from storage.reports import gather
from storage.revisions import history
from storage.url_state import (
    FollowModified,
    claim_due_refetches,
    due_refetches,
    pending_urls,
    record_discovered,
)

from ..storage.test_storage import row

URL = "https://www.presstv.ir/Detail/2015/09/10/428783/Slug"
ALIAS = URL + "?utm_source=rss"
T0 = datetime(2025, 1, 1, tzinfo=UTC)

V1 = "The council met on Monday and voted on the budget for the new river bridge. " * 6
V2 = V1.replace("Monday", "Tuesday", 1)
V3 = V2 + "The mayor said the vote was final."


def version(text: str, title: str, hours: int, **kw: Any) -> ArticleRow:
    return row(
        text=text,
        title=title,
        text_hash=str(hash(text)),
        fetched_at=T0 + timedelta(hours=hours),
        **kw,
    )


def kept(db: Database, article_id: int) -> list[ArticleRevision]:
    with db.read() as s:
        return list(
            s.scalars(
                select(ArticleRevision)
                .where(ArticleRevision.article_id == article_id)
                .order_by(ArticleRevision.revision)
            )
        )


def test_each_change_keeps_the_replaced_version_and_an_unchanged_refetch_none(
    db: Database,
) -> None:
    first = store_article(db, version(V1, "Budget vote", 0))
    assert kept(db, first.article_id) == []
    same = store_article(db, version(V1, "Budget vote", 1))
    assert same.outcome == "unchanged" and kept(db, first.article_id) == []

    text = store_article(db, version(V2, "Budget vote", 2))
    title = store_article(db, version(V2, "Budget vote passes", 3))
    both = store_article(db, version(V3, "Bridge budget passes", 4))
    again = store_article(db, version(V3, "Bridge budget passes", 5))
    assert [r.outcome for r in (text, title, both, again)] == [
        "updated",
        "updated",
        "updated",
        "unchanged",
    ]
    assert [r.changed for r in (text, title, both, again)] == ["text", "title", "both", None]

    revs = kept(db, first.article_id)
    assert [r.revision for r in revs] == [1, 2, 3]
    assert [r.changed for r in revs] == ["text", "title", "both"]
    assert [(r.title, r.text) for r in revs] == [
        ("Budget vote", V1),
        ("Budget vote", V2),
        ("Budget vote passes", V2),
    ]
    # seen: when the version was fetched (the unchanged refetch at hour 1 does not move it);
    # replaced: when the next version was
    assert [r.seen_at for r in revs] == [T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3)]
    assert [r.replaced_at for r in revs] == [T0 + timedelta(hours=h) for h in (2, 3, 4)]
    assert [(r.words_added, r.words_removed) for r in revs] == [(1, 1), (0, 0), (7, 0)]
    assert revs[0].excerpt == "council met on [-Monday-] {+Tuesday+} and voted on"
    with db.read() as s:
        a = s.get_one(Article, first.article_id)
        assert (a.title, a.text) == ("Bridge budget passes", V3)  # the row holds the latest


class FailingHook:
    """A store hook that fails after the article row's update: the whole transaction goes."""

    def begin(self, s: Session) -> None:
        pass

    def new_url(self, s: Session) -> None:
        pass

    def inserted(self, s: Session, article_id: int) -> None:
        pass

    def text_changed(self, s: Session, article_id: int) -> None:
        raise RuntimeError("the disk went away")


def test_a_failed_update_keeps_no_revision_and_the_old_row(db: Database) -> None:
    first = store_article(db, version(V1, "Budget vote", 0))
    with pytest.raises(RuntimeError), db.write() as s:
        upsert_article(s, version(V2, "Budget vote", 1), FailingHook())
    assert kept(db, first.article_id) == []
    with db.read() as s:
        assert s.get_one(Article, first.article_id).text == V1
    # and the next refetch numbers its revision from 1
    store_article(db, version(V2, "Budget vote", 2))
    assert [(r.revision, r.text) for r in kept(db, first.article_id)] == [(1, V1)]


def test_with_dedup_a_headline_edit_keeps_the_signature_and_a_text_edit_replaces_it(
    db: Database,
) -> None:
    engine = DedupEngine()
    params = engine.params
    scheme = ensure_scheme(db, params)

    def store(text: str, title: str, hours: int) -> Any:
        ctx = DedupContext(engine, scheme, fingerprint(text, params))
        return dedup_store(db, version(text, title, hours), ctx)

    def signature(article_id: int) -> bytes:
        with db.read() as s:
            return s.get_one(Signature, article_id).shingles

    first = store(V1, "Budget vote", 0)
    before = signature(first.article_id)
    assert store(V1, "Budget vote passes", 1).changed == "title"
    assert signature(first.article_id) == before
    assert engine.index.documents == 1  # the same text is not indexed twice
    assert store(V3, "Budget vote passes", 2).changed == "text"
    assert signature(first.article_id) != before
    assert [r.changed for r in kept(db, first.article_id)] == ["title", "text"]


def test_history_by_alias_oldest_first_and_none_for_an_unknown_url(db: Database) -> None:
    first = store_article(db, version(V1, "Budget vote", 0))
    store_article(db, version(V2, "Budget vote passes", 2))
    found = history(db, [ALIAS])
    assert found is not None and found.article_id == first.article_id
    assert [(v.revision, v.title, v.text, v.seen_at) for v in found.versions] == [
        (1, "Budget vote", V1, T0),
        (None, "Budget vote passes", V2, T0 + timedelta(hours=2)),
    ]
    assert found.versions[0].changed == "both"
    assert history(db, [URL + "/other"]) is None


def revised_corpus(db: Database) -> list[int]:
    """Two articles: the first edited twice, the second once; a third never edited."""
    ids = []
    for n, edits in enumerate((2, 1, 0)):
        url = f"{URL}/{n}"
        texts = [V1 + f" Story {n}.", V2 + f" Story {n}.", V3 + f" Story {n}."]
        for h in range(edits + 1):
            result = store_article(
                db, version(texts[h], f"Title {n}.{h} — élection", h, url=url, aliases=[])
            )
        ids.append(result.article_id)
    return ids


def test_revisions_export_in_every_format_reads_back_as_stored(
    db: Database, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    ids = revised_corpus(db)
    with db.read() as s:
        stored = s.execute(
            select(ArticleRevision, Article.url)
            .join(Article)
            .order_by(ArticleRevision.article_id, ArticleRevision.revision)
        ).all()
    expected = [
        {
            "schema_version": export.REVISIONS_SCHEMA_VERSION,
            "id": r.article_id,
            "url": url,
            "outlet": "presstv",
            "revision": r.revision,
            "seen": r.seen_at.isoformat(),
            "replaced": r.replaced_at.isoformat(),
            "changed": r.changed,
            "cause": r.cause,
            "words_added": r.words_added,
            "words_removed": r.words_removed,
            "excerpt": r.excerpt,
            "title": r.title,
            "text": r.text,
        }
        for r, url in stored
    ]
    assert [(e["id"], e["revision"]) for e in expected] == [(ids[0], 1), (ids[0], 2), (ids[1], 1)]
    assert {e["cause"] for e in expected} == {"refetch"}  # a store's default: the crawl's
    fields = export.REVISION_FIELDS
    assert tuple(expected[0]) == fields
    for fmt, writer in export.WRITERS.items():
        out = tmp_path / f"revisions.{fmt}"
        recs = export.records(
            iter_revisions(db, ExportFilter()), fields, export.REVISIONS_SCHEMA_VERSION
        )
        assert export.write_to(str(out), writer, recs, fields) == 3
        if fmt == "jsonl":
            got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
            assert got == expected
        elif fmt == "csv":
            with out.open(encoding="utf-8", newline="") as fh:
                got = list(csv.DictReader(fh))
            assert got == [{k: str(v) for k, v in e.items()} for e in expected]
        else:
            table = pq.read_table(out)
            assert table.schema.metadata[b"newscrawl_revisions_schema_version"] == b"2"
            for name in ("seen", "replaced"):
                assert str(table.schema.field(name).type) == "timestamp[us, tz=UTC]"
            got = [
                {k: v.isoformat() if k in ("seen", "replaced") else v for k, v in r.items()}
                for r in table.to_pylist()
            ]
            assert got == expected
    # the export's article filter chooses whose revisions
    none = list(iter_revisions(db, ExportFilter(outlets=["elsewhere"])))
    assert none == []


def test_report_lists_the_most_edited_stories_in_its_window(db: Database) -> None:
    ids = revised_corpus(db)
    # the revisions were replaced in 2025; a 30-day window from now holds none of them
    assert gather(db, days=30).edited == []
    with db.write() as s:  # move them into the window, as a recent crawl would have
        s.execute(
            ArticleRevision.__table__.update().values(replaced_at=utcnow() - timedelta(days=1))
        )
    edited = gather(db, days=30).edited
    assert [(e.article_id, e.revisions) for e in edited] == [(ids[0], 2), (ids[1], 1)]
    html = render(gather(db, days=30))
    assert f"<a href='{URL}/0'>Title 0.2 — élection</a>" in html
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ArticleRevision)) == 3
    # a re-extraction's revision is the extractor's change, not the outlet's edit
    with db.write() as s:
        s.execute(
            ArticleRevision.__table__.update()
            .where(ArticleRevision.article_id == ids[1])
            .values(cause="reextract")
        )
    assert [(e.article_id, e.revisions) for e in gather(db, days=30).edited] == [(ids[0], 2)]


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Any:
    from crawler.registry import load_registry

    from ..conftest import sync_registry

    database = Database(sqlite_url)
    sync_registry(database, [load_registry()["presstv"]])
    yield database
    database.dispose()


def test_history_command_prints_each_version_with_a_word_diff(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler import cli

    first = store_article(sqlite_db, version(V1, "Budget vote", 0))
    store_article(sqlite_db, version(V2, "Budget vote", 2))
    store_article(sqlite_db, version(V3, "Bridge budget passes", 4))
    # a form of the URL the crawl would meet: upper-case host, a tracking parameter
    asked = URL.replace("www.presstv.ir", "WWW.PressTV.ir") + "?utm_medium=social"
    assert cli.main(["history", asked, "--db", sqlite_db.url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{URL} (article #{first.article_id}, presstv): 3 versions",
        "",
        "version 1 (revision 1), seen 2025-01-01 00:00:00 UTC",
        "  title: Budget vote",
        "  replaced 2025-01-01 02:00:00 UTC: text changed",
        "  word 5: The council met on [-Monday-] {+Tuesday+} and voted on the budget for",
        "",
        "version 2 (revision 2), seen 2025-01-01 02:00:00 UTC",
        "  title: Budget vote",
        "  replaced 2025-01-01 04:00:00 UTC: both changed",
        "  title -> Bridge budget passes",
        "  word 91: budget for the new river bridge. {+The mayor said the vote was final.+}",
        "",
        "version 3 (current), seen 2025-01-01 04:00:00 UTC",
        "  title: Bridge budget passes",
    ]


def test_history_of_an_unknown_url_is_one_line_and_exit_1(
    sqlite_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler import cli

    store_article(sqlite_db, version(V1, "Budget vote", 0))
    assert cli.main(["history", URL + "/nope", "--db", sqlite_db.url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"newscrawl history: no article stored under {URL}/nope\n"


def test_export_command_revisions_and_their_own_fields(
    sqlite_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler import cli

    ids = revised_corpus(sqlite_db)
    out = tmp_path / "r.jsonl"
    args = ["export", "--revisions", "--db", sqlite_db.url, "-o", str(out)]
    assert cli.main([*args, "--fields", "id,revision,changed,title"]) == 0
    assert "3 revisions (jsonl)" in capsys.readouterr().err
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert got == [
        {"id": ids[0], "revision": 1, "changed": "both", "title": "Title 0.0 — élection"},
        {"id": ids[0], "revision": 2, "changed": "both", "title": "Title 0.1 — élection"},
        {"id": ids[1], "revision": 1, "changed": "both", "title": "Title 1.0 — élection"},
    ]
    assert cli.main([*args, "--fields", "id,cluster"]) == 1  # an article field, not a revision's
    assert "unknown field(s): cluster" in capsys.readouterr().err
    assert cli.main([*args, "--consumer", "lake"]) == 1
    # the plain export is unchanged: one record per article, the latest version
    plain = tmp_path / "a.jsonl"
    assert cli.main(["export", "--db", sqlite_db.url, "-o", str(plain)]) == 0
    titles = [json.loads(x)["title"] for x in plain.read_text(encoding="utf-8").splitlines()]
    assert titles == ["Title 0.2 — élection", "Title 1.1 — élection", "Title 2.0 — élection"]


def schedule_article(db: Database, n: int) -> str:
    """A discovered, then stored article (its discovery data is what a refetch sends)."""
    url = f"{URL}/due/{n}"
    record_discovered(db, "presstv", [(url, {"url": url, "source_url": "feed"})])
    store_article(db, version(V1 + str(n), "Due", 0, url=url, aliases=[]))
    return url


def test_refetch_schedule_steps_are_due_once_each_and_only_for_recent_articles(
    db: Database,
) -> None:
    url = schedule_article(db, 1)
    with db.read() as s:
        first = s.scalars(select(Article.first_stored_at).where(Article.url == url)).one()
    hour = timedelta(hours=1)
    steps = (3600.0, 6 * 3600.0)

    def due(at: timedelta, limit: int = 10) -> list[str]:
        return [u for u, _ in due_refetches(db, "presstv", steps, limit, now=first + at)]

    assert due(hour / 2) == []
    assert due(2 * hour) == [url]
    assert due(2 * hour, limit=0) == []
    assert due_refetches(db, "presstv", (), 10, now=first + 2 * hour) == []  # no schedule: off

    def stored_again(at: timedelta) -> None:  # a refetch, changed or not, stores the URL
        with db.write() as s:
            s.execute(
                UrlState.__table__.update().where(UrlState.url == url).values(updated_at=first + at)
            )

    stored_again(2 * hour)
    assert due(5 * hour) == []  # the first step is done, the second not yet come
    assert due(7 * hour) == [url]
    # steps that passed with no crawl are one refetch: after the last, nothing more
    stored_again(7 * hour)
    assert due(11 * hour) == []
    stored_again(3 * hour)
    assert due(11 * hour) == [url]
    assert due(13 * hour) == []  # over twice the last step: given up


def test_pending_urls_take_the_backlog_first_and_refetches_within_the_limit(db: Database) -> None:
    due_url = schedule_article(db, 2)
    backlog = [f"{URL}/backlog/{n}" for n in range(2)]
    record_discovered(db, "presstv", [(u, {"url": u}) for u in backlog])
    with db.write() as s:  # stored 90 minutes ago, in the window of a one-hour step
        s.execute(
            Article.__table__.update()
            .where(Article.url == due_url)
            .values(first_stored_at=utcnow() - timedelta(minutes=90))
        )
        s.execute(
            UrlState.__table__.update()
            .where(UrlState.url == due_url)
            .values(updated_at=utcnow() - timedelta(minutes=90))
        )
    steps = (3600.0,)
    assert [u for u, _ in pending_urls(db, "presstv", 5, 10, steps)] == [*backlog, due_url]
    assert [u for u, _ in pending_urls(db, "presstv", 5, 2, steps)] == backlog
    assert [u for u, _ in pending_urls(db, "presstv", 5, 10)] == backlog
    assert pending_urls(db, "presstv", 5, 10, steps)[-1][1] == {
        "url": due_url,
        "source_url": "feed",
    }


def test_a_claimed_refetch_is_sent_once_per_step_and_a_followed_one_again_after_every(
    db: Database,
) -> None:
    """The distributed schedule claims what it sends: a step is not sent twice by two
    schedules, a later step is; a followed story claimed now is due again ``every`` later
    (so a refetch lost with a dead worker is retried), as long as the mark stands."""
    url = schedule_article(db, 3)
    with db.read() as s:
        first = s.scalars(select(Article.first_stored_at).where(Article.url == url)).one()
    hour = timedelta(hours=1)
    steps = (3600.0, 6 * 3600.0)

    def claim(at: timedelta, follow: FollowModified | None = None) -> list[str]:
        return [u for u, _ in claim_due_refetches(db, "presstv", steps, 10, first + at, follow)]

    assert claim(hour / 2) == []
    got = claim_due_refetches(db, "presstv", steps, 10, first + 2 * hour)
    assert got == [(url, {"url": url, "source_url": "feed"})]
    assert claim(2 * hour) == [] and claim(5 * hour) == []  # taken; the next step not come
    assert claim(7 * hour) == [url]
    assert claim(7 * hour) == [] and claim(11 * hour) == []
    assert claim_due_refetches(db, "presstv", steps, 0, first + 7 * hour) == []
    # a story whose date moved, followed every two hours: claimed, then due two hours later
    follow = FollowModified(every=2 * 3600.0, within=86400.0)
    with db.write() as s:
        s.execute(
            UrlState.__table__.update()
            .where(UrlState.url == url)
            .values(modified_moved_at=first + 8 * hour)
        )
    assert claim(9 * hour, follow) == []
    assert claim(10 * hour, follow) == [url]
    assert claim(11 * hour, follow) == []
    assert claim(12 * hour, follow) == [url]
    with db.read() as s:
        mark = s.scalars(select(UrlState.modified_moved_at).where(UrlState.url == url)).one()
    assert mark is not None and mark.replace(tzinfo=UTC) == first.replace(tzinfo=UTC) + 12 * hour
    # the unclaimed read is the single crawl's: it takes nothing
    assert [u for u, _ in due_refetches(db, "presstv", (), 10, first + 14 * hour, follow)] == [url]
    assert [u for u, _ in due_refetches(db, "presstv", (), 10, first + 14 * hour, follow)] == [url]


def test_browse_lists_the_most_edited_articles(sqlite_db: Database) -> None:
    import sqlite3

    from crawler.output.browse import CANNED_QUERIES, metadata

    ids = revised_corpus(sqlite_db)
    path = sqlite_db.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        got = conn.execute(CANNED_QUERIES["most_edited_articles"]["sql"]).fetchall()
    assert [(r[0], r[4]) for r in got] == [(ids[0], 2), (ids[1], 1)]
    conn.close()
    with sqlite_db.write() as s:  # the extractor's change is not an edit
        s.execute(
            ArticleRevision.__table__.update()
            .where(ArticleRevision.article_id == ids[1])
            .values(cause="reextract")
        )
    with sqlite3.connect(path) as conn:
        got = conn.execute(CANNED_QUERIES["most_edited_articles"]["sql"]).fetchall()
    conn.close()
    assert [(r[0], r[4]) for r in got] == [(ids[0], 2)]
    assert "article_revisions" in metadata("corpus")["databases"]["corpus"]["tables"]


def test_concurrent_refetches_of_one_article_number_its_revisions_in_commit_order(
    db: Database,
) -> None:
    """Two writers updating one article at once (two crawler processes on PostgreSQL): the
    row lock orders them, so numbers never collide and each revision is what the next
    update replaced."""
    import threading

    first = store_article(db, version(V1, "Budget vote", 0))
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(10):
                store_article(db, version(f"{V1} {t}-{i}", "Budget vote", 1 + t * 100 + i))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    revs = kept(db, first.article_id)
    assert [r.revision for r in revs] == list(range(1, 21))
    assert revs[0].text == V1
    for older, newer in itertools.pairwise(revs):
        assert older.replaced_at == newer.seen_at
    with db.read() as s:
        latest = s.get_one(Article, first.article_id)
    assert latest.fetched_at == revs[-1].replaced_at
    assert {r.text for r in revs[1:]} | {latest.text} == {
        f"{V1} {t}-{i}" for t in range(2) for i in range(10)
    }
