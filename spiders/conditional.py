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

import asyncio
import hashlib
import logging
from typing import Any, ClassVar

from scrapy import Request
from scrapy.http import Response

from crawler import runtime
from storage.sources import Validators, save_validators, source_validators

logger = logging.getLogger(__name__)

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


class ConditionalPolling:
    """The spider's side: validators read when its start requests are made, saved when it
    closes after a finished run."""

    crawler: Any
    name: str
    outlet: ClassVar[Any]
    polls: ConditionalPolls | None = None

    async def _conditional_polls(self) -> ConditionalPolls | None:
        settings = self.crawler.settings
        if not settings.getbool("NEWSCRAWL_CONDITIONAL_POLLS"):
            return None
        known = await asyncio.wrap_future(
            runtime.db_writer().submit(
                source_validators, runtime.database(settings), self.outlet.id
            )
        )
        self.polls = ConditionalPolls(known)
        return self.polls

    def closed(self, reason: str) -> None:
        """Validators are kept only from a run that finished (the module's docstring)."""
        if self.polls is None or reason != "finished" or not self.polls.fresh:
            return
        try:
            runtime.db_writer().submit(
                save_validators,
                runtime.database(self.crawler.settings),
                self.outlet.id,
                self.polls.fresh,
            ).result(timeout=30)
        except Exception as exc:  # the next run polls unconditionally: slower, nothing lost
            logger.error("%s: could not save the sources' validators: %s", self.name, exc)
