"""Extraction on pages with chrome, and reconciliation of page and feed metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.demo.mockweb import MockOutlet, load_sample
from crawler.items import Discovery
from pipelines.extract.page import (
    ExtractionFailed,
    PageExtraction,
    drop_lines,
    extract_page,
    reconcile,
)

CHROME = [
    "Accept all cookies",
    "Related stories",
    "All rights reserved",
    "Watch live",
    "Privacy policy",
]


def sample_outlet(outlet_id: str) -> MockOutlet:
    spec = next(o for o in load_sample()["outlets"] if o["id"] == outlet_id)
    return MockOutlet(spec, port=8000)


def test_presstv_seed_page_without_captions_or_credit_line() -> None:
    outlet = sample_outlet("demo_presstv")
    page = extract_page(
        outlet.article_page(0),
        outlet.url(outlet.articles[0]),
        drop_selectors=("figcaption",),
        drop_line_patterns=(r"^\s*Presstv\.com\s*$",),
    )
    assert "Moscow will continue helping Damascus" in page.text
    assert "Nearly 250,000 Syrians have been killed in the four-year violence." in page.text
    assert "(AFP Photo)" not in page.text
    assert "Presstv.com" not in page.text
    for chrome in CHROME:
        assert chrome not in page.text
    assert page.title == "Russia to keep helping Syria to avoid Libya scenario: Lavrov"


def test_the_pages_date_is_not_sought_when_the_feed_gave_one() -> None:
    outlet = sample_outlet("demo_presstv")
    html, url = outlet.article_page(0), outlet.url(outlet.articles[0])
    searched = extract_page(html, url)
    skipped = extract_page(html, url, date_known=True)
    assert searched.date is not None
    assert skipped.date is None
    assert (skipped.text, skipped.title, skipped.author) == (
        searched.text,
        searched.title,
        searched.author,
    )


def test_bbc_sample_page_keeps_every_paragraph_and_no_chrome() -> None:
    outlet = sample_outlet("demo_bbc")
    for index in range(3):
        art = outlet.articles[index]
        page = extract_page(outlet.article_page(index), outlet.url(art))
        assert page.mode == "precision"  # a clean article needs no second run
        for paragraph in art["paragraphs"]:
            assert paragraph in page.text
        for chrome in CHROME:
            assert chrome not in page.text


@pytest.mark.parametrize("html", ["", "   ", "<html><body><nav>Home</nav></body></html>"])
def test_empty_pages_fail_with_a_reason(html: str) -> None:
    with pytest.raises(ExtractionFailed) as err:
        extract_page(html, "https://news.example/a")
    assert err.value.reason in {"empty_page", "extraction_empty", "text_too_short"}


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def page(**kw: object) -> PageExtraction:
    return PageExtraction(text="x" * 300, **kw)  # type: ignore[arg-type]


def test_feed_date_and_title_beat_the_page() -> None:
    d = Discovery(
        url="u",
        source_url="f",
        source_kind="rss",
        title="Feed title",
        published=datetime(2025, 5, 1, 9, 30, tzinfo=UTC),
    )
    merged = reconcile(page(title="Page title | Site", date="2025-05-02"), d, "en", now=NOW)
    assert merged.title == "Feed title"
    assert merged.published_at == datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
    assert merged.published_source == "rss"


def test_page_date_used_when_feed_has_none_and_future_dates_are_not_believed() -> None:
    d = Discovery(url="u", source_url="f", source_kind="rss", published=NOW + timedelta(days=30))
    merged = reconcile(page(date="2025-05-02"), d, "en", now=NOW)
    assert merged.published_at == datetime(2025, 5, 2, tzinfo=UTC)
    assert merged.published_source == "page"
    merged = reconcile(page(date="2031-01-01"), None, "en", now=NOW)
    assert merged.published_at is None


def test_sitemap_lastmod_is_the_last_resort() -> None:
    d = Discovery(
        url="u", source_url="s", source_kind="sitemap", modified=datetime(2025, 4, 1, tzinfo=UTC)
    )
    merged = reconcile(page(), d, "en", now=NOW)
    assert merged.published_at == datetime(2025, 4, 1, tzinfo=UTC)
    assert merged.published_source == "sitemap_lastmod"


def test_language_falls_back_to_the_outlet() -> None:
    assert reconcile(page(), None, "fr", now=NOW).language == "fr"
    assert reconcile(page(language="en-GB"), None, "fr", now=NOW).language == "en"


@pytest.mark.parametrize(
    ("head", "language"),
    [
        ('<html lang="en-GB">', "en-GB"),
        ("<html class='x' LANG=fa>", "fa"),
        ('<html><head><meta http-equiv="Content-Language" content="ar_EG">', "ar-EG"),
        ("<html>", None),
        ('<html lang="">', None),
    ],
)
def test_the_pages_declared_language_is_read(head: str, language: str | None) -> None:
    """trafilatura reports no language unless asked to detect one: the page's own
    declaration stands in. The text here is English, so the reconciled article says "en" whatever
    the page or the outlet ("xx") declared: a confident detection beats a declaration."""
    body = "".join(
        f"<p>Paragraph {i} of the article, with enough words to be kept.</p>" * 3 for i in range(8)
    )
    html = f"{head}<head><title>T</title></head><body><article>{body}</article></body></html>"
    extracted = extract_page(html, "https://example.com/a")
    assert extracted.language == language
    assert reconcile(extracted, None, "xx").language == "en"


def test_drop_line_patterns_are_searched_like_grep() -> None:
    text = "Business groups said so.\nThe story goes on.\nShare this article"
    assert drop_lines(text, ("^Business groups",)) == "The story goes on.\nShare this article"
    assert drop_lines(text, ("^Share this article$",)) == (
        "Business groups said so.\nThe story goes on."
    )
    assert drop_lines(text, (r"goes on\.$", "^Share")) == "Business groups said so."


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("Staff and wire reports", "Staff and wire reports"),  # a credit line, kept as written
        ("John Smith and Jane Doe", "John Smith; Jane Doe"),  # people, split as trafilatura does
        ("Ursula von der Leyen", "Ursula von der Leyen"),
    ],
)
def test_a_credit_line_byline_is_not_split_into_names(declared: str, expected: str) -> None:
    body = "".join(f"<p>{p}</p>" for p in paragraphs_of_prose())
    page = (
        f'<html><head><meta name="author" content="{declared}"><title>T</title></head>'
        f"<body><article>{body}</article></body></html>"
    )
    assert extract_page(page, "https://example.com/a").author == expected


def paragraphs_of_prose() -> list[str]:
    return [
        f"Paragraph {i} tells the council's budget story with enough words to count as prose, "
        "as an article's paragraph would, and it goes on for a while longer still."
        for i in range(8)
    ]


def test_json_ld_article_body_and_link_lines_are_evidence() -> None:
    import lxml.html

    from pipelines.extract.evidence import link_texts, page_claims, shape

    html = """<html><head>
    <script type="application/ld+json">{"@graph": [{"@type": "NewsArticle",
      "description": "The short version.", "articleBody": "<p>First para.</p><p>Second.</p>"}]}
    </script><script type="application/ld+json">{not json</script></head>
    <body><a href="/a">Related story one</a><a href="/b">More news</a></body></html>"""
    tree = lxml.html.document_fromstring(html)
    claims = page_claims(tree)
    assert claims.article_body == "First para. Second."
    assert claims.description == "The short version."
    links = link_texts(tree)
    text = "Related story one\nMore news\nA sentence of the story that ends as one does."
    s = shape(text, links)
    assert s.linked == pytest.approx(5 / 15)
    assert s.prose == pytest.approx(10 / 15)
