"""One page's trafilatura runs over a raw tree pruned once (pipelines/extract/passes.py) give
the text ``trafilatura.bare_extraction`` gives, in every mode newscrawl runs: on every vendored
benchmark page (two of them take the recall retry), and on pages that take the branches the
vendored ones do not (a forum thread, a text the baseline rescues, outlet prunes)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipelines.extract import passes
from pipelines.extract.page import _parse

PAGES = sorted((Path(__file__).parents[1] / "data" / "extraction-benchmark" / "html").glob("*.gz"))
MODES = [(True, True), (False, False), (True, False)]  # precision fast, balanced, fallback

_PROSE = " ".join(
    f"Sentence number {i} of the story says something new about it." for i in range(12)
)
CASES = {
    "a forum thread: the posts are in comment containers": (
        '<script type="application/ld+json">{"@type": "DiscussionForumPosting"}</script>'
        "<h1>Thread</h1><p>First post of the thread, long enough to be a post of its own.</p>"
        '<div class="comments"><ul class="comment-list">'
        + "".join(f"<li><p>Reply {i}: {_PROSE[:120]}</p></li>" for i in range(5))
        + "</ul></div>"
    ),
    "comment lists on an article": (
        f"<article><p>{_PROSE}</p></article>"
        '<ol id="comments"><li><p>A reader says this and that at some length.</p></li></ol>'
    ),
    "text in spans inside classed divs": (
        "<div><p>Short lead.</p></div>"
        + "".join(f"<div class='x'><span>{_PROSE[:200]} {i}</span></div>" for i in range(8))
    ),
    "text only in divs": "".join(f"<div>{_PROSE[:150]} {i}</div>" for i in range(6)),
    "nearly nothing": "<p>Hi.</p>",
}


def _same_in_every_mode(html: str, url: str, prune: tuple[str, ...] = ()) -> int:
    tree = _parse(html)
    assert tree is not None
    shared = passes.PagePasses(tree, url, prune)
    texts = 0
    for precision, fast in MODES:
        expected = passes.bare_text(tree, url, precision=precision, fast=fast, prune=prune)
        assert shared.text(precision=precision, fast=fast) == expected, (precision, fast)
        texts += bool(expected)
    return texts


def test_the_shared_runs_are_in_use_with_the_installed_trafilatura() -> None:
    # the steps are trafilatura's internals: a release that moves them falls back to
    # bare_extraction, and this says so instead of the extractor silently slowing down
    assert passes.SHARED_PASSES


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_the_text_is_bare_extractions_on_crafted_pages(body: str) -> None:
    html = f"<html><head><title>t</title></head><body>{body}</body></html>"
    _same_in_every_mode(html, "https://example.org/a/1")


def test_the_outlets_prune_selectors_are_applied_as_bare_extraction_applies_them() -> None:
    html = (
        "<html><body><article>"
        f"<p>{_PROSE}</p><div class='promo'><p>{_PROSE[:300]} promo text.</p></div>"
        "</article></body></html>"
    )
    assert _same_in_every_mode(html, "https://example.org/a/2", ("//div[@class='promo']",)) == 3


def test_the_text_is_bare_extractions_on_every_vendored_page() -> None:
    assert len(PAGES) >= 40
    texts = 0
    for path in PAGES:
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        texts += _same_in_every_mode(html, f"https://example.org/{path.stem}")
    assert texts >= 3 * 40  # the comparison is between texts, not between empty results
