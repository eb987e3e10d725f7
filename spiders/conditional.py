"""Conditional polls of an outlet's declared feeds and sitemaps: a source that has not changed
since the last finished run costs a 304, or, where the server ignores the validators, one
body hash and no parsing.

The validators (``ETag``, ``Last-Modified``, the body's SHA-256) are kept per source in the
database and written only when the run finishes (``finished``): a run that is interrupted or
killed after reading a feed but before recording its entries leaves the old validators, so
the next run reads the feed whole again and nothing it listed is hidden. One-off crawls only:
a distributed worker's polls are scheduled by ``newscrawl schedule``, and adapt by what each
poll held."""

from __future__ import annotations

import hashlib
from typing import Any

from scrapy import Request
from scrapy.http import Response

from storage.sources import Validators

NOT_MODIFIED = 304
#: the source's URL as requested (the key of its validators), whatever redirects followed
SOURCE_URL_META = "newscrawl_source_url"


class ConditionalPolls:
    def __init__(self, known: dict[str, Validators]) -> None:
        self.known = known
        #: what this run's responses said, saved when the run finishes
        self.fresh: dict[str, Validators] = {}
        #: a changed body's validators, kept only once it parsed (a broken feed is read again)
        self._pending: dict[str, Validators] = {}

    def prepare(self, request: Request) -> None:
        """Make a declared source's request conditional on what its last response said."""
        url = request.url
        request.meta[SOURCE_URL_META] = url
        request.meta["handle_httpstatus_list"] = [NOT_MODIFIED]
        known = self.known.get(url)
        if known is None:
            return
        if known.etag:
            request.headers[b"If-None-Match"] = known.etag
        if known.last_modified:
            request.headers[b"If-Modified-Since"] = known.last_modified

    def unchanged(self, response: Response) -> str | None:
        """``"not_modified"`` (a 304) or ``"unchanged"`` (the same body again) when the source
        need not be parsed; None when it must be (then ``parsed`` keeps its validators)."""
        url = response.meta.get(SOURCE_URL_META)
        if url is None:  # not a declared source (a child sitemap, robots.txt)
            return None
        known = self.known.get(url, Validators())
        if response.status == NOT_MODIFIED:
            self.fresh[url] = known
            return "not_modified"
        digest = hashlib.sha256(response.body).hexdigest()
        seen = Validators(
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            body_hash=digest,
        )
        if known.body_hash == digest:
            self.fresh[url] = seen
            return "unchanged"
        self._pending[url] = seen
        return None

    def parsed(self, response: Response) -> None:
        """The source's body parsed and its entries were handed on: its validators count."""
        url = response.meta.get(SOURCE_URL_META)
        if url in self._pending:
            self.fresh[url] = self._pending.pop(url)


def _header(response: Response, name: bytes) -> str | None:
    value: Any = response.headers.get(name)
    return value.decode("latin-1") if value else None
