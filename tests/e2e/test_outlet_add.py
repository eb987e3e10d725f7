"""``newscrawl outlet add URL`` on the loopback mock web, one site a test (its own host name):
each kind of site gives the right outlet file (or a clear one-line refusal), and the file it
writes crawls: a real loopback crawl into a SQLite file stores the site's articles. Then
``newscrawl outlet check ID --live`` on the same site, healthy and broken."""

from __future__ import annotations

import gzip
import html
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from crawler import cli
from crawler.dates import utcnow
from crawler.demo.mockweb import compressed_bomb
from crawler.outlet_kit import golden
from crawler.outlet_kit.check import live_check
from crawler.registry import load_outlet_file
from crawler.urls import canonical_url

from ..conftest import MockServer, run_cli
from ..hostile_web import Canary, article_page, paragraphs, stored_and_failed

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
RSS = "application/rss+xml"
XML = "application/xml"


@dataclass
class Site:
    """A site on the mock server: its host, pages and articles."""

    server: MockServer
    name: str
    articles: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"{self.name}.mocknews.localhost"

    def url(self, path: str, host: str | None = None) -> str:
        return self.server.outlet_url(host or self.host, path)

    def page(
        self, path: str, body: bytes | str, content_type: str = "text/html", **fault: Any
    ) -> str:
        host = fault.pop("host", None) or self.host
        return self.server.route(host, path, body, content_type=content_type, **fault)

    def add_articles(
        self, n: int, prefix: str = "/news/2026/", host: str | None = None
    ) -> list[str]:
        urls = []
        for _ in range(n):
            seed = len(self.articles) + 1
            path = f"{prefix}story-number-{seed}-of-{self.name}"
            body = article_page(f"Headline {seed} of {self.name}", paragraphs(seed + 40))
            urls.append(self.page(path, body, host=host))
            self.articles.append(urls[-1])
        return urls

    def homepage(self, head: str = "", links: list[str] | None = None) -> str:
        anchors = "".join(f'<li><a href="{html.escape(u)}">Story</a></li>' for u in links or [])
        return self.page(
            "/",
            f"<html lang='en'><head><title>{self.name}</title>{head}</head><body>"
            f"<nav><a href='/'>Home</a></nav><ul>{anchors}</ul></body></html>",
        )


def rss(urls: list[str]) -> str:
    now = utcnow()
    items = "".join(
        f"<item><title>Headline {i}</title><link>{html.escape(u)}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=i + 1))}</pubDate></item>"
        for i, u in enumerate(urls)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )


def urlset(urls: list[str], news: bool = False) -> str:
    when = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = "".join(
        f"<url><loc>{html.escape(u)}</loc><lastmod>{when}</lastmod>"
        + (
            f"<news:news><news:publication_date>{when}</news:publication_date>"
            f"<news:title>Headline {i}</news:title></news:news>"
            if news
            else ""
        )
        + "</url>"
        for i, u in enumerate(urls)
    )
    return f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">{entries}</urlset>'


def sitemap_index(urls: list[str]) -> str:
    children = "".join(f"<sitemap><loc>{html.escape(u)}</loc></sitemap>" for u in urls)
    return f'<sitemapindex xmlns="{SITEMAP_NS}">{children}</sitemapindex>'


@pytest.fixture
def site(mock_server: MockServer, request: pytest.FixtureRequest) -> Site:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[-40:].strip("-")
    return Site(mock_server, "add-" + name)


def add(folder: Path, url: str, *extra: str) -> int:
    folder.mkdir(exist_ok=True)
    return cli.main(["outlet", "add", url, "--outlets-dir", str(folder), *extra])


def sources(path: Path) -> list[tuple[str, str]]:
    return [(s.kind, s.url) for s in load_outlet_file(path).sources]


