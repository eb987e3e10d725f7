"""Fetching for ``newscrawl outlet new``: the crawl's user agent, size cap, timeout and
address policy, with every redirect hop checked; and what a fetched page says about feeds."""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import crawler.settings as project_settings
from crawler.middlewares.safety import address_allowed
from crawler.urls import is_fetchable

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


class ToolError(Exception):
    """Bad input or an unreachable site: one line for the user, exit 1."""


# -- fetching ------------------------------------------------------------------------------------


def _check_address(url: str) -> None:
    """The crawl's address policy: no private, loopback or link-local address unless listed in
    ``NEWSCRAWL_ALLOWED_ADDRESSES`` (read now, so a test can allow its loopback server)."""
    parts = urlsplit(url)
    if not is_fetchable(url):
        raise ToolError(f"not an http(s) URL: {url}")
    host = (parts.hostname or "").strip("[]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ToolError(f"cannot fetch {url}: cannot resolve {host} ({exc})") from exc
    allowed = [a for a in os.environ.get("NEWSCRAWL_ALLOWED_ADDRESSES", "").split(",") if a.strip()]
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_allowed(address, port, allowed):
            raise ToolError(
                f"cannot fetch {url}: {host} resolves to non-public address {address} "
                f"(allow it in NEWSCRAWL_ALLOWED_ADDRESSES)"
            )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(
        self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: str
    ) -> Any:
        _check_address(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


def fetch(url: str) -> Fetched:
    """One GET as the crawl would send it (its User-Agent, size cap and timeout)."""
    _check_address(url)
    opener = urllib.request.build_opener(_CheckedRedirects())
    request = urllib.request.Request(
        url,
        headers={"User-Agent": project_settings.USER_AGENT, "Accept-Encoding": "identity"},
    )
    limit = project_settings.DOWNLOAD_MAXSIZE
    try:
        with opener.open(request, timeout=project_settings.DOWNLOAD_TIMEOUT) as response:
            body = response.read(limit + 1)
            final_url = response.geturl()
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise ToolError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ToolError(f"cannot fetch {url}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:  # timeouts, resets, bad ports
        raise ToolError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc
    if len(body) > limit:
        raise ToolError(f"cannot fetch {url}: larger than {limit} bytes (DOWNLOAD_MAXSIZE)")
    return Fetched(final_url, content_type, body)
