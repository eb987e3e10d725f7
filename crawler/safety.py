"""The safety layer every crawl gets (enabled in ``crawler.settings``):

- ``AddressPolicyMiddleware``: only http(s) URLs, and no connection to private, loopback,
  link-local (cloud metadata), multicast, reserved or otherwise non-global addresses, however
  the host is spelled (names, decimal, hex, octal, IPv6-mapped), unless the address (or
  address:port) is listed in ``NEWSCRAWL_ALLOWED_ADDRESSES``. Checked before connecting, on every
  request including each redirect hop.
- ``ContentTypeGuard``: an article whose response headers say it is not HTML is cancelled
  before its body is downloaded.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.utils.defer import deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.urls import ALLOWED_SCHEMES

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowed(
    entries: list[str],
) -> tuple[list[Network], set[tuple[IPAddress, int]]]:
    """``NEWSCRAWL_ALLOWED_ADDRESSES`` entries: an address or network (any port), or
    ``address:port`` (that port only; IPv6 as ``[addr]:port``)."""
    networks: list[Network] = []
    endpoints: set[tuple[IPAddress, int]] = set()
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry.startswith("[") and "]:" in entry:
            addr, port = entry[1:].split("]:")
            endpoints.add((ipaddress.ip_address(addr), int(port)))
        elif entry.count(":") == 1:
            addr, port = entry.split(":")
            endpoints.add((ipaddress.ip_address(addr), int(port)))
        else:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return networks, endpoints


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class AddressPolicyMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.networks, self.endpoints = parse_allowed(
            crawler.settings.getlist("NEWSCRAWL_ALLOWED_ADDRESSES")
        )

    @classmethod
    def from_crawler(cls, crawler: Any) -> AddressPolicyMiddleware:
        return cls(crawler)

    def allowed(self, address: IPAddress, port: int) -> bool:
        if is_public(address):
            return True
        if (address, port) in self.endpoints:
            return True
        return any(address in net for net in self.networks)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        parts = urlparse_cached(request)
        if parts.scheme not in ALLOWED_SCHEMES:
            self._refuse(request, f"scheme {parts.scheme!r} is not fetched")
        host = (parts.hostname or "").strip("[]")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address: IPAddress = ipaddress.ip_address(host)
        except ValueError:
            from twisted.internet import reactor

            try:
                resolved = await deferred_to_future(reactor.resolve(host))  # type: ignore[arg-type]
            except Exception:
                return  # the download will fail on the same name, with its own reason
            address = ipaddress.ip_address(resolved)
        if not self.allowed(address, port):
            self._refuse(request, f"{host} resolves to non-public address {address}")

    def _refuse(self, request: Request, why: str) -> None:
        self.crawler.stats.inc_value("newscrawl/safety/blocked_address")
        logger.warning("refused %s: %s", request.url, why)
        raise IgnoreRequest(f"blocked_address: {why}")


HTML_TYPES = (b"text/html", b"application/xhtml+xml")


class ContentTypeGuard:
    """Cancels article downloads whose Content-Type is not HTML, before the body arrives."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ContentTypeGuard:
        return cls(crawler)

    def headers_received(
        self, headers: Any, body_length: int, request: Request, spider: Any
    ) -> None:
        if "discovery" not in request.meta:
            return  # feeds, sitemaps and robots.txt come in many types
        content_type = (headers.get(b"Content-Type") or b"").lower()
        if content_type and not content_type.startswith(HTML_TYPES):
            self.crawler.stats.inc_value("newscrawl/safety/not_html")
            raise StopDownload(fail=True)
