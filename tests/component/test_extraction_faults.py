"""Extraction faults at the pipeline layer: each pipeline is built from a throwaway crawler
(``get_crawler`` + ``from_crawler``) and called on hand-made items, with the real worker pool.
A worker is killed with SIGKILL, as the kernel's OOM killer would. And ``newscrawl extract``
(called in-process) on hostile files."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from twisted.python.failure import Failure

import crawler.settings as project_settings
from crawler import cli, runtime
from crawler.failures import ArticleDropped
from crawler.items import ArticleItem
from crawler.registry import ExtractionHints, load_registry
from pipelines.dedup.pipeline import DedupPipeline
from pipelines.extract.pipeline import ExtractPipeline
from pipelines.store import StorePipeline
from storage.db import Database
from storage.models import UrlState

from ..conftest import sync_registry
from ..hostile_web import article_page, paragraphs


def make_crawler(**overrides: Any) -> Any:
    settings = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}
    crawler = get_crawler(settings_dict={**settings, **overrides})
    # what the pipelines read of the spider; no extraction hints, so pages are taken whole
    outlet = replace(load_registry()["presstv"], extraction=ExtractionHints())
    crawler.spider = SimpleNamespace(outlet=outlet)
    return crawler


def article(n: int, html: str | None = None) -> ArticleItem:
    url = f"https://www.presstv.ir/Detail/story-{n}"  # no date in it: htmldate reads the page
    return ArticleItem(
        outlet_id="presstv",
        url=url,
        response_url=url,
        html=html if html is not None else article_page(f"Headline {n}", paragraphs(n)),
        fetched_at=datetime.now(UTC),
        canonical_url=url,
    )


# Seconds of trafilatura and htmldate work in one page (the D2 case's), time to kill its worker.
SLOW_PAGE = article_page("slow", ["Many words in a paragraph here. " * 40] * 4000)


def pool_workers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name == "pebble_pool_worker"]


def kill_workers() -> None:
    for worker in pool_workers():
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until_busy(seconds: float = 0.3) -> None:
    """Until the pool's only worker has spent ``seconds`` of CPU on the current task."""
    (worker,) = pool_workers()
    assert worker.pid is not None
    start = cpu_seconds(worker.pid)
    deadline = time.monotonic() + 30
    while cpu_seconds(worker.pid) - start < seconds:
        assert time.monotonic() < deadline, "the worker never got busy"
        await asyncio.sleep(0.05)


def run(coro: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on a thread of its own: the session's Playwright browser (the browser
    tests) keeps an event loop running on the main thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, coro).result()


@pytest.fixture
def fresh_pool() -> Iterator[None]:
    runtime.shutdown()
    yield
    runtime.shutdown()


def test_a_killed_worker_loses_only_its_article_and_the_pool_goes_on(fresh_pool: None) -> None:
    """SIGKILL of an idle worker used to break the pebble pool for good ("Unexpected error
    within the Pool" for every later article, raised outside the drop path so nothing was
    recorded); SIGKILL of a busy one must cost exactly the article it held."""
    crawler = make_crawler(NEWSCRAWL_EXTRACT_WORKERS=1)
    extract = ExtractPipeline.from_crawler(crawler)
    dedup = DedupPipeline.from_crawler(crawler)

    async def scenario() -> None:
        first = await extract.process_item(article(1))
        assert first.content.text and (await dedup.process_item(first)).dedup is not None

        kill_workers()  # idle: no article is lost, the pool is rebuilt
        time.sleep(0.5)  # pebble's manager notices within its 0.1 s tick
        second = await extract.process_item(article(2))
        assert "Story 2 paragraph 0" in second.content.text
        assert (await dedup.process_item(second)).dedup is not None

        slow = asyncio.ensure_future(extract.process_item(article(3, SLOW_PAGE)))
        await until_busy()  # the only worker is now in the middle of the slow page
        kill_workers()
        with pytest.raises(DropItem, match=r"^extraction_crashed: "):
            await slow

        fourth = await extract.process_item(article(4))
        assert "Story 4 paragraph 0" in fourth.content.text
        assert (await dedup.process_item(fourth)).dedup is not None

    run(scenario())
    assert crawler.stats.get_value("newscrawl/extract/failed/extraction_crashed") == 1
    assert crawler.stats.get_value("newscrawl/extract/ok") == 3


def test_a_dropped_article_is_recorded_failed_so_the_next_run_retries_it(
    tmp_path: Path, fresh_pool: None
) -> None:
    db_url = f"sqlite:///{tmp_path / 'corpus.db'}"
    db = Database(db_url)
    sync_registry(db, [load_registry()["presstv"]])
    crawler = make_crawler(NEWSCRAWL_DATABASE_URL=db_url, NEWSCRAWL_DEDUP_ENABLED=False)
    store = StorePipeline.from_crawler(crawler)
    item = article(5)

    async def scenario() -> None:
        await store.item_dropped(item, None, ArticleDropped("extraction_crashed", "killed"))
        # another component's DropItem carries no reason of ours: recorded, not parsed
        await store.item_dropped(article(7), None, DropItem("extraction_crashed: not a reason"))
        # an exception that is not a drop (a bug in a pipeline) is recorded too, not lost
        await store.item_error(article(6), None, None, Failure(RuntimeError("boom")))

    run(scenario())
    with db.read() as s:
        states = {u.url: (u.state, u.reason) for u in s.scalars(select(UrlState))}
    assert states[item.canonical_url] == ("failed", "extraction_crashed")
    assert states[article(6).canonical_url] == ("failed", "pipeline_error")
    assert states[article(7).canonical_url] == ("failed", "dropped")
    db.dispose()


def extract_command(*args: str) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    code = cli.cmd_extract(cli.build_parser().parse_args(["extract", *args]), out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_extract_command_caps_decompression_and_goes_on(tmp_path: Path) -> None:
    """``newscrawl extract bomb.gz`` decompressed everything into memory (MemoryError at
    7.8 GB). Now a page is read to the crawl's download cap (DOWNLOAD_MAXSIZE, 10 MiB) and no
    further, decompressed or not; the next file is still extracted; exit 1."""
    member = gzip.compress(b"\0" * (16 << 20), compresslevel=9)  # 16 KiB for 16 MiB
    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(member * 64)  # one file of 64 gzip members: 1 GiB decompressed
    big = tmp_path / "big.html"
    big.write_bytes(b"<p>" + b"word " * (3 << 20))  # 15 MiB, not compressed
    good = tmp_path / "good.html"
    good.write_text(article_page("Headline 7", paragraphs(7)), encoding="utf-8")
    code, records = extract_command(str(bomb), str(big), str(good))
    assert code == 1
    assert [r.get("error") for r in records] == ["too_large", "too_large", None]
    assert str(10 << 20) in records[0]["detail"]
    assert "Story 7 paragraph 0" in records[2]["text"]
    code, records = extract_command(str(good), "--max-size", "100")  # the cap is an option
    assert code == 1 and records[0]["error"] == "too_large"