def crawl_stores_the_articles(folder: Path, outlet_id: str, db: str, want: list[str]) -> None:
    """The written outlet file crawls: every expected article stored, once."""
    result = run_cli(
        "crawl", outlet_id, "--db", db, "--outlets-dir", str(folder), "--set", "DOWNLOAD_DELAY=0"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts, failed = stored_and_failed(db)
    assert set(counts) == {canonical_url(u) for u in want}, (sorted(counts), failed)
    assert set(counts.values()) == {1}


def written(folder: Path, outlet_id: str) -> Path:
    path = folder / f"{outlet_id}.toml"
    assert path.is_file()
    outlet = load_outlet_file(path)  # valid, and its fixtures replay as their golden file
    expected, actual, problems = golden.check(outlet)
    assert golden.compare(expected, actual) == "" and problems == []
    return path


def test_link_alternate_feed_only_then_live_check_healthy_and_broken(
    site: Site, tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arts = site.add_articles(3)
    feed = site.page("/syndication/main.xml", rss(arts), RSS)
    site.homepage(f'<link rel="alternate" type="application/rss+xml" href="{feed}">')
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "alt") == 0
    out = capsys.readouterr().out
    assert re.search(
        r"/syndication/main\.xml\s+rss\s+3\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+"
        r"confidence [01]\.\d\d, \d+ words",
        out,
    )
    path = written(folder, "alt")
    assert sources(path) == [("rss", feed)]
    outlet = load_outlet_file(path)
    assert outlet.allowed_domains == (site.host,)
    assert outlet.language == "en"
    assert outlet.article_url_patterns == (r"^https?://[^/]+/news/",)
    text = path.read_text(encoding="utf-8")
    assert '# rss, found by link rel="alternate": 3 entries' in text
    crawl_stores_the_articles(folder, "alt", sqlite_url, arts)

    # the cron check: healthy, then the feed breaks, then its articles stop extracting
    check = ["outlet", "check", "alt", "--live", "--outlets-dir", str(folder)]
    assert cli.main(check) == 0
    assert "alt: live ok" in capsys.readouterr().out
    site.page("/syndication/main.xml", "<html>we moved</html>", status=500)
    assert cli.main(check) == 1
    assert "FAILED live: " + feed + ": HTTP 500" in capsys.readouterr().out
    site.page("/syndication/main.xml", rss(arts), RSS)
    site.page(arts[0].split(str(site.server.port))[1], "<html><body>gone</body></html>")
    assert cli.main(check) == 1
    assert "does not extract" in capsys.readouterr().out
    # and a feed whose newest entry is old is stale
    site.page(arts[0].split(str(site.server.port))[1], article_page("Back", paragraphs(41)))
    assert cli.main([*check, "--max-age-hours", "0.5"]) == 1
    assert re.search(r"stale: newest entry \S+ \S+, over 0.5 h old", capsys.readouterr().out)


def test_robots_sitemap_only(site: Site, tmp_path: Path, sqlite_url: str) -> None:
    arts = site.add_articles(3, prefix="/2026/03/")
    sitemap = site.page("/maps/pages-1.xml", urlset(arts), XML)
    site.page("/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {sitemap}\n", "text/plain")
    site.homepage()
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "robo") == 0
    path = written(folder, "robo")
    assert sources(path) == [("sitemap", sitemap)]
    assert load_outlet_file(path).article_url_patterns == (r"^https?://[^/]+/\d{4}/",)
    assert "found by a Sitemap line of robots.txt" in path.read_text(encoding="utf-8")
    crawl_stores_the_articles(folder, "robo", sqlite_url, arts)
    # the same site as a robots source, checked live: the sitemaps robots.txt names
    as_robots = path.read_text(encoding="utf-8").replace(
        f'kind = "sitemap"\nurl = "{sitemap}"',
        f'kind = "robots"\nurl = "{site.url("/robots.txt")}"',
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "robo.toml").write_text(as_robots, encoding="utf-8")
    outlet = load_outlet_file(other / "robo.toml")
    assert [s.kind for s in outlet.sources] == ["robots"]
    rows, problems = live_check(outlet, timedelta(days=1))
    assert problems == [] and [r.checked.url for r in rows] == [sitemap]
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
    assert live_check(outlet, timedelta(days=1))[1][0].endswith("names no sitemap")


def test_news_sitemap_inside_a_sitemap_index(site: Site, tmp_path: Path, sqlite_url: str) -> None:
    arts = site.add_articles(3)
    news = site.page("/sm/news.xml", urlset(arts, news=True), XML)
    archive = site.page("/sm/archive-2019.xml", urlset(arts[:1]), XML)
    index = site.page("/sm/index.xml", sitemap_index([archive, news]), XML)
    site.page("/robots.txt", f"Sitemap: {index}\n", "text/plain")
    site.homepage()
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "newsidx") == 0
    path = written(folder, "newsidx")
    assert sources(path) == [("news_sitemap", news)]
    text = path.read_text(encoding="utf-8")
    assert f"news_sitemap, found by the sitemap index {index}: 3 entries" in text
    assert f'# url = "{index}"' in text  # the index: offered, commented out
    crawl_stores_the_articles(folder, "newsidx", sqlite_url, arts)


def test_feed_at_a_common_path_only(site: Site, tmp_path: Path, sqlite_url: str) -> None:
    arts = site.add_articles(2)
    # served compressed: the fetcher asks for gzip and decodes it
    gzipped = gzip.compress(rss(arts).encode())
    feed = site.page("/rss", gzipped, RSS, headers={"Content-Encoding": "gzip"})
    site.homepage()
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "common") == 0
    path = written(folder, "common")
    assert sources(path) == [("rss", feed)]
    assert "common paths tried, nothing there: /feed, /rss.xml" in path.read_text(encoding="utf-8")
    crawl_stores_the_articles(folder, "common", sqlite_url, arts)


