"""Feed and sitemap parsing from bytes: every format keeps its metadata; hostile bodies are
rejected without touching files or the network."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from spiders.feeds import parse_feed
from spiders.sitemaps import parse_sitemap, sitemaps_from_robots

FEED_URL = "https://news.example/feed.xml"

RSS2 = b"""<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>X</title>
<item><title>First &amp; foremost</title><link>https://news.example/a/1</link>
<pubDate>Tue, 04 Mar 2025 10:30:00 +0100</pubDate><dc:creator>Ann Lee</dc:creator>
<description>&lt;p&gt;Summary &lt;b&gt;one&lt;/b&gt;&lt;/p&gt;</description><category>World</category></item>
<item><title>Relative</title><link>/a/2</link></item>
<item><title>No link</title></item>
<item><title>Local file</title><link>file:///etc/passwd</link></item>
<item><title>Script</title><link>javascript:alert(1)</link></item>
<item><title>Future</title><link>https://news.example/a/3</link><pubDate>Tue, 04 Mar 2999 10:30:00 +0000</pubDate></item>
<item><title>Again</title><link>https://news.example/a/1</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"
 xml:base="https://news.example/section/"><title>X</title><id>x</id><updated>2025-03-04T10:00:00Z</updated>
<entry><title>Atom one</title><link rel="alternate" href="story-1"/><id>1</id>
<published>2025-03-04T09:00:00Z</published><updated>2025-03-05T09:00:00Z</updated>
<author><name>Bo</name></author></entry></feed>"""

RSS1 = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example/"><title>X</title><link>https://news.example/</link>
<description>d</description></channel>
<item rdf:about="https://news.example/r/1"><title>RDF one</title><link>https://news.example/r/1</link>
<dc:date>2025-03-04T08:15:00+00:00</dc:date></item></rdf:RDF>"""


def test_rss2_entries_keep_metadata_and_skip_bad_links() -> None:
    result = parse_feed(RSS2, FEED_URL)
    urls = [e.url for e in result.entries]
    assert urls == [
        "https://news.example/a/1",
        "https://news.example/a/2",
        "https://news.example/a/3",
    ]
    first = result.entries[0]
    assert first.title == "First & foremost"
    assert first.published == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    assert first.author == "Ann Lee"
    assert first.summary == "Summary one"
    assert first.tags == ("World",)
    assert result.entries[2].published is None  # a date in the future is not believed
    assert result.skipped == {
        "no_link": 1,
        "bad_scheme": 2,
        "duplicate_entry": 1,
        "future_date_ignored": 1,
    }


def test_atom_relative_links_join_xml_base_and_keep_dates() -> None:
    result = parse_feed(ATOM, FEED_URL, kind="atom")
    (entry,) = result.entries
    assert entry.url == "https://news.example/section/story-1"
    assert entry.published == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    assert entry.modified == datetime(2025, 3, 5, 9, 0, tzinfo=UTC)
    assert entry.author == "Bo"


def test_rss1_dc_date_is_the_publication_date() -> None:
    (entry,) = parse_feed(RSS1, FEED_URL).entries
    assert entry.url == "https://news.example/r/1"
    assert entry.published == datetime(2025, 3, 4, 8, 15, tzinfo=UTC)


def test_html_error_page_is_not_a_feed() -> None:
    result = parse_feed(b"<html><body><h1>502 Bad Gateway</h1></body></html>", FEED_URL)
    assert not result.valid and not result.entries


def test_feed_body_that_is_a_path_or_url_opens_nothing() -> None:
    for body in (b"/etc/passwd", b"/dev/zero", b"http://169.254.169.254/latest/meta-data/"):
        started = time.monotonic()
        result = parse_feed(body, FEED_URL)
        assert not result.entries and not result.valid
        assert time.monotonic() - started < 2


NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.example/a/1</loc><lastmod>2025-03-04T12:00:00Z</lastmod>
<news:news><news:publication><news:name>X</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2025-03-04T10:00:00+02:00</news:publication_date>
<news:title>Sitemap headline</news:title><news:keywords>a, b</news:keywords></news:news></url>
<url><loc>https://news.example/a/2</loc><lastmod>2025-03-01</lastmod></url>
<url><loc>ftp://news.example/x</loc></url>
</urlset>"""


def test_news_sitemap_keeps_title_date_and_lastmod() -> None:
    result = parse_sitemap(NEWS_SITEMAP, "https://news.example/news.xml")
    assert result.kind == "urlset"
    first, second = result.entries
    assert first.title == "Sitemap headline"
    assert first.published == datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    assert first.modified == datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
    assert first.tags == ("a", "b")
    assert first.source_kind == "news_sitemap"
    assert second.published is None and second.modified == datetime(2025, 3, 1, tzinfo=UTC)
    assert result.skipped == {"bad_scheme": 1}


def test_sitemap_index_lists_child_sitemaps() -> None:
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://news.example/s1.xml</loc></sitemap><sitemap><loc>/s2.xml</loc></sitemap>
    <sitemap><loc>file:///etc/passwd</loc></sitemap></sitemapindex>"""
    result = parse_sitemap(body, "https://news.example/index.xml")
    assert result.kind == "index"
    assert result.sitemaps == ["https://news.example/s1.xml", "https://news.example/s2.xml"]


def test_sitemap_entities_are_not_expanded() -> None:
    lol = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
    <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
    <!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>https://news.example/&lol3;</loc></url><url><loc>https://news.example/&xxe;</loc></url></urlset>"""
    result = parse_sitemap(lol, "https://news.example/s.xml")
    for entry in result.entries:
        assert "lollol" not in entry.url and "root:" not in entry.url


def test_robots_sitemap_lines() -> None:
    body = b"User-agent: *\nDisallow: /admin\nSitemap: https://news.example/sm.xml\nsitemap:/news.xml\n"
    assert sitemaps_from_robots(body, "https://news.example/robots.txt") == [
        "https://news.example/sm.xml",
        "https://news.example/news.xml",
    ]
