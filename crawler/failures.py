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


def failure_reason(failure: Failure) -> tuple[str, str]:
    """A short, stable reason code for URL state, and a human detail."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}", str(exc.response.url)
    detail = str(exc)[:500]
    if isinstance(exc, RequestRefused):
        return exc.reason, detail
    if isinstance(exc, IgnoreRequest):
        return "ignored", detail
    for classes, reason in _REASONS:
        if isinstance(exc, classes):
            return reason, detail
    return type(exc).__name__[:64], detail  # unforeseen: the class names it


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
