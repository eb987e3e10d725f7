"""Golden tests of outlets, as Fundus tests its publishers: every outlet in the registry replays
its recorded feed through its spider and its recorded article through the crawl's extraction,
and must give what its ``golden.json`` says; an outlet without fixtures fails. Then
``newscrawl outlet new`` against a loopback web, in a scratch outlets folder."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler import cli, runtime
from crawler.items import ArticleItem
from crawler.outlet_kit import golden
from crawler.registry import BUILTIN_DIR, Outlet, load_outlet_file, load_registry
from pipelines.extract.pipeline import ExtractPipeline
from spiders.outlet import spider_class_for

REGISTRY = load_registry()


def assert_matches_golden(outlet: Outlet) -> None:
    """The registry-wide check: fixtures present, replay equal to golden.json, no problems."""
    try:
        expected, actual, problems = golden.check(outlet)
    except golden.FixtureError as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:
        pytest.fail(missing, pytrace=False)
    diff = golden.compare(expected, actual)
    assert not diff, (
        f"{outlet.id}: the replay differs from golden.json; if the change is intended, "
        f"review and accept it: newscrawl outlet check {outlet.id} --update-golden\n{diff}"
    )
    assert not problems, f"{outlet.id}: {problems}"


@pytest.mark.parametrize("outlet_id", sorted(REGISTRY))
def test_outlet_matches_its_golden_file(outlet_id: str) -> None:
    assert_matches_golden(REGISTRY[outlet_id])


def test_presstv_golden_shows_the_drop_rules_at_work() -> None:
    """What the reconstructed page is for: its captions and credit line never reach the text."""
    expected, _actual, _ = golden.check(REGISTRY["presstv"])
    text = "\n".join(expected["article"]["text"])
    assert "Presstv.com" not in text and "(AFP Photo)" not in text
    assert text.startswith("Russian Foreign Minister Sergei Lavrov says Moscow")
    assert text.endswith("Nearly 250,000 Syrians have been killed in the four-year violence.")
    assert expected["requests"] == [expected["article"]["url"]]  # the section link skipped


def copy_outlet(outlet: Outlet, folder: Path) -> Outlet:
    """The outlet's file and fixtures in ``folder``, loaded from there."""
    shutil.copy(outlet.path, folder / f"{outlet.id}.toml")
    shutil.copytree(golden.fixtures_dir(outlet), folder / golden.FIXTURES / outlet.id)
    return load_outlet_file(folder / f"{outlet.id}.toml")


def test_a_changed_golden_file_fails_with_a_diff(tmp_path: Path) -> None:
    outlet = copy_outlet(REGISTRY["presstv"], tmp_path)
    path = golden.fixtures_dir(outlet) / golden.GOLDEN_FILE
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("four-year violence", "five-year violence"), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"(?s)-.*five-year violence.*\+.*four-year"):
        assert_matches_golden(outlet)


def test_an_outlet_without_fixtures_fails(tmp_path: Path) -> None:
    shutil.copy(REGISTRY["presstv"].path, tmp_path / "presstv.toml")
    outlet = load_outlet_file(tmp_path / "presstv.toml")
    with pytest.raises(pytest.fail.Exception, match=r"no feed\.xml, article\.html, golden\.json"):
        assert_matches_golden(outlet)


def test_a_recorded_source_the_outlet_dropped_fails(tmp_path: Path) -> None:
    outlet = copy_outlet(REGISTRY["presstv"], tmp_path)
    toml = Path(outlet.path).read_text(encoding="utf-8")
    Path(outlet.path).write_text(toml.replace("/rss.xml", "/feeds/all.xml"), encoding="utf-8")
    with pytest.raises(AssertionError, match="not among the outlet's sources"):
        assert_matches_golden(load_outlet_file(Path(outlet.path)))


def test_golden_extraction_is_the_extract_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    """golden.extraction_record repeats the pipeline's call of extract_page; if the two drift
    apart, the golden files no longer test the crawl. Run the real pipeline on the recorded page
    (its worker pool replaced by a direct call) and compare."""
    outlet = REGISTRY["presstv"]
    recording, expected = golden.load_recording(outlet)

    async def inline(_settings: Any, fn: Any, *args: Any, timeout: float) -> Any:
        return fn(*args)

    monkeypatch.setattr(runtime, "run_in_pool", inline)
    monkeypatch.setattr(runtime, "extraction_pool", lambda settings: None)
    spider = golden.replay_spider(outlet)
    request = next(
        r for r in golden.feed_output(spider, recording) if r.url == recording.article_url
    )
    response = HtmlResponse(request.url, body=recording.article, request=request)
    item = spider.parse_article(response)[0]
    assert isinstance(item, ArticleItem)
    crawler = get_crawler(spider_class_for(outlet))
    crawler.spider = spider
    pipeline = ExtractPipeline.from_crawler(crawler)
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.append(asyncio.run(pipeline.process_item(item)))
    )
    thread.start()
    thread.join()
    done = result[0].content
    article = expected["article"]
    assert done.title == article["title"]
    assert done.author == article["author"]
    assert done.published_at.isoformat() == article["published"]
    assert done.published_source == article["published_source"]
    assert done.language == article["language"]
    assert done.description == article["description"]
    assert done.text.split("\n") == article["text"]


