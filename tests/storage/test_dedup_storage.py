"""Dedup memory in SQL: parameters stored and never mixed, idempotent inserts, the index updated
only after commit, clusters across outlets and runs in a loopback crawl."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawler.demo.mockweb import MockOutlet, load_sample
from crawler.urls import canonical_url
from pipelines.dedup import rebuild
from pipelines.dedup import store as dedup_store
from pipelines.dedup.engine import DedupEngine
from pipelines.dedup.fingerprint import fingerprint
from pipelines.dedup.params import DedupParams, ParamsMismatch
from storage import signatures
from storage.db import Database
from storage.models import Article, Signature, UrlAlias

from ..conftest import MockServer, run_cli
from ..storage.test_storage import row

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def story(index: int) -> list[str]:
    arts = [a for o in load_sample()["outlets"] if o["id"] == "demo_bbc" for a in o["articles"]]
    return list(arts[index]["paragraphs"])


def context(db: Database, engine: DedupEngine, text: str) -> dedup_store.DedupContext:
    scheme_id = dedup_store.ensure_scheme(db, engine.params)
    return dedup_store.DedupContext(engine, scheme_id, fingerprint(text, engine.params))


def store(
    db: Database, engine: DedupEngine, n: int, text: str, published: datetime
) -> dedup_store.DedupResult:
    url = f"https://www.presstv.ir/Detail/2025/03/01/{n}/Story"
    article = row(text=text, url=url, aliases=[], published_at=published, text_hash=str(hash(text)))
    return dedup_store.store_article(db, article, context(db, engine, text))


def test_copies_cluster_and_reinsert_is_idempotent(db: Database) -> None:
    engine = DedupEngine()
    text = "\n\n".join(story(0))
    first = store(db, engine, 1, text, T0)
    copy = store(db, engine, 2, "\n\n".join(story(0)[:3]), T0 + timedelta(hours=2))
    again = store(db, engine, 2, "\n\n".join(story(0)[:3]), T0 + timedelta(hours=2))
    assert first.decision is not None and first.decision.match is None
    assert copy.decision is not None and copy.decision.match is not None
    assert again.outcome == "unchanged" and again.decision is None
    with db.read() as s:
        arts = {a.id: a for a in s.scalars(select(Article))}
        assert s.scalar(select(func.count()).select_from(Signature)) == 2
    assert arts[first.article_id].cluster_id == first.article_id
    assert arts[first.article_id].duplicate_of is None
    assert arts[copy.article_id].cluster_id == first.article_id
    assert arts[copy.article_id].duplicate_of == first.article_id
    assert arts[copy.article_id].containment == pytest.approx(1.0, abs=0.05)
    assert engine.index.documents == 2


def test_an_earlier_copy_becomes_the_canonical(db: Database) -> None:
    engine = DedupEngine()
    late = store(db, engine, 1, "\n\n".join(story(1)), T0 + timedelta(hours=6))
    early = store(db, engine, 2, "\n\n".join(story(1)[:4]), T0)
    with db.read() as s:
        arts = {a.id: a for a in s.scalars(select(Article))}
    assert arts[early.article_id].duplicate_of is None
    assert arts[late.article_id].duplicate_of == early.article_id
    assert arts[late.article_id].cluster_id == arts[early.article_id].cluster_id
    # the old canonical keeps the evidence that links it to the new one
    assert arts[late.article_id].dup_kind == "near"
    assert arts[late.article_id].dedup_match_id == early.article_id
    assert arts[late.article_id].containment == pytest.approx(1.0, abs=0.05)


def test_index_is_rebuilt_from_sql_in_a_new_run(db: Database) -> None:
    first_run = DedupEngine()
    original = store(db, first_run, 1, "\n\n".join(story(2)), T0)
    second_run = DedupEngine()
    scheme_id = dedup_store.ensure_scheme(db, second_run.params)
    rebuild.load_index(db, second_run, scheme_id, 30)
    assert second_run.index.documents == 1
    copy = store(db, second_run, 2, "\n\n".join(story(2)[:3]), T0 + timedelta(hours=1))
    assert copy.decision is not None and copy.decision.match is not None
    assert copy.decision.match.canonical_id == original.article_id


def test_failed_commit_leaves_no_ghost_in_the_index(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = DedupEngine()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(signatures, "save_signature", broken)
    with pytest.raises(RuntimeError):
        store(db, engine, 1, "\n\n".join(story(3)), T0)
    assert engine.index.documents == 0
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 0


def test_changed_parameters_are_refused(db: Database) -> None:
    store(db, DedupEngine(), 1, "\n\n".join(story(4)), T0)
    with pytest.raises(ParamsMismatch, match="other dedup parameters"):
        dedup_store.ensure_scheme(db, DedupParams(seed=99))
    # thresholds are not stored parameters: changing them is allowed
    dedup_store.ensure_scheme(db, DedupParams(coverage_min=0.8))


def test_reindex_moves_stored_articles_to_the_current_parameters(db: Database) -> None:
    old = DedupEngine(DedupParams(seed=99))
    first = store(db, old, 1, "\n\n".join(story(4)), T0)
    store(db, old, 2, "\n\n".join(story(5)), T0)
    params = DedupParams()
    with pytest.raises(ParamsMismatch, match="newscrawl upgrade --reindex"):
        dedup_store.ensure_scheme(db, params)
    assert rebuild.reindex(db, params, lambda text: fingerprint(text, params)) == 2
    assert rebuild.reindex(db, params, lambda text: fingerprint(text, params)) == 0
    engine = DedupEngine(params)
    scheme_id = dedup_store.ensure_scheme(db, params)  # no mismatch any more
    assert rebuild.load_index(db, engine, scheme_id, 30) == 2
    copy = store(db, engine, 3, "\n\n".join(story(4)[:3]), T0 + timedelta(hours=1))
    assert copy.decision is not None and copy.decision.match is not None
    assert copy.decision.match.canonical_id == first.article_id


def test_crawl_clusters_syndicated_copy_across_outlets_and_runs(
    mock_server: MockServer, sqlite_url: str
) -> None:
    args = (
        "crawl",
        "demo_presstv",
        "demo_wire",
        "--db",
        sqlite_url,
        "--outlets-dir",
        str(mock_server.outlets_dir),
    )
    for _run in range(2):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr[-3000:]
    sample = {o["id"]: MockOutlet(o, mock_server.port) for o in load_sample()["outlets"]}
    seed_url = canonical_url(sample["demo_presstv"].url(sample["demo_presstv"].articles[0]))
    wire = sample["demo_wire"]
    copy_url = canonical_url(wire.url(wire.articles[0]))
    db = Database(sqlite_url)
    with db.read() as s:
        seed = s.scalars(select(Article).where(Article.url == seed_url)).one()
        copy = s.scalars(select(Article).where(Article.url == copy_url)).one()
        members = list(s.scalars(select(Article).where(Article.cluster_id == seed.cluster_id)))
        alias = s.get(UrlAlias, copy_url + "?utm_source=wire&utm_medium=rss")
        total = s.scalar(select(func.count()).select_from(Article))
    # whichever arrived first named the cluster; the earlier-published seed leads it
    assert seed.duplicate_of is None and seed.cluster_id in {seed.id, copy.id}
    assert copy.duplicate_of == seed.id and copy.dup_kind == "near"
    assert copy.containment is not None and copy.containment >= 0.9
    assert {m.id for m in members} == {seed.id, copy.id}
    assert alias is not None and alias.article_id == copy.id
    assert total == len(sample["demo_presstv"].articles) + len(wire.articles)
    # the link says why: scores and the first words of the passages the two share
    assert copy.dedup_evidence is not None and copy.dedup_evidence["coverage"] > 0.5
    assert copy.dedup_match_id == seed.id
    # the passages are quoted from the later-stored of the two (the copy, or the seed when it
    # arrived second and took the copy's place as canonical)
    quoted_in = {copy.id: copy, seed.id: seed}[copy.dedup_evidence["in"]]
    quoted = copy.dedup_evidence["passages"][0]["text"]
    assert quoted and quoted in " ".join(quoted_in.text.casefold().split())
    clusters = run_cli("clusters", "--db", sqlite_url, "--days", "0")
    assert "Russia to keep helping Syria" in clusters.stdout and "demo_wire" in clusters.stdout
    assert f"matched #{seed.id}: passages cover" in clusters.stdout and quoted in clusters.stdout
    exported = run_cli("export", "--db", sqlite_url, "--fields", "id,matched,coverage,evidence")
    rows = {r["id"]: r for r in map(json.loads, exported.stdout.splitlines())}
    assert rows[copy.id]["matched"] == seed.id and rows[copy.id]["evidence"]["passages"]
    assert rows[seed.id]["evidence"] is None and rows[seed.id]["matched"] is None
    db.dispose()


def test_dedup_command_with_a_database_remembers_across_runs(
    tmp_path: object, sqlite_url: str
) -> None:
    import json
    from pathlib import Path

    folder = Path(str(tmp_path))
    original = "\n\n".join(story(5))
    first = folder / "day1.jsonl"
    first.write_text(
        json.dumps({"id": "a", "text": original, "published": "2025-03-01T08:00:00Z"})
        + "\n"
        + json.dumps({"id": "u", "text": "\n\n".join(story(6))})
        + "\n"
    )
    second = folder / "day2.jsonl"
    second.write_text(
        json.dumps({"id": "b", "text": "\n\n".join(story(5)[:3]), "outlet": "wire"}) + "\n"
    )
    out1 = run_cli("dedup", str(first), "--db", sqlite_url)
    out2 = run_cli("dedup", str(second), "--db", sqlite_url)
    assert out1.returncode == 0 and out2.returncode == 0, out1.stderr + out2.stderr
    rows1 = [json.loads(x) for x in out1.stdout.splitlines()]
    (row_b,) = [json.loads(x) for x in out2.stdout.splitlines()]
    assert [r["duplicate_of"] for r in rows1] == [None, None]
    assert row_b["duplicate_of"] == "a" and row_b["cluster"] == "a"
    assert row_b["containment"] > 0.9