def test_no_feed_no_sitemap_gives_homepage_sources_and_live_checks(
    site: Site, tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    front = site.add_articles(2, prefix="/stories/")
    world = site.add_articles(2, prefix="/stories/")
    section = site.page(
        "/world", f"<html><body>{''.join(f'<a href={u}>x</a>' for u in world)}</body></html>"
    )
    site.homepage(links=[section, *front, site.url("/about-us")])
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "plain") == 0
    assert "no feed and no sitemap found; using homepage sources" in capsys.readouterr().out
    path = written(folder, "plain")
    assert sources(path) == [("homepage", site.url("/")), ("homepage", section)]
    outlet = load_outlet_file(path)
    assert outlet.article_url_patterns == (r"^https?://[^/]+/stories/",)
    assert "links matching article_url_patterns" in path.read_text(encoding="utf-8")
    crawl_stores_the_articles(folder, "plain", sqlite_url, front + world)
    # live: a homepage source has no dates, so only its links and the sample count
    # --sections 0: the homepage alone
    assert add(tmp_path / "bare", site.url("/"), "--id", "plain", "--sections", "0") == 0
    assert sources(tmp_path / "bare" / "plain.toml") == [("homepage", site.url("/"))]
    check = ["outlet", "check", "plain", "--live", "--outlets-dir", str(folder)]
    assert cli.main(check) == 0
    site.page("/world", "<html><body><a href='/contact'>Contact</a></body></html>")
    assert cli.main(check) == 1
    assert f"{section}: none of its 1 entries is an article" in capsys.readouterr().out


def test_feed_on_another_subdomain_of_the_site(site: Site, tmp_path: Path, sqlite_url: str) -> None:
    www, feeds = f"www.{site.host}", f"feeds.{site.host}"
    arts = site.add_articles(2, host=www)
    feed = site.page("/main.rss", rss(arts), RSS, host=feeds)
    elsewhere = site.url("/rss.xml", host="another-site.mocknews.localhost")
    head = (
        f'<link rel="alternate" type="application/rss+xml" href="{feed}">'
        f'<link rel="alternate" type="application/rss+xml" href="{elsewhere}">'
    )
    site.page("/", f"<html><head>{head}</head><body>hi</body></html>", host=www)
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/", host=www), "--id", "subfeed") == 0
    path = written(folder, "subfeed")
    assert sources(path) == [("rss", feed)]
    assert load_outlet_file(path).allowed_domains == (site.host,)
    assert f'not used: {elsewhere} (link rel="alternate", on another site' in path.read_text(
        encoding="utf-8"
    )
    crawl_stores_the_articles(folder, "subfeed", sqlite_url, arts)


def test_a_homepage_that_redirects(site: Site, tmp_path: Path, sqlite_url: str) -> None:
    arts = site.add_articles(2)
    feed = site.page("/feeds/all.xml", rss(arts), RSS)
    home = site.page(
        "/en/",
        f'<html><head><link rel="alternate" type="application/atom+xml" href="{feed}"></head></html>',
    )
    site.page("/", "", status=301, headers={"Location": home})
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "moved") == 0
    path = written(folder, "moved")
    assert load_outlet_file(path).homepage == home
    assert sources(path) == [("rss", feed)]
    crawl_stores_the_articles(folder, "moved", sqlite_url, arts)


def test_feed_links_to_private_addresses_are_refused_unfetched(
    site: Site, tmp_path: Path, sqlite_url: str
) -> None:
    canary = Canary()
    try:
        arts = site.add_articles(2)
        feed = site.page("/feed", rss(arts), RSS)
        private = f"http://{site.host}:{canary.port}/rss.xml"
        head = f'<link rel="alternate" type="application/rss+xml" href="{private}">'
        site.homepage(head, links=[f"http://127.0.0.1:{canary.port}/feed.xml"])
        folder = tmp_path / "outlets"
        assert add(folder, site.url("/"), "--id", "private") == 0
        assert canary.connections == 0
    finally:
        canary.close()
    path = written(folder, "private")
    assert sources(path) == [("rss", feed)]
    text = path.read_text(encoding="utf-8")
    assert f"not used: {private}" in text and "non-public address 127.0.0.1" in text
    crawl_stores_the_articles(folder, "private", sqlite_url, arts)


