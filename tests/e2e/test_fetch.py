"""``newscrawl fetch URL...`` on the loopback mock web: live pages to the records ``extract``
prints, each failure its own record, robots.txt obeyed; ``--store`` stores them deduplicated,
as crawled articles are."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crawler import cli
from storage.db import Database
from storage.models import Article, Outlet

from ..conftest import MockServer
from ..hostile_web import article_page, paragraphs


def serve_article(server: MockServer, host: str, path: str, seed: int) -> str:
    server.route(
        host, "/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    body = article_page(f"Headline {seed}", paragraphs(seed))
    return server.route(host, path, body, content_type="text/html; charset=utf-8")


def fetch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = cli.main(["fetch", *args])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def test_fetch_prints_each_pages_text_and_each_failure_as_a_record(
    mock_server: MockServer, capsys: pytest.CaptureFixture[str]
) -> None:
    good = serve_article(mock_server, "fetch-a.mocknews.localhost", "/news/1", 1)
    gone = mock_server.outlet_url("fetch-a.mocknews.localhost", "/news/missing")
    private = serve_article(mock_server, "fetch-b.mocknews.localhost", "/private/2", 2)
    code, records = fetch(capsys, good, gone, private)
    assert code == 1  # a page failed
    assert [r["url"] for r in records] == [good, gone, private]  # in order, one each
    first = records[0]
    assert first["title"] == "Headline 1" and "error" not in first
    assert str(first["text"]).startswith(paragraphs(1)[0][:40])
    assert records[1]["error"] == "fetch_failed" and "HTTP 404" in str(records[1]["detail"])
    assert records[2]["error"] == "fetch_failed" and "robots.txt disallows" in str(
        records[2]["detail"]
    )


def test_fetch_store_keeps_pages_deduplicated_under_an_outlet_per_host(
    mock_server: MockServer, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    original = serve_article(mock_server, "fetch-wire.mocknews.localhost", "/news/7", 7)
    copy = serve_article(mock_server, "fetch-paper.mocknews.localhost", "/world/7-copy", 7)
    code, records = fetch(capsys, original, copy, "--store", "--db", sqlite_url)
    assert code == 0, records
    assert [r["stored"] for r in records] == ["created", "created"]
    assert records[1]["duplicate_of"] == records[0]["article_id"]  # linked as a copy
    db = Database(sqlite_url)
    with db.read() as s:
        outlets = set(s.scalars(select(Outlet.id)))
        urls = set(s.scalars(select(Article.url)))
    db.dispose()
    assert {"fetch-wire.mocknews.localhost", "fetch-paper.mocknews.localhost"} <= outlets
    assert urls == {original, copy}
    code, again = fetch(capsys, original, "--store", "--db", sqlite_url)
    assert code == 0 and again[0]["stored"] == "unchanged"  # nothing stored twice


def test_fetch_with_an_outlet_refuses_a_page_off_its_domains(
    mock_server: MockServer, capsys: pytest.CaptureFixture[str]
) -> None:
    page = serve_article(mock_server, "fetch-c.mocknews.localhost", "/news/3", 3)
    assert cli.main(["fetch", page, "--outlet", "presstv"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("newscrawl: --outlet") and "allowed_domains" in err