# -- newscrawl outlet new, against a loopback web ----------------------------------------------

ARTICLE_TEXT = [
    "The town council voted on Tuesday to rebuild the old stone bridge over the river, "
    "ending a dispute that had divided residents for more than a decade.",
    "Engineers said the bridge, built in 1871, could carry pedestrians again within two "
    "years if work begins in the spring as planned.",
    "Opponents of the plan had argued that a new crossing downstream would be cheaper, but "
    "the council said the historic bridge was part of the town's identity.",
]


def article_page(title: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE_TEXT)
    return (
        f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}">'
        '<meta property="article:published_time" content="2024-04-02T09:00:00+00:00">'
        '<meta name="author" content="Jo Banks"></head><body>'
        '<nav><a href="/">Home</a> <a href="/news">News</a></nav>'
        f"<article><h1>{title}</h1>{paragraphs}"
        "<p>Share this article</p></article>"
        "<footer>Copyright 2024 Riverside Gazette</footer></body></html>"
    )


def rss(base: str, links: list[str]) -> str:
    items = "".join(
        f"<item><title>Story {i}</title><link>{link}</link>"
        f"<pubDate>Tue, 02 Apr 2024 09:00:00 GMT</pubDate></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Riverside Gazette</title><link>{base}/</link>{items}</channel></rss>"
    )


@dataclass
class LoopbackWeb:
    base: str
    port: int
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def add(self, path: str, body: str, content_type: str = "text/html") -> str:
        self.pages[path] = (content_type, body.encode("utf-8"))
        return self.base + path


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackWeb]:
    """A port-0 HTTP server in a thread: a homepage announcing its feed, the feed, articles."""
    pages: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path not in pages:
                self.send_error(404)
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    loop = LoopbackWeb(f"http://127.0.0.1:{port}", port, pages)
    # the crawl's address policy refuses loopback: allow exactly this server's port
    monkeypatch.setenv("NEWSCRAWL_ALLOWED_ADDRESSES", f"127.0.0.1:{port}")
    loop.add(
        "/",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        "</head><body>Riverside Gazette</body></html>",
    )
    links = [f"{loop.base}/news/2024/bridge-vote", f"{loop.base}/news/2024/school-opens"]
    loop.add("/rss.xml", rss(loop.base, links), "application/rss+xml")
    loop.add("/news/2024/bridge-vote", article_page("Council votes to rebuild the bridge"))
    loop.add("/news/2024/school-opens", article_page("A new school opens"))
    yield loop
    server.shutdown()
    server.server_close()


def outlet_cli(*args: str) -> int:
    return cli.main(["outlet", *args])