def test_sitemap_bombs_and_huge_indexes_are_contained(
    site: Site, tmp_path: Path, sqlite_url: str
) -> None:
    arts = site.add_articles(2)
    feed = site.page("/news.rss", rss(arts), RSS)
    bomb = site.page(
        "/bomb.xml", compressed_bomb("gzip"), XML, headers={"Content-Encoding": "gzip"}
    )
    gz = site.page("/bomb.xml.gz", gzip.compress(bytes(64 * 1024 * 1024)), "application/gzip")
    huge = site.page(
        "/index.xml", sitemap_index([site.url(f"/part-{i}.xml") for i in range(20000)]), XML
    )
    many = "".join(f"Sitemap: {site.url(f'/s-{i}.xml')}\n" for i in range(100))
    robots = f"Sitemap: {bomb}\nSitemap: {gz}\nSitemap: {huge}\n{many}"
    site.page("/robots.txt", robots, "text/plain")
    site.homepage(f'<link rel="alternate" type="application/rss+xml" href="{feed}">')
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "bombs") == 0
    parts = [p for h, p in site.server.requests() if h == site.host and p.startswith("/part-")]
    assert len(parts) == 5  # MAX_INDEX_CHILDREN of the 20000
    listed = [p for h, p in site.server.requests() if h == site.host and p.startswith("/s-")]
    assert 0 < len(listed) < 30  # MAX_CHECKS candidates for one site, the feed included
    path = written(folder, "bombs")
    assert sources(path) == [("rss", feed)]
    text = path.read_text(encoding="utf-8")
    assert f"not used: {bomb}" in text and "decompressed (DOWNLOAD_MAXSIZE)" in text
    assert f"not used: {gz}" in text and "bad gzip" in text
    assert re.search(r"\.\.\. and \d+ more links not used", text)
    assert len(text.splitlines()) < 100
    crawl_stores_the_articles(folder, "bombs", sqlite_url, arts)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("huge_homepage", "larger than 10485760 bytes (DOWNLOAD_MAXSIZE)"),
        ("robots_disallows", "robots.txt disallows it"),
        ("robots_unreachable", "its robots.txt is unreachable: HTTP 503"),
        ("nothing_extracts", "found no feed and no sitemap, and none of the 0 article-like links"),
        ("exists", "exists already"),
        ("not_allowed", "resolves to non-public address 127.0.0.1"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    case: str,
    message: str,
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "outlets"
    folder.mkdir()
    site.homepage()
    if case == "huge_homepage":
        site.page("/", b"<html><body>" + b"<p>x</p>" * (11 * 1024 * 1024 // 8) + b"</body></html>")
    elif case == "robots_disallows":
        site.page("/robots.txt", "User-agent: *\nDisallow: /\n", "text/plain")
    elif case == "robots_unreachable":
        site.page("/robots.txt", "busy", "text/plain", status=503)
    elif case == "exists":
        (folder / "fixtures" / "taken").mkdir(parents=True)
    elif case == "not_allowed":
        monkeypatch.setenv("NEWSCRAWL_ALLOWED_ADDRESSES", "")
    before = sorted(p.name for p in folder.rglob("*"))
    code = add(folder, site.url("/"), "--id", "taken")
    err = capsys.readouterr().err
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and err.startswith("newscrawl outlet add: ")
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_force_replaces_an_outlet_written_before(site: Site, tmp_path: Path) -> None:
    arts = site.add_articles(1)
    feed = site.page("/rss.xml", rss(arts), RSS)
    site.homepage()
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/")) == 0  # the id from the host's first label
    assert (folder / (site.name.replace("-", "_") + ".toml")).is_file()
    assert add(folder, site.url("/"), "--id", "again") == 0
    assert add(folder, site.url("/"), "--id", "again") == 1
    newer = site.add_articles(1)
    site.page("/rss.xml", rss(newer + arts), RSS)
    assert add(folder, site.url("/"), "--id", "again", "--force") == 0
    assert sources(written(folder, "again")) == [("rss", feed)]
    with (folder / "again.toml").open("rb") as fh:
        assert tomllib.load(fh)["id"] == "again"
    recorded = golden.load_recording(load_outlet_file(folder / "again.toml"))[0]
    assert recorded.article_url == newer[0]  # the newest, recorded again


def test_feeds_beyond_the_first_three_are_offered_commented_out(site: Site, tmp_path: Path) -> None:
    arts = site.add_articles(4)
    feeds = [site.page(f"/section-{i}.xml", rss([a]), RSS) for i, a in enumerate(arts)]
    links = "".join(f'<link rel="alternate" type="application/rss+xml" href="{f}">' for f in feeds)
    site.homepage(links)
    folder = tmp_path / "outlets"
    assert add(folder, site.url("/"), "--id", "many") == 0
    path = written(folder, "many")
    assert sources(path) == [("rss", f) for f in feeds[:3]]
    text = path.read_text(encoding="utf-8")
    assert (
        f'# Not used: a feed beyond the first 3: uncomment it to crawl it too\n# [[sources]]\n# kind = "rss"\n# url = "{feeds[3]}"'
        in text
    )
