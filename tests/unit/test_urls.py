from __future__ import annotations

import pytest

from crawler.urls import canonical_url, is_fetchable


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM:80/a/b?z=1&a=2#frag", "http://www.example.com/a/b?a=2&z=1"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com/x?utm_source=rss&utm_medium=feed&id=7", "https://example.com/x?id=7"),
        ("https://example.com/x?fbclid=abc&gclid=def", "https://example.com/x"),
        ("https://example.com:8080/x", "https://example.com:8080/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "/relative", "data:,x"]
)
def test_non_http_urls_are_refused(url: str) -> None:
    assert not is_fetchable(url)
    with pytest.raises(ValueError):
        canonical_url(url)
