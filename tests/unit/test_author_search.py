"""newscrawl's author search finds what trafilatura's ``extract_author`` finds (it replaces it
for speed: no copy of the tree), on every vendored benchmark page and on the cases where the
deletion of discarded elements changes the text that is read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from trafilatura.metadata import extract_author

from pipelines.extract.authors import search_author
from pipelines.extract.page import _parse

PAGES = sorted((Path(__file__).parents[1] / "data" / "extraction-benchmark" / "html").glob("*.gz"))

CASES = {
    "meta-free byline": '<div class="byline">By Jane Doe</div>',
    "a date inside the byline is deleted, its tail kept": (
        '<p class="byline">By<time>3 May</time>John Smith and Ann Lee</p>'
    ),
    "a deleted first child's tail joins the parent's text": (
        '<span class="author"><span class="date">today</span>Mary Major</span>'
    ),
    "a byline inside a sidebar is not the article's": (
        '<div class="sidebar"><span class="author">Sidebar Person</span></div>'
        '<span class="author-name">Real Person</span>'
    ),
    "the first expression beats the later ones": (
        '<div class="writer">Third Choice</div><a rel="author">First Choice</a>'
    ),
    "an <author> element": "<author>Alex Author</author>",
    "a child <rel> element saying me": "<p>Pat Person<rel>me</rel></p>",
    "too long a byline is passed over": (
        f'<div class="byline">{"word " * 40}</div><div id="Author">Short Name</div>'
    ),
    "a figure caption credit is not the author": (
        '<figure><span class="author">Photo Agency</span></figure><p>No author here.</p>'
    ),
    "comments are discarded by id prefix": (
        '<div id="comments-42"><span class="author">A Commenter</span></div>'
    ),
    "itemprop and data attributes": (
        '<span itemprop="author"><span itemprop="name">Ima Name</span></span>'
        '<div data-component="Byline">Other Name</div>'
    ),
    "nothing": "<p>Just a paragraph.</p>",
}


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_the_author_is_trafilaturas_on_crafted_bylines(body: str) -> None:
    tree = _parse(f"<html><head><title>t</title></head><body>{body}<p>Text.</p></body></html>")
    assert search_author(tree) == extract_author(tree)


def test_the_author_is_trafilaturas_on_every_vendored_page() -> None:
    assert len(PAGES) >= 40
    found = 0
    for path in PAGES:
        tree = _parse(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
        expected = extract_author(tree)
        assert search_author(tree) == expected, path.name
        found += expected is not None
    assert found >= 10  # the comparison is not between two Nones
