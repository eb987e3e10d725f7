"""DNS: names under ``.localhost`` are loopback (RFC 6761 section 6.3), resolved without asking
the system, which often does not know them. That lets one loopback server play many outlets in
the demo, the tests and the benchmarks (``bbc.mocknews.localhost``, ...)."""

from __future__ import annotations

from collections.abc import Sequence

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer


def is_localhost_name(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


class LocalhostAwareResolver(CachingThreadedResolver):
    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if is_localhost_name(name):
            return defer.succeed("127.0.0.1")
        return super().getHostByName(name, timeout)
