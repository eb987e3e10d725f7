"""Full-text search (migration 0008): SQLite FTS5 and PostgreSQL's GIN tsvector index, kept in
step with every insert and update, and ``newscrawl search``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from crawler.demo.mockweb import load_sample
from crawler.registry import load_registry
from storage.articles import store_article
from storage.db import Database
from storage.search import search

from ..conftest import run_cli, sync_registry
from ..storage.test_storage import row

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def bbc_articles() -> list[dict[str, object]]:
    return [a for o in load_sample()["outlets"] if o["id"] == "demo_bbc" for a in o["articles"]]


def store_sample(db: Database) -> dict[str, int]:
    """The BBC sample's articles, one a day from T0; their ids by title."""
    ids = {}
    for n, art in enumerate(bbc_articles()):
        body = "\n\n".join(art["paragraphs"])  # type: ignore[arg-type]
        stored = store_article(
            db,
            row(
                text=body,
                title=art["title"],
                url=f"https://www.presstv.ir/Detail/2025/03/01/{n}/Story",
                aliases=[],
                published_at=T0 + timedelta(days=n),
            ),
        )
        ids[str(art["title"])] = stored.article_id
    return ids


def test_search_finds_words_and_phrases_in_title_and_text(db: Database) -> None:
    ids = store_sample(db)
    maternity = ids["Labour plans maternity pay rise"]
    hits = search(db, "maternity pay")
    assert hits and hits[0].article_id == maternity
    assert "[maternity]" in hits[0].snippet.lower() or "[pay]" in hits[0].snippet.lower()
    # every word must occur
    assert search(db, "maternity zzyzx") == []
    # a phrase is its words in order
    toolbar = ids["Google's toolbar sparks concern"]
    assert [h.article_id for h in search(db, '"toolbar sparks"')] == [toolbar]
    assert search(db, '"sparks toolbar"') == []
    # title words count: "Gardener" is in two titles
    gardener = {ids["Off-colour Gardener storms to win"], ids["Gardener wins double in Glasgow"]}
    assert gardener <= {h.article_id for h in search(db, "Gardener")}


def test_search_filters_by_outlet_and_date(db: Database) -> None:
    ids = store_sample(db)
    both = {h.article_id for h in search(db, "Gardener")}
    assert len(both) >= 2
    since = T0 + timedelta(days=7)  # the sample's eighth article on
    later = {h.article_id for h in search(db, "Gardener", since=since)}
    assert later == {i for i in both if i >= ids["Gardener wins double in Glasgow"]}
    assert later and later < both
    assert search(db, "Gardener", outlet="nobody") == []
    assert {h.article_id for h in search(db, "Gardener", outlet="presstv")} == both


def test_the_index_follows_every_update(db: Database) -> None:
    ids = store_sample(db)
    url = "https://www.presstv.ir/Detail/2025/03/01/0/Story"
    article = ids["Ad sales boost Time Warner profit"]
    assert [h.article_id for h in search(db, "Warner")] == [article]
    new_text = "The quarterly figures were restated after an audit of the zeppelin division. " * 5
    store_article(db, row(text=new_text, title="Restated figures", url=url, aliases=[]))
    assert search(db, "Warner") == []  # neither the old title nor the old text
    assert [h.article_id for h in search(db, "zeppelin restated")] == [article]
    with db.write() as s:  # an update by any code, not only the store's
        s.execute(text("UPDATE articles SET title = 'Airship news' WHERE id = :i"), {"i": article})
    assert [h.article_id for h in search(db, "airship")] == [article]
    assert search(db, '"restated figures"') == []  # the old title's phrase is gone


@pytest.mark.parametrize(
    "query", ['"unclosed', "e-mail", "AND OR NOT", "title:foo", "NEAR(a b)", "a*", "'", "^x", "{}"]
)
def test_any_typed_query_is_a_query(db: Database, query: str) -> None:
    store_sample(db)
    search(db, query)  # no syntax error, whatever the person typed
    assert search(db, "!!! ...") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_articles_stored_before_the_migration_are_found(
    backend: str, sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    from alembic import command

    from storage.db import _alembic_config, make_engine

    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outlets (id, name, homepage, language, updated_at) "
                "VALUES ('presstv', 'Press TV', '', 'en', '2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO articles (url, outlet_id, title, text, text_hash, fetched_at, "
                "first_stored_at, tags) VALUES ('https://www.presstv.ir/x', 'presstv', "
                "'Old news', 'Stored before search existed, about a lighthouse.', 'h', "
                "'2025-01-01', '2025-01-01', '[]')"
            )
        )
    engine.dispose()
    db = Database(url)  # upgrades to 0008
    sync_registry(db, [load_registry()["presstv"]])
    assert [h.url for h in search(db, "lighthouse")] == ["https://www.presstv.ir/x"]
    db.dispose()


def test_search_command(tmp_path: object, sqlite_url: str) -> None:
    db = Database(sqlite_url)
    sync_registry(db, [load_registry()["presstv"]])
    ids = store_sample(db)
    db.dispose()
    result = run_cli("search", "maternity pay", "--db", sqlite_url)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"#{ids['Labour plans maternity pay rise']} ")
    assert "Labour plans maternity pay rise" in first
    none = run_cli("search", "zzyzx", "--db", sqlite_url)
    assert none.returncode == 0 and none.stdout == "" and "no articles match" in none.stderr
    bad = run_cli("search", "Gardener", "--since", "someday", "--db", sqlite_url)
    assert bad.returncode == 1 and "--since" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_postgresql_search_uses_the_gin_index(pg_url: str) -> None:
    """The query spells the indexed expression exactly, so the planner can use the index."""
    from sqlalchemy.dialects import postgresql

    from storage.search import search_statement, terms

    db = Database(pg_url)
    stmt = search_statement("postgresql", terms("lighthouse keeper"))
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with db.read() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
    assert "ix_articles_search" in plan, plan
    db.dispose()
