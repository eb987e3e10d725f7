"""The outlet kit's one fetcher (``crawler/outlet_kit/fetch.py``) under the crawl's rules, on
the loopback mock web: each redirect hop checked against the address policy and robots.txt,
robots.txt's RFC 9309 outcomes, gzip and deflate decoded up to the cap, a body without a
length capped too."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

import pytest

from crawler.outlet_kit.fetch import Fetcher, ToolError

from ..conftest import MockServer
from ..hostile_web import Canary


@pytest.fixture
def host(mock_server: MockServer, request: pytest.FixtureRequest) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:50].strip("-")
    return f"fetch-{label}.mocknews.localhost"


@pytest.fixture
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


def test_a_redirect_to_a_private_address_is_refused_before_connecting(
    mock_server: MockServer, host: str, canary: Canary
) -> None:
    target = f"http://{host}:{canary.port}/in"
    start = mock_server.route(host, "/out", status=302, headers={"Location": target})
    with pytest.raises(ToolError, match=f"non-public address 127.0.0.1 .*127.0.0.1:{canary.port}"):
        Fetcher().fetch(start)
    assert canary.connections == 0


def test_robots_is_obeyed_on_every_hop(mock_server: MockServer, host: str) -> None:
    mock_server.route(host, "/robots.txt", "User-agent: *\nDisallow: /private/\n")
    inside = mock_server.route(host, "/private/page", "<p>secret</p>")
    start = mock_server.route(host, "/public", status=301, headers={"Location": inside})
    fetcher = Fetcher()
    with pytest.raises(ToolError, match=r"robots\.txt disallows it"):
        fetcher.fetch(start)
    assert fetcher.fetch(mock_server.route(host, "/fine", "ok")).body == b"ok"
    robots = [p for h, p in mock_server.requests() if h == host and p == "/robots.txt"]
    assert len(robots) == 1  # once per origin


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (503, False), (429, False)])
def test_robots_outcomes(mock_server: MockServer, host: str, status: int, allowed: bool) -> None:
    mock_server.route(host, "/robots.txt", "x", status=status)
    page = mock_server.route(host, "/page", "hello")
    if allowed:
        assert Fetcher().fetch(page).body == b"hello"
    else:
        with pytest.raises(ToolError, match=rf"robots\.txt is unreachable: HTTP {status}"):
            Fetcher().fetch(page)


def test_deflate_is_decoded_and_a_deflate_bomb_stops_at_the_cap(
    mock_server: MockServer, host: str
) -> None:
    body = b"<rss>" + b"x" * 5000 + b"</rss>"
    small = mock_server.route(
        host, "/d.xml", zlib.compress(body), headers={"Content-Encoding": "deflate"}
    )
    assert Fetcher().fetch(small).body == body
    bomb = mock_server.route(
        host,
        "/b.xml",
        zlib.compress(bytes(4 * 1024 * 1024)),
        headers={"Content-Encoding": "deflate"},
    )
    with pytest.raises(ToolError, match=r"larger than 1048576 bytes decompressed"):
        Fetcher(max_bytes=1024 * 1024).fetch(bomb)


def test_a_body_without_length_is_capped(mock_server: MockServer, host: str) -> None:
    url = mock_server.route(host, "/big", b"y" * 300_000, action="no_length")
    with pytest.raises(ToolError, match="larger than 100000 bytes"):
        Fetcher(max_bytes=100_000).fetch(url)
    assert len(Fetcher(max_bytes=400_000).fetch(url).body) == 300_000


def test_too_many_redirects(mock_server: MockServer, host: str) -> None:
    loop = mock_server.outlet_url(host, "/loop")
    mock_server.route(host, "/loop", status=302, headers={"Location": loop})
    with pytest.raises(ToolError, match="more than 5 redirects"):
        Fetcher().fetch(loop)
