"""Failures travel as typed values: reason codes by exception class, Scrapy's own refusals
raised as ``RequestRefused`` by the subclassed middlewares (built with ``get_crawler``)."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler
from twisted.internet import error as net
from twisted.python.failure import Failure

from crawler.failures import RequestRefused, TypedRedirectMiddleware, failure_reason


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (RequestRefused("offsite_redirect", "http://elsewhere.example/"), "offsite_redirect"),
        # a message that looks like one of our reasons is not one
        (IgnoreRequest("robots_disallowed: spoofed"), "ignored"),
        (net.DNSLookupError("no such host"), "dns_error"),
        (net.TCPTimedOutError(), "timeout"),
        (type("ProxyLost", (net.ConnectionLost,), {})(), "connection_lost"),  # a subclass
        (net.ConnectionRefusedError(), "connection_refused"),
        (ValueError("unforeseen"), "ValueError"),
    ],
)
def test_failure_reason_comes_from_the_exception_type(exc: Exception, reason: str) -> None:
    assert failure_reason(Failure(exc))[0] == reason


def test_too_many_redirects_is_a_typed_redirect_loop() -> None:
    crawler = get_crawler(settings_dict={"REDIRECT_MAX_TIMES": 1})
    middleware = TypedRedirectMiddleware.from_crawler(crawler)
    request = Request("http://a.example/1", meta={"redirect_times": 1, "redirect_ttl": 1})
    response = HtmlResponse(
        request.url, status=302, headers={"Location": "http://a.example/2"}, request=request
    )
    with pytest.raises(RequestRefused) as refused:
        middleware.process_response(request, response)
    assert refused.value.reason == "redirect_loop"


def test_run_failure_names_why_no_source_answered() -> None:
    from crawler.failures import FIRST_SOURCE_FAILURE, run_failure

    stats = {
        "newscrawl/source/failed": 3,
        "newscrawl/source/failed/robots_unreachable": 2,
        "newscrawl/source/failed/http_404": 1,
        FIRST_SOURCE_FAILURE: "http://x/rss.xml: robots_unreachable: dns_error: no such host",
    }
    assert run_failure("finished", stats) == (
        "no source answered (HTTP 404 x1, robots.txt unreachable x2); "
        "first: http://x/rss.xml: robots_unreachable: dns_error: no such host"
    )
    assert run_failure("finished", {**stats, "newscrawl/source/ok": 1}) is None  # one answered
    assert run_failure("finished", {"newscrawl/storage_error": "disk full"}) == (
        "storage error: disk full"
    )
    assert run_failure("finished", {}) is None