def test_outlet_new_writes_an_outlet_its_fixtures_and_a_golden_that_passes(
    web: LoopbackWeb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert outlet_cli("new", "riverside", web.base + "/", "--outlets-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "warning" not in out
    outlet = load_outlet_file(tmp_path / "riverside.toml")
    assert outlet.language == "en"  # from the article page's lang="en-GB"
    assert outlet.allowed_domains == ("127.0.0.1",)
    assert [(s.kind, s.url) for s in outlet.sources] == [("rss", web.base + "/rss.xml")]
    expected, _actual, problems = golden.check(outlet)
    assert expected["requests"] == [
        web.base + "/news/2024/bridge-vote",
        web.base + "/news/2024/school-opens",
    ]
    article = expected["article"]
    assert article["url"] == web.base + "/news/2024/bridge-vote"  # the feed's first
    assert article["title"] == "Story 0"  # the feed's headline beats the page's
    assert article["author"] == "Jo Banks"
    assert article["published"] == "2024-04-02T09:00:00+00:00"
    assert article["text"][:3] == ARTICLE_TEXT
    assert problems == []
    assert_matches_golden(outlet)  # what the registry-wide test will do with it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixtures", "riverside.toml"]
    assert not (BUILTIN_DIR / "riverside.toml").exists()

    # a deliberate change: a drop rule for the share line; check shows it, update accepts it
    assert "Share this article" in article["text"]
    toml = (tmp_path / "riverside.toml").read_text(encoding="utf-8")
    (tmp_path / "riverside.toml").write_text(
        toml + "\n[extraction]\ndrop_line_patterns = ['^Share this article$']\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert outlet_cli("check", "riverside", "--outlets-dir", str(tmp_path)) == 1
    out = capsys.readouterr().out
    assert '-      "Share this article"' in out and "--update-golden" in out
    assert outlet_cli("check", "riverside", "--outlets-dir", str(tmp_path), "--update-golden") == 0
    assert outlet_cli("check", "riverside", "--outlets-dir", str(tmp_path)) == 0
    assert "riverside: ok" in capsys.readouterr().out


def test_outlet_new_records_the_article_asked_for(web: LoopbackWeb, tmp_path: Path) -> None:
    article = web.base + "/news/2024/school-opens"
    code = outlet_cli(
        "new",
        "riverside",
        web.base + "/",
        "--feed",
        web.base + "/rss.xml",
        "--article",
        article,
        "--name",
        'Riverside "Gazette"',
        "--outlets-dir",
        str(tmp_path),
    )
    assert code == 0
    outlet = load_outlet_file(tmp_path / "riverside.toml")
    assert outlet.name == 'Riverside "Gazette"'  # quoted for TOML by the template's filter
    expected, _, _ = golden.check(outlet)
    assert expected["article"]["url"] == article


SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


def test_outlet_new_records_a_news_sitemap(web: LoopbackWeb, tmp_path: Path) -> None:
    article = web.base + "/news/2024/school-opens"
    sitemap = web.add(
        "/news-sitemap.xml",
        f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}"><url><loc>{article}</loc>'
        "<news:news><news:publication_date>2024-04-03T08:00:00Z</news:publication_date>"
        "<news:title>School opens</news:title></news:news></url></urlset>",
        "application/xml",
    )
    args = ["new", "riverside", web.base + "/", "--feed", sitemap, "--outlets-dir", str(tmp_path)]
    assert outlet_cli(*args) == 0
    outlet = load_outlet_file(tmp_path / "riverside.toml")
    assert [(s.kind, s.url) for s in outlet.sources] == [("news_sitemap", sitemap)]
    expected, _, problems = golden.check(outlet)
    assert expected["requests"] == [article] and problems == []
    assert expected["article"]["title"] == "School opens"
    assert expected["article"]["published"] == "2024-04-03T08:00:00+00:00"
    assert expected["article"]["published_source"] == "news_sitemap"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("existing", "outlet 'presstv' exists already"),
        ("bad_id", "invalid outlet id 'River-Side'"),
        ("unreachable", "cannot fetch http://127.0.0.1:"),
        ("not_allowed", "resolves to non-public address 127.0.0.1"),
        ("no_articles", "lists no article links on 127.0.0.1"),
        ("not_a_feed", "is neither an RSS/Atom feed nor a sitemap"),
        ("no_feed_announced", "announces no feed"),
        ("article_not_listed", "is not among the 2 article links"),
        ("http_error", "HTTP 404"),
        ("sitemap_index", "is a sitemap index: give --feed one of its sitemaps"),
    ],
)
def test_outlet_new_refuses_bad_input_in_one_line_and_writes_nothing(
    case: str,
    message: str,
    web: LoopbackWeb,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outlet_id, homepage, extra = "riverside", web.base + "/", []
    if case == "existing":
        outlet_id = "presstv"
    elif case == "bad_id":
        outlet_id = "River-Side"
    elif case == "unreachable":
        port = closed_port()
        monkeypatch.setenv("NEWSCRAWL_ALLOWED_ADDRESSES", f"127.0.0.1:{port}")
        homepage = f"http://127.0.0.1:{port}/"
    elif case == "not_allowed":
        monkeypatch.delenv("NEWSCRAWL_ALLOWED_ADDRESSES")
    elif case == "no_articles":
        feed = web.add("/off.xml", rss(web.base, ["https://elsewhere.example/news/1"]))
        extra = ["--feed", feed]
    elif case == "not_a_feed":
        extra = ["--feed", web.base + "/news/2024/bridge-vote"]
    elif case == "no_feed_announced":
        web.add("/", "<html><body>No feed here</body></html>")
    elif case == "article_not_listed":
        extra = ["--article", web.base + "/news/2024/elsewhere"]
    elif case == "http_error":
        extra = ["--feed", web.base + "/missing.xml"]
    elif case == "sitemap_index":
        index = f'<sitemapindex xmlns="{SITEMAP_NS}"><sitemap><loc>{web.base}/s1.xml</loc></sitemap></sitemapindex>'
        extra = ["--feed", web.add("/index.xml", index, "application/xml")]
    code = outlet_cli("new", outlet_id, homepage, *extra, "--outlets-dir", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and err.startswith("newscrawl outlet new: ")
    assert list(tmp_path.iterdir()) == []  # no file, no fixtures, no scratch folder left
