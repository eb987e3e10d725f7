"""Golden tests of outlets: an outlet's recorded feed and article page, replayed offline through
its spider and the crawl's extraction, compared with the expected result in ``golden.json``.

Fixtures live beside the outlet file, in ``<outlets folder>/fixtures/<id>/``:

- ``feed.xml``: one of the outlet's sources (RSS, Atom or a sitemap listing articles), as served;
- ``article.html``: one article page that source lists, as served;
- ``golden.json``: which source was recorded, the article requests the spider yields from it,
  and what the extraction makes of the page (metadata and the text, one line per paragraph).

``replay`` computes the same structure from the fixtures; ``compare`` is the unified diff of
the two (empty when they agree). No network, no worker pool, no reactor: the spider is built
from a throwaway crawler and its feed callback driven on a response made from the file.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.utils.test import get_crawler

import crawler.settings as project_settings
from crawler.items import ArticleItem, Discovery, FetchFailure
from crawler.registry import Outlet
from pipelines.extract.page import ExtractionFailed, extract_page, reconcile
from spiders.outlet import OutletSpider, spider_class_for

FIXTURES = "fixtures"
FEED_FILE = "feed.xml"
ARTICLE_FILE = "article.html"
GOLDEN_FILE = "golden.json"
FIXTURE_FILES = (FEED_FILE, ARTICLE_FILE, GOLDEN_FILE)
#: the version of golden.json's layout; a file of another version is refused, not misread
GOLDEN_FORMAT = 1

T = TypeVar("T")


class FixtureError(Exception):
    """An outlet's fixtures are missing or malformed; the message says which and how to fix."""


def fixtures_dir(outlet: Outlet) -> Path:
    """``fixtures/<id>/`` in the folder of the outlet's file: a user's outlet in
    ``NEWSCRAWL_OUTLETS_DIR`` keeps its fixtures there too, beside its TOML."""
    return Path(outlet.path).parent / FIXTURES / outlet.id


def missing_fixtures(outlet: Outlet) -> list[str]:
    folder = fixtures_dir(outlet)
    return [name for name in FIXTURE_FILES if not (folder / name).is_file()]


@dataclass(frozen=True)
class Recording:
    """What was recorded: the source and article URLs and their bodies, as served."""

    source_kind: str
    source_url: str
    feed: bytes
    article_url: str
    article: bytes
    #: the article's URL after redirects (the extraction's base URL), if it differs
    article_response_url: str | None = None


