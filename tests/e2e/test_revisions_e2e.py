"""Revisions from real crawls: runs of ``newscrawl crawl`` against the loopback mock web into a
real SQLite file. Between runs one page's content changes on the server and both pages' feed
entries say they were updated, so both are fetched again: the changed page gains exactly one
revision per change, the unchanged one none. ``history`` and ``export --revisions`` read them."""

from __future__ import annotations

import html
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.models import Article, ArticleRevision

from ..conftest import MockServer, run_cli
from ..hostile_web import HostileOutlet, article_page, paragraphs

PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def atom(entries: list[tuple[str, str, datetime]]) -> str:
    """An Atom feed: (url, title, updated) per entry."""
    items = "".join(
        f"<entry><title>{html.escape(t)}</title><link href='{html.escape(u)}'/><id>{u}</id>"
        f"<published>{PUBLISHED.isoformat()}</published><updated>{d.isoformat()}</updated></entry>"
        for u, t, d in entries
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>Revisions</title><id>urn:revisions</id><updated>{PUBLISHED.isoformat()}</updated>"
        f"{items}</feed>"
    )


def test_a_page_changed_three_times_between_runs_has_three_revisions_and_an_unchanged_none(
    mock_server: MockServer, tmp_path: Path, sqlite_url: str
) -> None:
    o = HostileOutlet(mock_server, tmp_path / "outlets", "revisions_e2e")
    body = paragraphs(1)
    versions = [
        ("Council approves the budget", body),
        # the text edited: a word corrected in the second paragraph
        ("Council approves the budget", [body[0], body[1].replace("Story", "Report"), *body[2:]]),
        # the headline only
        (
            "Council approves the bridge budget",
            [body[0], body[1].replace("Story", "Report"), *body[2:]],
        ),
        # both: a headline change and a paragraph added
        (
            "Budget passes after a long night",
            [
                body[0],
                body[1].replace("Story", "Report"),
                *body[2:],
                "The mayor said the vote was final and the work starts in spring.",
            ],
        ),
    ]
    changed_url = o.url("/news/1")
    steady_url = o.url("/news/2")
    steady = article_page("Museum reopens", paragraphs(2))
    o.route("/news/2", steady)
    o.sources.append(("atom", o.url("/atom.xml")))
    stored_texts = []
    for run, (title, paras) in enumerate(versions):
        o.route("/news/1", article_page(title, paras))
        # the entries' update time moves past the last fetch, so both pages are due again
        time.sleep(1.1)
        updated = datetime.now(UTC).replace(microsecond=0)
        o.route(
            "/atom.xml",
            atom([(changed_url, title, updated), (steady_url, "Museum reopens", updated)]),
            content_type="application/atom+xml",
        )
        result = o.crawl(sqlite_url)
        assert result.returncode == 0, result.stderr[-2000:]
        db = Database(sqlite_url)
        with db.read() as s:
            a = s.scalars(select(Article).where(Article.url == changed_url)).one()
            assert a.title == title  # the row holds the latest version
            stored_texts.append(a.text)
        db.dispose()
        assert o.requests_to("/news/1") == run + 1
        assert o.requests_to("/news/2") == run + 1  # the steady page was fetched again too

    db = Database(sqlite_url)
    with db.read() as s:
        ids = {a.url: a.id for a in s.scalars(select(Article))}
        revs = list(s.scalars(select(ArticleRevision).order_by(ArticleRevision.revision)))
    db.dispose()
    assert set(ids) == {changed_url, steady_url}
    assert [r.article_id for r in revs] == [ids[changed_url]] * 3  # none for the steady page
    assert [r.revision for r in revs] == [1, 2, 3]
    assert [r.changed for r in revs] == ["text", "title", "both"]
    assert [r.title for r in revs] == [t for t, _ in versions[:3]]
    assert [r.text for r in revs] == stored_texts[:3]
    added = len(versions[3][1][-1].split())
    assert [(r.words_added, r.words_removed) for r in revs] == [(1, 1), (0, 0), (added, 0)]
    assert "[-Story-] {+Report+}" in revs[0].excerpt
    assert all(r.seen_at < r.replaced_at for r in revs)
    assert [r.replaced_at for r in revs[:-1]] == [r.seen_at for r in revs[1:]]

    # a fifth run with nothing changed and no entry moved: nothing fetched, nothing kept
    result = o.crawl(sqlite_url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert o.requests_to("/news/1") == 4
    shown = run_cli("history", changed_url + "?utm_source=feed", "--db", sqlite_url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].endswith(": 4 versions")
    assert [x for x in lines if x.startswith("version ")][-1].startswith("version 4 (current)")
    assert any("[-Story-] {+Report+}" in x for x in lines)
    assert "  title -> Budget passes after a long night" in lines
    assert (
        run_cli("history", steady_url, "--db", sqlite_url)
        .stdout.splitlines()[0]
        .endswith(": 1 version")
    )

    report = run_cli("report", "--db", sqlite_url)
    assert report.returncode == 0, report.stderr
    edited = report.stdout.split("<h2>Most-edited stories</h2>", 1)[1].split("</table>", 1)[0]
    assert f"<tr><td>3</td><td><a href='{changed_url}'>{versions[3][0]}</a>" in edited
    assert steady_url not in edited

    out = tmp_path / "revisions.jsonl"
    exported = run_cli("export", "--revisions", "--db", sqlite_url, "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["url"], r["revision"], r["changed"]) for r in records] == [
        (changed_url, 1, "text"),
        (changed_url, 2, "title"),
        (changed_url, 3, "both"),
    ]


def test_the_refetch_schedule_fetches_stored_articles_again_within_the_run_cap(
    mock_server: MockServer, tmp_path: Path, sqlite_url: str
) -> None:
    """NEWSCRAWL_REFETCH_AFTER=3,600: a step 3 s after the first store (and one far off). The
    feed never says anything changed; the schedule alone brings the pages back, one per run
    under a cap of one, and each step once."""
    o = HostileOutlet(mock_server, tmp_path / "outlets", "refetch_schedule_e2e")
    first, second = o.article(1), o.article(2)
    o.feed([first, second])
    schedule = "NEWSCRAWL_REFETCH_AFTER=3,600"
    result = o.crawl(sqlite_url, schedule)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (o.requests_to("/news/1"), o.requests_to("/news/2")) == (1, 1)
    # the first page is edited on the server, and says so in its article:modified_time; its
    # feed entry stays as it was
    correction = "Correction: an earlier version of this story misnamed the council."
    # a whole second after the first crawl's fetch (the page says seconds, the fetch is exact)
    corrected_at = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0).isoformat()
    corrected = article_page("Headline 1", [*paragraphs(1), correction]).replace(
        "<head>", f"<head><meta property='article:modified_time' content='{corrected_at}'>", 1
    )
    o.route("/news/1", corrected)
    time.sleep(3.5)
    fetched = []
    for _run in range(3):
        result = o.crawl(sqlite_url, schedule, "NEWSCRAWL_MAX_ARTICLES_PER_RUN=1")
        assert result.returncode == 0, result.stderr[-2000:]
        fetched.append((o.requests_to("/news/1"), o.requests_to("/news/2")))
    # one refetch per run (the cap; the one stored first goes first), both within two runs,
    # then none: the 3 s step is done
    assert [a + b for a, b in fetched] == [3, 4, 4]
    assert fetched[1:] == [(2, 2), (2, 2)]
    db = Database(sqlite_url)
    with db.read() as s:
        revs = list(s.scalars(select(ArticleRevision)))
        edited = s.scalars(select(Article).where(Article.url == first)).one()
    db.dispose()
    assert [(r.article_id, r.changed) for r in revs] == [(edited.id, "text")]
    assert correction not in revs[0].text and edited.text.endswith(correction)
    assert edited.modified_at == datetime.fromisoformat(corrected_at)
    # without the schedule, a run fetches neither again (the corrected page is followed, but
    # 6 h after its refetch by default)
    assert o.crawl(sqlite_url).returncode == 0
    assert (o.requests_to("/news/1"), o.requests_to("/news/2")) == (2, 2)
    # the refetch found its declared date moved: followed once it is due, while the steady
    # page is not; then the date stood still, and following ends
    follow = "NEWSCRAWL_REFETCH_WHILE_MODIFIED=1"
    time.sleep(1.1)
    assert o.crawl(sqlite_url, follow).returncode == 0
    assert (o.requests_to("/news/1"), o.requests_to("/news/2")) == (3, 2)
    time.sleep(1.1)
    assert o.crawl(sqlite_url, follow).returncode == 0
    assert (o.requests_to("/news/1"), o.requests_to("/news/2")) == (3, 2)


def test_a_bad_refetch_schedule_is_one_line_before_anything_runs(sqlite_url: str) -> None:
    result = run_cli("crawl", "--db", sqlite_url, "--set", "NEWSCRAWL_REFETCH_AFTER=1h,6h")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "newscrawl: --set: NEWSCRAWL_REFETCH_AFTER: not a list of seconds: ['1h', '6h']"
    ]
