"""One outlet of the mock news web: its articles as pages in realistic chrome, its RSS feed and
news sitemap, and the faults a test can inject into them (``Fault``)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

SAMPLE_PATH = Path(__file__).parent / "sample.json"

Route = tuple[int, str, bytes]  # status, content type, body


@dataclass
class Fault:
    """A route that misbehaves: extra headers, a delay, or a broken connection.

    ``action``: ``"stall"`` (send nothing for ``delay`` seconds, then close), ``"reset"`` (close
    at once with a TCP reset), ``"truncate"`` (announce the full length, send a tenth, close),
    ``"no_length"`` (no Content-Length: the body ends when the connection closes), ``"trickle"``
    (headers at once, then the body one byte every ``delay`` seconds)."""

    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    delay: float = 0.0
    healthy_after: int = 0  # serve 503 this many times first (a URL that later heals)


@lru_cache(maxsize=1024)
def _saved_page(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_sample(path: Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path or SAMPLE_PATH).read_text(encoding="utf-8"))
    return data


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class MockOutlet:
    spec: dict[str, Any]
    port: int

    @property
    def host(self) -> str:
        return str(self.spec["host"])

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, article: dict[str, Any]) -> str:
        return self.base + str(article["path"])

    @property
    def articles(self) -> list[dict[str, Any]]:
        return list(self.spec["articles"])

    def article_page(self, index: int) -> str:
        art = self.articles[index]
        if art.get("html_file"):  # a real page saved whole (benchmarks): served as it is
            return _saved_page(str(art["html_file"]))
        name = self.spec["name"]
        figures = {f["before"]: f["caption"] for f in art.get("figures", [])}
        body: list[str] = []
        if art.get("credit_line"):
            body.append(f'<p class="credit">{_e(art["credit_line"])}</p>')
        for i, paragraph in enumerate(art["paragraphs"]):
            if i in figures:
                body.append(
                    f'<figure><img src="/img/{index}-{i}.jpg" alt="">'
                    f"<figcaption>{_e(figures[i])}</figcaption></figure>"
                )
            body.append(f"<p>{_e(paragraph)}</p>")
        related = [a for j, a in enumerate(self.articles) if j != index][:4]
        related_html = "".join(
            f'<li><a href="{_e(self.url(a))}">{_e(a["title"])}</a></li>' for a in related
        )
        author = art.get("author")
        published = str(art["published"])
        heavy = self._heavy_chrome(index) if self.spec.get("heavy_chrome") else ("", "", "")
        byline = f'<p class="byline">By {_e(author)}</p>' if author else ""
        author_meta = f'<meta name="author" content="{_e(author)}">' if author else ""
        return f"""<!DOCTYPE html>
