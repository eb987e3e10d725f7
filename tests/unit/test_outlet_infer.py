"""What ``outlet add`` infers from sampled URLs (``crawler/outlet_kit/infer.py``) and which
links it takes for feeds (``discover.looks_like_feed``)."""

from __future__ import annotations

import re

import pytest

from crawler.outlet_kit import infer
from crawler.outlet_kit.discover import looks_like_feed, same_site, site_domain


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (
            ["https://e.example/news/2024/a-b", "https://e.example/news/x-y"],
            [r"^https?://[^/]+/news/"],
        ),
        (
            ["https://e.example/2024/03/a-b-c", "https://e.example/2023/01/z"],
            [r"^https?://[^/]+/\d{4}/"],
        ),
        (
            ["https://e.example/a-long-slug", "https://e.example/other-one/"],
            [r"^https?://[^/]+/[^/?#]*-[^/?#]*/?$"],
        ),
        (
            ["https://e.example/a/b", "https://e.example/a/c", "https://e.example/z/d"],
            [r"^https?://[^/]+/a/", r"^https?://[^/]+/z/"],
        ),
    ],
)
def test_patterns_from_sampled_urls(urls: list[str], expected: list[str]) -> None:
    found = infer.patterns(urls)
    assert found == expected
    assert all(infer.matches(u, found) for u in urls)


def test_a_slug_pattern_does_not_take_the_homepage_or_a_section() -> None:
    found = infer.patterns(["https://e.example/a-long-slug"])
    assert not infer.matches("https://e.example/", found)
    assert not infer.matches("https://e.example/world", found)
    assert re.search(found[0], "https://e.example/another-story")


def test_outlet_id_and_domains() -> None:
    assert infer.outlet_id("https://www.riverside-gazette.example/") == "riverside_gazette"
    assert infer.outlet_id("http://127.0.0.1:8080/") == "outlet_127"
    assert infer.outlet_id("https://news.paper.co.uk/") == "paper"
    home = "https://www.paper.co.uk/news"
    urls = [
        "https://feeds.paper.co.uk/rss.xml",
        "https://www.paper.co.uk/news/1",
        "https://cdn.other.example/x",
    ]
    assert infer.allowed_domains(home, urls) == ["paper.co.uk"]
    assert infer.allowed_domains("https://www.x.example/", ["https://feeds.x.example/a"]) == [
        "x.example"
    ]


def test_one_site_by_the_public_suffix_list_else_by_host() -> None:
    assert site_domain("https://news.example.co.uk/") == "example.co.uk"
    assert same_site("https://feeds.example.co.uk/rss", "https://news.example.co.uk/")
    assert not same_site("https://other.co.uk/rss", "https://example.co.uk/")  # co.uk is a suffix
    assert site_domain("http://www.a.mocknews.localhost:80/") == "a.mocknews.localhost"
    assert same_site("http://feeds.a.mocknews.localhost/", "http://www.a.mocknews.localhost/")
    assert not same_site("http://b.mocknews.localhost/", "http://www.a.mocknews.localhost/")


@pytest.mark.parametrize(
    ("url", "feed"),
    [
        ("https://e.example/rss", True),
        ("https://e.example/feed/", True),
        ("https://e.example/feeds/world.xml", True),
        ("https://e.example/world.rss", True),
        ("https://e.example/rss-world.xml", True),
        ("https://e.example/news/ukraine-feeds-refugees", False),
        ("https://e.example/sitemap.xml", False),
        ("https://e.example/atomic-energy", False),
    ],
)
def test_looks_like_feed(url: str, feed: bool) -> None:
    assert looks_like_feed(url) is feed


def test_article_candidates_and_sections() -> None:
    home = "https://e.example/"
    links = [
        "https://e.example/world",
        "https://e.example/news/council-votes-on-bridge",
        "https://e.example/news/12345678",
        "https://e.example/about",
        "https://e.example/rss",
        "https://other.example/news/a-b-c",
        "https://e.example/page?x=1",
    ]
    candidates = infer.article_candidates(links, home)
    assert candidates == [
        "https://e.example/news/council-votes-on-bridge",
        "https://e.example/news/12345678",
    ]
    found = infer.patterns(candidates)
    assert infer.section_pages(links, home, found) == [
        "https://e.example/world",
        "https://e.example/about",
    ]
