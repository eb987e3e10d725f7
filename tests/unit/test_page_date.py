"""The page's publication date: htmldate's quick search, and its extensive one only when the
quick one finds nothing (pipelines/extract/metadata.py)."""

from __future__ import annotations

from htmldate import find_date

from pipelines.extract.metadata import page_date
from pipelines.extract.page import _parse


def page(head: str, body: str) -> object:
    return _parse(f"<html><head><title>t</title>{head}</head><body>{body}</body></html>")


def test_a_declared_date_is_found_by_the_quick_search() -> None:
    tree = page(
        '<meta property="article:published_time" content="2024-03-05T10:20:00+00:00">',
        "<article><p>Some text.</p><p>Updated 7 March 2024</p></article>",
    )
    assert page_date(tree, None) == "2024-03-05T10:20:00+0000"


def test_a_date_only_in_the_text_is_found_by_the_extensive_search() -> None:
    tree = page("", "<article><p>Le 5 mars 2024, il a dit.</p><p>Texte.</p></article>")
    assert find_date(tree, extensive_search=False, original_date=True) is None
    assert page_date(tree, None) == "2024-03-05T00:00:00"


def test_no_date_is_none() -> None:
    assert page_date(page("", "<p>No date at all here.</p>"), None) is None