<html lang="{_e(self.spec["language"])}"><head><meta charset="utf-8">
<title>{_e(art["title"])} | {_e(name)}</title>
<meta name="description" content="{_e(art["paragraphs"][0][:160])}">
<meta property="og:title" content="{_e(art["title"])}">
<meta property="og:site_name" content="{_e(name)}">
<meta property="article:published_time" content="{_e(published)}">
{author_meta}
<link rel="canonical" href="{_e(self.url(art))}">
{heavy[0]}
</head><body>{heavy[1]}
<header><div class="cookie-banner">We use cookies to improve your experience on our site.
<button>Accept all cookies</button></div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/video">Watch live</a></li></ul></nav></header>
<main><article>
<h1>{_e(art["title"])}</h1>{byline}
<time datetime="{_e(published)}">{_e(published[:10])}</time>
{"".join(body)}
</article>
<aside class="related"><h2>Related stories</h2><ul>{related_html}</ul></aside>
</main>
<footer><p>Copyright 2025 {_e(name)}. All rights reserved.</p>
<p>Follow us on social media for the latest updates.</p>
<a href="/about">About us</a> <a href="/contact">Contact</a> <a href="/privacy">Privacy policy</a>
</footer>{heavy[2]}</body></html>"""

    def _heavy_chrome(self, index: int) -> tuple[str, str, str]:
        """What a real news page carries around its article (benchmarks): scripts, JSON-LD, a
        mega-menu, trending and most-read lists, ad slots, a link-heavy footer. Returns the head
        part, the part before the article and the part after it."""
        sections = ["World", "UK", "Business", "Politics", "Tech", "Science", "Health", "Sport"]
        menu = "".join(
            f'<li><a href="/{s.lower()}/{k}">{s} topic {k}</a></li>'
            for s in sections
            for k in range(12)
        )
        others = [a for j, a in enumerate(self.articles) if j != index][:24]
        trending = "".join(
            f'<li><a href="{_e(self.url(a))}"><img src="/t/{j}.jpg" alt="">{_e(a["title"])}</a>'
            f'<span class="time">{j + 1} hours ago</span></li>'
            for j, a in enumerate(others)
        )
        script = "var cfg = " + json.dumps({f"slot{k}": [k, "x" * 40] for k in range(120)}) + ";"
        head = (
            f"<script>{script}</script>"
            '<script type="application/ld+json">'
            + json.dumps({"@type": "NewsArticle", "headline": self.articles[index]["title"]})
            + "</script><style>"
            + ".c{margin:0}" * 200
            + "</style>"
        )
        before = (
            f'<div class="megamenu"><ul>{menu}</ul></div>'
            '<div class="ad-slot" id="top-ad"><span>Advertisement</span></div>'
            '<div class="breaking"><a href="/live">Live: the latest updates</a></div>'
        )
        after = (
            f'<section class="trending"><h2>Most read</h2><ol>{trending}</ol></section>'
            '<div class="ad-slot"><span>Advertisement</span></div>'
            f'<div class="sitemap-footer"><ul>{menu}</ul></div>'
            '<div class="newsletter"><p>Get our morning briefing in your inbox.</p>'
            '<form><input type="email"><button>Sign up</button></form></div>'
        )
        return head, before, after

    def _summary(self, art: dict[str, Any]) -> str:
        return str(art["paragraphs"][0])[:200]

    def feed(self) -> tuple[str, str]:
        kind = self.spec["feed"]
        items = self.articles
        if kind == "rss2":
            entries = "".join(
                f"<item><title>{xml_escape(a['title'])}</title><link>{xml_escape(self.url(a))}</link>"
                f"<guid>{xml_escape(self.url(a))}</guid>"
                f"<pubDate>{format_datetime(datetime.fromisoformat(a['published']))}</pubDate>"
                + (f"<dc:creator>{xml_escape(a['author'])}</dc:creator>" if a.get("author") else "")
                + f"<description>{xml_escape(self._summary(a))}</description></item>"
                for a in items
            )
            return "/rss.xml", (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
                f"<title>{xml_escape(self.spec['name'])}</title><link>{self.base}/</link>"
                f"<description>Latest news</description>{entries}</channel></rss>"
            )
        if kind == "atom":
            entries = "".join(
                f"<entry><title>{xml_escape(a['title'])}</title>"
                f'<link rel="alternate" href="{xml_escape(self.url(a))}"/>'
                f"<id>{xml_escape(self.url(a))}</id><published>{a['published']}</published>"
                f"<updated>{a['published']}</updated>"
                f"<summary>{xml_escape(self._summary(a))}</summary></entry>"
                for a in items
            )
            return "/atom.xml", (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{xml_escape(self.spec['name'])}</title><id>{self.base}/</id>"
                f"<updated>{items[0]['published']}</updated>{entries}</feed>"
            )

        # RSS 1.0 (RDF), whose links carry tracking parameters, as many wire feeds' do
        def tracked(a: dict[str, Any]) -> str:
            return xml_escape(self.url(a) + "?utm_source=wire&utm_medium=rss")

        seq = "".join(f'<rdf:li rdf:resource="{tracked(a)}"/>' for a in items)
        entries = "".join(
            f'<item rdf:about="{tracked(a)}"><title>{xml_escape(a["title"])}</title>'
            f"<link>{tracked(a)}</link>"
            f"<description>{xml_escape(self._summary(a))}</description>"
            + (f"<dc:date>{a['published']}</dc:date>" if a.get("feed_date", True) else "")
            + "</item>"
            for a in items
        )
        return "/index.rdf", (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{self.base}/index.rdf">'
            f"<title>{xml_escape(self.spec['name'])}</title>"
            f"<link>{self.base}/</link><description>Wire</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{entries}</rdf:RDF>"
        )

    def news_sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{xml_escape(self.url(a))}</loc><news:news><news:publication>"
            f"<news:name>{xml_escape(self.spec['name'])}</news:name>"
            f"<news:language>{self.spec['language']}</news:language></news:publication>"
            f"<news:publication_date>{a['published']}</news:publication_date>"
            f"<news:title>{xml_escape(a['title'])}</news:title></news:news></url>"
            for a in self.articles
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        )

    def routes(self) -> dict[str, Route]:
        xml = "application/xml; charset=utf-8"
        routes: dict[str, Route] = {}
        feed_path, feed_body = self.feed()
        feed_type = {"rss2": "application/rss+xml", "atom": "application/atom+xml"}.get(
            self.spec["feed"], "application/rdf+xml"
        )
        routes[feed_path] = (200, feed_type + "; charset=utf-8", feed_body.encode())
        robots = "User-agent: *\nAllow: /\n"
        mode = self.spec.get("sitemaps", "none")
        if mode == "robots_index":
            robots += f"Sitemap: {self.base}/sitemap_index.xml\n"
            routes["/sitemap_index.xml"] = (
                200,
                xml,
                (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<sitemap><loc>{self.base}/news-sitemap.xml</loc></sitemap>"
                    f"<sitemap><loc>{self.base}/sitemap-pages.xml</loc></sitemap>"
                    "</sitemapindex>"
                ).encode(),
            )
            routes["/sitemap-pages.xml"] = (
                200,
                xml,
                (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<url><loc>{self.base}/</loc><lastmod>2025-03-01</lastmod></url>"
                    f"<url><loc>{self.base}/about</loc></url></urlset>"
                ).encode(),
            )
        if mode in ("robots_index", "news"):
            routes["/news-sitemap.xml"] = (200, xml, self.news_sitemap().encode())
        routes["/robots.txt"] = (200, "text/plain", robots.encode())
        routes["/"] = (200, "text/html; charset=utf-8", b"<html><body><h1>Home</h1></body></html>")
        for i, art in enumerate(self.articles):
            routes[str(art["path"])] = (
                200,
                "text/html; charset=utf-8",
                self.article_page(i).encode("utf-8"),
            )
        return routes

    def outlet_toml(self) -> str:
        """The registry file that points newscrawl at this mock outlet."""
        prefix = {"demo_bbc": "/news/", "demo_presstv": "/Detail/", "demo_wire": "/story/"}.get(
            self.spec["id"], "/"
        )
        host_re = self.host.replace(".", r"\.")
        lines = [
            f'id = "{self.spec["id"]}"',
            f'name = "{self.spec["name"]}"',
            f'homepage = "{self.base}/"',
            f'language = "{self.spec["language"]}"',
            f'allowed_domains = ["{self.host}"]',
            f"article_url_patterns = ['^http://{host_re}:\\d+{prefix}']",
            "",
            "[politeness]",
            "download_delay = 0",
            "concurrency = 8",
            "",
        ]
        feed_path, _ = self.feed()
        sources = [("rss" if self.spec["feed"] != "atom" else "atom", self.base + feed_path)]
        mode = self.spec.get("sitemaps", "none")
        if mode == "robots_index":
            sources.append(("robots", f"{self.base}/robots.txt"))
        elif mode == "news":
            sources.append(("news_sitemap", f"{self.base}/news-sitemap.xml"))
        for kind, url in sources:
            lines += ["[[sources]]", f'kind = "{kind}"', f'url = "{url}"', ""]
        if self.spec["id"] == "demo_presstv":
            lines += [
                "[extraction]",
                'drop_selectors = ["figcaption"]',
                "drop_line_patterns = ['^\\s*Presstv\\.com\\s*$']",
                "",
            ]
        return "\n".join(lines)
