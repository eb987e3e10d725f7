"""The mock outlet serves a real page saved whole (the benchmarks' Scrapinghub web) as it is."""

from __future__ import annotations

from pathlib import Path

from crawler.demo.sample_outlet import MockOutlet


def test_a_saved_page_is_served_verbatim_and_listed_in_the_feed(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Real page, ünïcode.</p></body></html>", encoding="utf-8")
    spec = {
        "id": "real",
        "name": "Real",
        "host": "real.localhost",
        "language": "en",
        "feed": "rss2",
        "articles": [
            {
                "title": "A real story",
                "paragraphs": ["Its first paragraph."],
                "path": "/news/a",
                "published": "2025-03-01T06:00:00+00:00",
                "html_file": str(page),
            }
        ],
    }
    outlet = MockOutlet(spec, port=8000)
    status, _type, body = outlet.routes()["/news/a"]
    assert (status, body) == (200, page.read_bytes())
    assert "A real story" in outlet.feed()[1]