def load_recording(outlet: Outlet) -> tuple[Recording, dict[str, Any]]:
    """The outlet's recording and its golden result; FixtureError when incomplete."""
    missing = missing_fixtures(outlet)
    folder = fixtures_dir(outlet)
    if missing:
        raise FixtureError(
            f"{outlet.id}: no {', '.join(missing)} in {folder} "
            f"(record them: newscrawl outlet new, see docs/adding-an-outlet.md)"
        )
    try:
        golden = json.loads((folder / GOLDEN_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{folder / GOLDEN_FILE}: not JSON: {exc}") from exc
    if not isinstance(golden, dict) or golden.get("format") != GOLDEN_FORMAT:
        raise FixtureError(f"{folder / GOLDEN_FILE}: not a golden file of format {GOLDEN_FORMAT}")
    try:
        recording = Recording(
            source_kind=golden["source"]["kind"],
            source_url=golden["source"]["url"],
            feed=(folder / FEED_FILE).read_bytes(),
            article_url=golden["article"]["url"],
            article=(folder / ARTICLE_FILE).read_bytes(),
            article_response_url=golden["article"].get("response_url"),
        )
    except (KeyError, TypeError) as exc:
        raise FixtureError(f"{folder / GOLDEN_FILE}: missing {exc}") from exc
    return recording, golden


def _project_settings() -> dict[str, Any]:
    values = {n: getattr(project_settings, n) for n in dir(project_settings) if n.isupper()}
    values["EXTENSIONS"] = {}  # a replay has no run to report, archive or bound in time
    return values


def replay_spider(outlet: Outlet) -> OutletSpider:
    """The outlet's spider from a throwaway crawler with the project's settings; feeds and
    sitemaps are parsed in this process (a crawl sends them to the worker pool, which would
    only add seconds of start-up here, not change the result)."""

    class ReplaySpider(spider_class_for(outlet)):  # type: ignore[misc]  # a dynamic base
        async def _parse_off_reactor(self, fn: Callable[..., Any], *args: Any) -> Any:
            return fn(*args)

    crawler = get_crawler(ReplaySpider, _project_settings())
    spider: OutletSpider = ReplaySpider.from_crawler(crawler)
    crawler.spider = spider
    return spider


def _run(coro_fn: Callable[[], Any]) -> Any:
    """Run a coroutine to completion on a loop of its own, in a thread of its own: the caller's
    thread may already run a loop (pytest-asyncio, Playwright) where no other may start."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro_fn())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="golden-replay")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _collect(agen: AsyncIterator[T]) -> list[T]:
    return [x async for x in agen]


def feed_output(spider: OutletSpider, recording: Recording) -> list[Request | FetchFailure]:
    """What the spider's source callback yields for the recorded feed or sitemap."""
    request = Request(
        recording.source_url,
        meta={"source_kind": recording.source_kind, "sitemap_depth": 0},
    )
    response = XmlResponse(
        recording.source_url,
        body=recording.feed,
        request=request,
        headers={"Content-Type": "application/xml"},
    )
    output: list[Request | FetchFailure] = _run(lambda: _collect(spider.parse_source(response)))
    return output


def article_urls(outlet: Outlet, recording: Recording) -> list[str]:
    """The article URLs the outlet's spider requests from the recorded feed."""
    spider = replay_spider(outlet)
    return [r.url for r in feed_output(spider, recording) if isinstance(r, Request)]


def extraction_record(
    outlet: Outlet, html: str, response_url: str, discovery: Discovery | None
) -> dict[str, Any]:
    """The extract pipeline's work on one page (``pipelines/extract/pipeline.py``: the same call of
    ``extract_page`` with the outlet's hints and the feed's headline and summary, then
    ``reconcile``), as plain JSON values; ``{"error": reason}`` when it fails."""
    try:
        page = extract_page(
            html,
            response_url,
            outlet.extraction.drop_selectors,
            outlet.extraction.drop_line_patterns,
            outlet.extraction.keep_selectors,
            discovery.title if discovery else None,
            discovery.summary if discovery else None,
        )
    except ExtractionFailed as exc:
        return {"error": exc.reason, "detail": exc.detail}
    merged = reconcile(page, discovery, outlet.language)
    return {
        "title": merged.title,
        "author": merged.author,
        "published": merged.published_at.isoformat() if merged.published_at else None,
        "published_source": merged.published_source,
        "language": merged.language,
        "description": merged.description,
        "mode": page.mode,
        "text_chars": len(page.text),
        "text": page.text.split("\n"),
    }


def replay(outlet: Outlet, recording: Recording) -> dict[str, Any]:
    """The golden structure computed now from the recording."""
    spider = replay_spider(outlet)
    output = feed_output(spider, recording)
    requests = [r for r in output if isinstance(r, Request)]
    failures = [[f.url, f.reason] for f in output if isinstance(f, FetchFailure)]
    article: dict[str, Any] = {"url": recording.article_url}
    if recording.article_response_url:
        article["response_url"] = recording.article_response_url
    match = next((r for r in requests if r.url == recording.article_url), None)
    if match is None:
        article["error"] = "not_requested"
        article["detail"] = "the spider yields no request for the recorded article's URL"
    else:
        response = HtmlResponse(
            recording.article_response_url or match.url,
            body=recording.article,
            request=match,
            headers={"Content-Type": "text/html"},
        )
        # the spider's own article callback: the decoding a crawl applies
        items = spider.parse_article(response)
        item = items[0]
        if isinstance(item, ArticleItem):
            article.update(extraction_record(outlet, item.html, item.response_url, item.discovery))
        else:
            article["error"] = item.reason
            article["detail"] = item.detail
    return {
        "format": GOLDEN_FORMAT,
        "outlet": outlet.id,
        "source": {"kind": recording.source_kind, "url": recording.source_url},
        "requests": [r.url for r in requests],
        "failures": failures,
        "article": article,
    }


def dumps(golden: dict[str, Any]) -> str:
    """golden.json as written: one key a line, non-ASCII as is, so diffs are reviewable."""
    return json.dumps(golden, indent=2, ensure_ascii=False) + "\n"


def compare(expected: dict[str, Any], actual: dict[str, Any], name: str = GOLDEN_FILE) -> str:
    """A unified diff from the golden file to the replay; empty when they agree."""
    if expected == actual:
        return ""
    return "".join(
        difflib.unified_diff(
            dumps(expected).splitlines(keepends=True),
            dumps(actual).splitlines(keepends=True),
            fromfile=f"{name} (expected)",
            tofile="replay (actual)",
        )
    )


def problems(outlet: Outlet, recording: Recording, actual: dict[str, Any]) -> list[str]:
    """What is wrong with an outlet's recording whatever its golden file says: a source it no
    longer has, a feed that yields no articles, an article that does not extract."""
    found = []
    sources = {(s.kind, s.url) for s in outlet.sources}
    if (recording.source_kind, recording.source_url) not in sources:
        found.append(
            f"the recorded source {recording.source_kind} {recording.source_url} is not among "
            f"the outlet's sources"
        )
    if not actual["requests"]:
        found.append("the recorded feed yields no article requests")
    if "error" in actual["article"]:
        found.append(
            f"the recorded article does not extract: {actual['article']['error']} "
            f"{actual['article'].get('detail', '')}".rstrip()
        )
    if recording.source_kind == "robots":
        found.append("a robots.txt lists sitemaps, not articles: record a feed or sitemap")
    return found


def check(outlet: Outlet) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(golden, replay, problems) for one outlet; FixtureError when its fixtures are missing."""
    recording, golden = load_recording(outlet)
    actual = replay(outlet, recording)
    return golden, actual, problems(outlet, recording, actual)


def write_golden(outlet: Outlet, golden: dict[str, Any]) -> Path:
    path = fixtures_dir(outlet) / GOLDEN_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dumps(golden), encoding="utf-8")
    tmp.replace(path)
    return path
