"""A homepage source's links (``spiders/links.py``): absolute, without fragments, each once,
in document order; not-HTML bytes give an invalid result."""

from __future__ import annotations

from spiders import links
from spiders.links import parse_links

PAGE = b"""<html><head><meta charset="utf-8"></head><body>
<nav><a href="/">Home</a> <a href="/politics">Politics</a></nav>
<a href="/news/2024/one#comments">One</a> <a href="news/2024/two">Two</a>
<a href="/news/2024/one">One again</a> <a href="mailto:x@example.com">mail</a>
<a href="https://other.example/news/3">elsewhere</a> <a>no href</a>
</body></html>"""


def test_links_are_absolute_defragmented_and_unique_in_order() -> None:
    result = parse_links(PAGE, "https://www.example.com/", "homepage")
    assert result.valid
    assert [e.url for e in result.entries] == [
        "https://www.example.com/politics",
        "https://www.example.com/news/2024/one",
        "https://www.example.com/news/2024/two",
        "https://other.example/news/3",
    ]
    assert {e.source_kind for e in result.entries} == {"homepage"}
    assert result.skipped == {"bad_scheme": 1}


def test_links_are_capped() -> None:
    body = "".join(f'<a href="/n/{i}">x</a>' for i in range(links.MAX_LINKS + 10)).encode()
    result = parse_links(b"<html><body>" + body + b"</body></html>", "https://e.example/")
    assert len(result.entries) == links.MAX_LINKS
    assert result.skipped == {"too_many_links": 10}


def test_bytes_that_are_not_a_page_are_invalid() -> None:
    result = parse_links(b"", "https://e.example/")
    assert not result.valid and result.entries == []
