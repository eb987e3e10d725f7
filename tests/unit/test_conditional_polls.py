"""Conditional polls (spiders/conditional.py): which validators a request carries, when a
response needs no parsing, and which validators a run keeps."""

from __future__ import annotations

import hashlib

from scrapy import Request
from scrapy.http import Response

from spiders.conditional import SOURCE_URL_META, ConditionalPolls
from storage.sources import Validators

FEED = "https://example.com/rss.xml"
BODY = b"<rss><channel><item><link>https://example.com/a</link></item></channel></rss>"


def polled(polls: ConditionalPolls) -> Request:
    request = Request(FEED)
    polls.prepare(request)
    return request


def test_a_request_sends_back_the_validators_of_the_last_finished_run() -> None:
    polls = ConditionalPolls({FEED: Validators('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT", "h")})
    request = polled(polls)
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Tue, 01 Dec 2026 10:00:00 GMT"
    assert request.meta["handle_httpstatus_list"] == [304]  # a 304 reaches the callback
    fresh = polled(ConditionalPolls({}))
    assert b"If-None-Match" not in fresh.headers and fresh.meta[SOURCE_URL_META] == FEED


def test_a_304_or_the_same_body_needs_no_parsing_and_keeps_its_validators() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    known = Validators('"v1"', None, digest)
    polls = ConditionalPolls({FEED: known})
    request = polled(polls)
    assert polls.unchanged(Response(FEED, status=304, request=request)) == "not_modified"
    assert polls.fresh[FEED] == known
    polls = ConditionalPolls({FEED: Validators(None, None, digest)})
    request = polled(polls)
    same = Response(FEED, body=BODY, headers={"ETag": '"v2"'}, request=request)
    assert polls.unchanged(same) == "unchanged"
    assert polls.fresh[FEED] == Validators('"v2"', None, digest)


def test_a_changed_body_counts_only_once_it_parsed() -> None:
    polls = ConditionalPolls({FEED: Validators(None, None, "old")})
    request = polled(polls)
    changed = Response(FEED, body=BODY + b" ", headers={"Last-Modified": "x"}, request=request)
    assert polls.unchanged(changed) is None
    assert polls.fresh == {}  # a feed that fails to parse is read whole next time
    polls.parsed(changed)
    assert polls.fresh[FEED].last_modified == "x"
    assert polls.fresh[FEED].body_hash == hashlib.sha256(BODY + b" ").hexdigest()


def test_a_child_sitemap_or_robots_txt_is_never_conditional() -> None:
    polls = ConditionalPolls({})
    child = Request("https://example.com/sitemap-2026.xml")  # not prepared: not declared
    assert polls.unchanged(Response(child.url, body=BODY, request=child)) is None
    polls.parsed(Response(child.url, body=BODY, request=child))
    assert polls.fresh == {}
