"""The Datasette browser and the HTML report, rendered in a real headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ROOT, MockServer, run_cli


@pytest.fixture(scope="module")
def crawled(mock_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browse') / 'corpus.db'}"
    for _ in range(2):  # a second run stores nothing new: health has something to say
        result = run_cli(
            "crawl",
            "demo_presstv",
            "demo_wire",
            "--db",
            db_url,
            "--outlets-dir",
            str(mock_server.outlets_dir),
        )
        assert result.returncode == 0, result.stderr[-2000:]
    return db_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_datasette_page_loads_canned_query_runs_cluster_visible(crawled: str, browser: Any) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "browse", "--db", crawled, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/corpus", timeout=30_000)
        assert "Largest syndication clusters" in page.content()
        page.click("text=Largest syndication clusters")
        page.wait_for_selector("table.rows-and-columns", timeout=30_000)
        body = page.inner_text("table.rows-and-columns")
        assert "Russia to keep helping Syria to avoid Libya scenario: Lavrov" in body
        assert "demo_presstv,demo_wire" in body or "demo_wire,demo_presstv" in body
        page.goto(f"http://127.0.0.1:{port}/corpus/who_republishes_whom", timeout=30_000)
        assert "demo_wire" in page.inner_text("table.rows-and-columns")
        # the articles table has a search box, over title and text (FTS5, migration 0008)
        page.goto(f"http://127.0.0.1:{port}/corpus/articles", timeout=30_000)
        page.fill('input[name="_search"]', "Lavrov")
        page.press('input[name="_search"]', "Enter")
        page.wait_for_selector("table.rows-and-columns", timeout=30_000)
        found = page.inner_text("table.rows-and-columns")
        assert "Russia to keep helping Syria" in found and "Whitbread" not in found
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # SIGTERM stopped Datasette too: nothing listens on the port any more
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the Datasette server outlived newscrawl browse on port {port}")


def test_browse_refuses_postgresql_with_a_clear_message() -> None:
    result = run_cli("browse", "--db", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert result.returncode == 1 and "Datasette reads SQLite" in result.stderr


def test_report_renders_charts_and_flags_outlets(
    crawled: str, browser: Any, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = run_cli("report", "--db", crawled, "--output", str(out), "--health-runs", "1")
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.split("</style>")[0]  # self-contained
    page = browser.new_page(viewport={"width": 900, "height": 1600})
    page.goto(out.as_uri())
    assert page.locator("svg[aria-label='articles per day'] rect").count() >= 3
    assert page.locator("svg[aria-label='duplicate share per outlet'] rect").count() == 2
    text = page.inner_text("body")
    assert "Russia to keep helping Syria to avoid Libya scenario: Lavrov" in text
    assert "no new articles in its last 1 runs" in text  # the second run stored nothing
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()
    if os.environ.get("NEWSCRAWL_KEEP_SCREENSHOT"):
        shot.replace(os.environ["NEWSCRAWL_KEEP_SCREENSHOT"])
