"""The one fetcher of ``newscrawl outlet new|add|check``, under the crawl's rules: its
User-Agent, size cap and timeout, its address policy (``address_allowed``) on every hop, its
robots.txt policy (``PoliteRobotParser``, RFC 9309 as ``crawler/middlewares/robots.py`` applies
it), gzip and deflate decoded no further than the cap. It connects to the address it checked,
not to whatever a second lookup returns, and resolves ``*.localhost`` to loopback as the crawl's
resolver does (``crawler/resolver.py``)."""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import crawler.settings as project_settings
from crawler.middlewares.robots import ROBOTS_MAX_BYTES, PoliteRobotParser, decode_prefix
from crawler.middlewares.safety import address_allowed
from crawler.resolver import is_localhost_name
from crawler.urls import is_fetchable

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_REDIRECTS = (301, 302, 303, 307, 308)


class ToolError(Exception):
    """Bad input or an unreachable site: one line for the user, exit 1."""


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


@dataclass(frozen=True)
class _Answer:
    url: str
    status: int
    reason: str
    content_type: str
    body: bytes


def _allowed_addresses() -> list[str]:
    # read at each fetch, so a test can allow its loopback server
    return [a for a in os.environ.get("NEWSCRAWL_ALLOWED_ADDRESSES", "").split(",") if a.strip()]


def checked_address(url: str) -> str:
    """The address to connect to for ``url``: every address its host resolves to must pass
    the crawl's address policy; ToolError otherwise."""
    if not is_fetchable(url):
        raise ToolError(f"not an http(s) URL: {url}")
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range
        raise ToolError(f"cannot fetch {url}: {exc}") from exc
    if is_localhost_name(host):
        addresses = ["127.0.0.1"]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise ToolError(f"cannot fetch {url}: cannot resolve {host} ({exc})") from exc
        addresses = [str(info[4][0]).split("%")[0] for info in infos]
    allowed = _allowed_addresses()
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not address_allowed(address, port, allowed):
            endpoint = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
            raise ToolError(
                f"cannot fetch {url}: {host} resolves to non-public address {address} "
                f"(allow it in NEWSCRAWL_ALLOWED_ADDRESSES={endpoint})"
            )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to the checked address, with the URL's host in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, address, timeout)
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


def _user_agent() -> str:
    return str(project_settings.USER_AGENT)


class Fetcher:
    """GETs for one command: robots.txt fetched once per origin and obeyed for every URL and
    redirect hop (robots.txt itself excepted, as in a crawl)."""

    def __init__(self, max_bytes: int | None = None, *, obey_robots: bool = True) -> None:
        self.max_bytes = max_bytes or project_settings.DOWNLOAD_MAXSIZE
        self.obey_robots = obey_robots and project_settings.ROBOTSTXT_OBEY
        self._robots: dict[str, tuple[PoliteRobotParser | None, bytes, str]] = {}

    # -- robots.txt ------------------------------------------------------------------------

    def robots(self, url: str) -> tuple[PoliteRobotParser | None, bytes, str]:
        """(parser or None when there is none, body, what happened) for ``url``'s origin.
        A 5xx, a 429 or no answer means everything is disallowed (ToolError at use)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            robots_url = origin + "/robots.txt"
            try:
                answer = self._get(robots_url, ROBOTS_MAX_BYTES, truncate=True, robots=False)
            except ToolError as exc:
                self._robots[origin] = (None, b"", f"unreachable: {exc}")
            else:
                if 200 <= answer.status < 300:
                    parser = PoliteRobotParser(answer.body, None)
                    self._robots[origin] = (parser, answer.body, "ok")
                elif answer.status == 429 or answer.status >= 500:
                    self._robots[origin] = (None, b"", f"unreachable: HTTP {answer.status}")
                else:
                    self._robots[origin] = (None, b"", "none")
        return self._robots[origin]

    def robots_body(self, url: str) -> bytes:
        """The robots.txt of ``url``'s origin as obeyed (empty when it has none)."""
        return self.robots(url)[1]

    def _check_robots(self, url: str) -> None:
        if not self.obey_robots:
            return
        parser, _body, state = self.robots(url)
        if state.startswith("unreachable"):
            raise ToolError(
                f"cannot fetch {url}: its robots.txt is {state}, and an unreachable robots.txt "
                "disallows everything (RFC 9309)"
            )
        if parser is not None and not parser.allowed(url, _user_agent()):
            raise ToolError(f"cannot fetch {url}: robots.txt disallows it for {_user_agent()}")

    # -- GET -------------------------------------------------------------------------------

    def fetch(self, url: str, max_bytes: int | None = None) -> Fetched:
        """One GET as the crawl would send it; ToolError for a refusal, an HTTP error or a
        body over the cap (after decompression)."""
        answer = self._get(url, max_bytes or self.max_bytes, truncate=False, robots=True)
        if answer.status >= 400:
            raise ToolError(f"cannot fetch {url}: HTTP {answer.status} {answer.reason}".rstrip())
        return Fetched(answer.url, answer.content_type, answer.body)

    def _get(self, url: str, limit: int, *, truncate: bool, robots: bool) -> _Answer:
        current = url
        for _hop in range(project_settings.REDIRECT_MAX_TIMES + 1):
            if robots:
                checked_address(current)  # its own refusal first, not its robots.txt's
                self._check_robots(current)
            answer, location = self._one(current, limit, truncate)
            if location is None:
                return answer
            current = urljoin(current, location)
        raise ToolError(
            f"cannot fetch {url}: more than {project_settings.REDIRECT_MAX_TIMES} redirects"
        )

    def _one(self, url: str, limit: int, truncate: bool) -> tuple[_Answer, str | None]:
        address = checked_address(url)
        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        kind = _PinnedHTTPS if https else _PinnedHTTP
        conn = kind(parts.hostname or "", port, address, project_settings.DOWNLOAD_TIMEOUT)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "User-Agent": _user_agent(),
            "Accept-Encoding": "gzip, deflate",
            "Accept": "*/*",
        }
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                return _Answer(url, response.status, response.reason, "", b""), location
            declared = response.getheader("Content-Length")
            if not truncate and declared and declared.isdigit() and int(declared) > limit:
                raise self._too_large(url, limit)
            raw = response.read(limit + 1)
            encodings = response.getheader("Content-Encoding") or ""
            content_type = response.getheader("Content-Type") or ""
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise ToolError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        if len(raw) > limit and not truncate:
            raise self._too_large(url, limit)
        try:
            body = decode_prefix(raw[:limit], [encodings.encode("latin-1")], limit + 1)
        except ValueError as exc:  # an encoding it was not offered
            raise ToolError(f"cannot fetch {url}: {exc}") from exc
        if len(body) > limit:
            if not truncate:
                raise self._too_large(url, limit, " decompressed")
            body = body[:limit]
        return _Answer(url, status, reason, content_type, body), None

    @staticmethod
    def _too_large(url: str, limit: int, how: str = "") -> ToolError:
        return ToolError(f"cannot fetch {url}: larger than {limit} bytes{how} (DOWNLOAD_MAXSIZE)")


def fetch(url: str) -> Fetched:
    """One GET with a fetcher of its own (robots.txt fetched for it)."""
    return Fetcher().fetch(url)
