"""The safety layer every crawl gets (enabled in ``crawler.settings``):

- ``AddressPolicyMiddleware``: only http(s) URLs, and no connection to private, loopback,
  link-local (cloud metadata), multicast, reserved or otherwise non-global addresses, however
  the host is spelled (names, decimal, hex, octal, IPv6-mapped), unless the address (or
  address:port) is listed in ``NEWSCRAWL_ALLOWED_ADDRESSES``. Checked before connecting, on every
  request including each redirect hop.
- ``OffsiteRedirectMiddleware``: the outlet's allowed domains, on every request and redirect
  hop, article requests included (Scrapy's own check skips them).
- ``ContentTypeGuard``: an article whose response headers say it is not HTML is cancelled
  before its body is downloaded.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from scrapy import Request, signals
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import StopDownload
from scrapy.utils.defer import deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.failures import RequestRefused
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


def address_allowed(address: IPAddress, port: int, allowed: list[str]) -> bool:
    """The address policy: a public address, or one ``NEWSCRAWL_ALLOWED_ADDRESSES`` lists."""
    if is_public(address):
        return True
    networks, endpoints = parse_allowed(allowed)
    return (address, port) in endpoints or any(address in net for net in networks)


class AddressPolicyMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.allowed_addresses = crawler.settings.getlist("NEWSCRAWL_ALLOWED_ADDRESSES")
        parse_allowed(self.allowed_addresses)  # a malformed entry fails the crawl at its start

    @classmethod
    def from_crawler(cls, crawler: Any) -> AddressPolicyMiddleware:
        return cls(crawler)

    def allowed(self, address: IPAddress, port: int) -> bool:
        return address_allowed(address, port, self.allowed_addresses)

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
            endpoint = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
            self._refuse(
                request,
                f"{host} resolves to non-public address {address} (to crawl it on purpose, "
                f"allow it: NEWSCRAWL_ALLOWED_ADDRESSES={endpoint})",
            )

    def _refuse(self, request: Request, why: str) -> None:
        self.crawler.stats.inc_value("newscrawl/safety/blocked_address")
        logger.warning("refused %s: %s", request.url, why)
        raise RequestRefused("blocked_address", why)


class OffsiteRedirectMiddleware(OffsiteMiddleware):
    """Scrapy's off-site check (``allowed_domains``, subdomains included) on every request and
    every redirect hop. Scrapy exempts requests with ``dont_filter``, which article requests
    set for the dupefilter's sake (see ``OutletSpider._article_request``), so a redirect off
    the outlet was followed and stored under it. Only ``allow_offsite`` exempts here (robots.txt
    requests, which RFC 9309 lets redirect to any host).

    Checked in ``process_request`` only, not when the request is scheduled (where Scrapy's
    check drops a request silently): a refusal reaches the request's errback as an
    ``RequestRefused`` (an ``IgnoreRequest``) with its reason, ``offsite_redirect`` for a hop."""

    def request_scheduled(self, request: Request, spider: Any) -> None:
        return None

    def process_request(self, request: Request, spider: Any = None) -> None:
        assert self.crawler.spider is not None
        if request.meta.get("allow_offsite") or self.should_follow(request, self.crawler.spider):
            return
        self.stats.inc_value("offsite/filtered")
        origin = (request.meta.get("redirect_urls") or [None])[0]
        if origin is not None:
            self.stats.inc_value("newscrawl/safety/offsite_redirect")
            logger.debug("refused redirect off the outlet: %s -> %s", origin, request.url)
            raise RequestRefused("offsite_redirect", f"{request.url} (redirected from {origin})")
        raise RequestRefused("offsite", repr(urlparse_cached(request).hostname))


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
