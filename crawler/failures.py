"""Failures as typed values: why a request was refused or an article dropped travels as an
attribute of the exception, never as text to be parsed again.

- ``RequestRefused``: an ``IgnoreRequest`` with a reason code (our middlewares raise it, and
  the subclasses below turn Scrapy's own refusals into it);
- ``ArticleDropped``: a ``DropItem`` with a reason code, which the store pipeline records;
- ``failure_reason``: the reason code of a failed download, by exception class."""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    DropItem,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
    UnsupportedURLSchemeError,
)
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as net
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived

#: the reason of a request refused because the crawl is stopping: not a failure of its URL
INTERRUPTED = "interrupted"


class RequestRefused(IgnoreRequest):
    """A request not sent (or its response not used), for ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ArticleDropped(DropItem):
    """An article a pipeline will not pass on, for ``reason``; the URL state records it."""

    def __init__(self, reason: str, detail: str = "", log_level: str = "INFO") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason, log_level=log_level)


# (exception classes, reason), most specific first: isinstance decides, so subclasses count
_REASONS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((net.DNSLookupError, CannotResolveHostError), "dns_error"),
    ((net.TimeoutError, net.TCPTimedOutError, DownloadTimeoutError), "timeout"),
    ((net.ConnectionRefusedError, DownloadConnectionRefusedError), "connection_refused"),
    ((ResponseDataLossError,), "truncated"),
    ((DownloadCancelledError, defer.CancelledError), "too_large"),
    ((StopDownload,), "not_html"),
    ((UnsupportedURLSchemeError,), "bad_scheme"),
    (
        (
            net.ConnectionLost,
            net.ConnectionDone,
            ResponseNeverReceived,
            ResponseFailed,
            DownloadFailedError,
        ),
        "connection_lost",
    ),
)


def reason_of(exc: BaseException) -> str:
    """The reason code of an exception raised by a download."""
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, RequestRefused):
        return exc.reason
    if isinstance(exc, IgnoreRequest):
        return "ignored"
    for classes, reason in _REASONS:
        if isinstance(exc, classes):
            return reason
    return type(exc).__name__[:64]  # unforeseen: the class names it


def failure_reason(failure: Failure) -> tuple[str, str]:
    """A short, stable reason code for URL state, and a human detail."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return reason_of(exc), str(exc.response.url)
    if exc is None:  # a Failure always carries its exception; the type says it may not
        return "unknown", ""
    return reason_of(exc), str(exc)[:500]


_PLAIN = {
    "dns_error": "DNS lookup failed",
    "timeout": "timed out",
    "connection_refused": "connection refused",
    "connection_lost": "connection lost",
    "truncated": "response cut short",
    "too_large": "response too large",
    "robots_unreachable": "robots.txt unreachable",
    "robots_disallowed": "disallowed by robots.txt",
    "blocked_address": "address not allowed (NEWSCRAWL_ALLOWED_ADDRESSES)",
}


#: the stats key holding the first failed source of a run ("URL: detail")
FIRST_SOURCE_FAILURE = "newscrawl/source/first_failure"
_SOURCE_FAILED = "newscrawl/source/failed/"


def run_failure(close_reason: str, stats: dict[str, Any]) -> str | None:
    """Why a spider's run failed, in words for its run row and the crawl's summary; None when
    nothing failed."""
    if error := stats.get("newscrawl/storage_error"):
        return f"storage error: {error}"
    if error := stats.get("newscrawl/warc_error"):
        return f"WARC error: {error}"
    if stats.get("newscrawl/source/failed") and not stats.get("newscrawl/source/ok"):
        counts = sorted(
            (key.removeprefix(_SOURCE_FAILED), int(n))
            for key, n in stats.items()
            if key.startswith(_SOURCE_FAILED)
        )
        words = ", ".join(f"{plain_reason(r)} x{n}" for r, n in counts)
        first = stats.get(FIRST_SOURCE_FAILURE)
        return f"no source answered ({words})" + (f"; first: {first}" if first else "")
    return None


def plain_reason(reason: str) -> str:
    """A reason code in words, for people: ``http_503`` is "HTTP 503"."""
    if reason.startswith("http_") and reason[5:].isdigit():
        return f"HTTP {reason[5:]}"
    return _PLAIN.get(reason, reason.replace("_", " "))


class _RefusalAsReason:
    """Mixed in before one of Scrapy's middlewares: the one ``IgnoreRequest`` its
    ``process_response`` raises becomes a ``RequestRefused`` with ``refusal_reason``."""

    refusal_reason: str

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        try:
            return super().process_response(request, response)  # type: ignore[misc]
        except RequestRefused:
            raise
        except IgnoreRequest as exc:
            raise RequestRefused(self.refusal_reason, str(exc)) from exc


class TypedRedirectMiddleware(_RefusalAsReason, RedirectMiddleware):
    """Scrapy's redirects; a chain longer than REDIRECT_MAX_TIMES is ``redirect_loop``."""

    refusal_reason = "redirect_loop"


class TypedMetaRefreshMiddleware(_RefusalAsReason, MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, with the same ``redirect_loop``."""

    refusal_reason = "redirect_loop"


class TypedHttpCompressionMiddleware(_RefusalAsReason, HttpCompressionMiddleware):
    """Scrapy's decompression; a body over DOWNLOAD_MAXSIZE once decompressed is ``too_large``."""

    refusal_reason = "too_large"
