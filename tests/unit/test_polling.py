"""Adaptive polling as pure functions: intervals from poll outcomes, the schedule's plan for a
source (judge, enqueue, lease, Retry-After), and the bounds read from outlet files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.polling import (
    RETRY_AFTER_CAP,
    PollOutcome,
    SourceState,
    next_interval,
    plan,
    retry_after_seconds,
)
from crawler.registry import OutletError, PollBounds, parse_outlet

BOUNDS = PollBounds(min_interval=60, max_interval=3600)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "outcome", "expected"),
    [
        (600, PollOutcome(items=20, new=15, errors=0), 300),  # mostly new: twice as often
        (600, PollOutcome(items=20, new=10, errors=0), 300),  # half new counts as most
        (600, PollOutcome(items=20, new=6, errors=0), 600),  # a fair share new: keep
        (600, PollOutcome(items=20, new=2, errors=0), 900),  # few new: less often
        (600, PollOutcome(items=20, new=0, errors=0), 1200),  # none new: half as often
        (600, PollOutcome(items=0, new=0, errors=0), 900),  # an empty feed
        (600, PollOutcome(items=0, new=0, errors=1), 1200),  # failed: back off
        (600, PollOutcome(items=20, new=0, errors=1), 1200),  # a child sitemap failed only
        (60, PollOutcome(items=20, new=20, errors=0), 60),  # never under the minimum
        (3000, PollOutcome(items=20, new=0, errors=0), 3600),  # never over the maximum
        (None, PollOutcome(items=5, new=5, errors=0), 60),  # first judgement starts at min
    ],
)
def test_next_interval(current: float | None, outcome: PollOutcome, expected: float) -> None:
    assert next_interval(current, BOUNDS, outcome) == expected


def test_repeated_failures_back_off_exponentially_to_the_maximum() -> None:
    interval: float | None = None
    seen = []
    for _ in range(8):
        interval = next_interval(interval, BOUNDS, PollOutcome(0, 0, 1))
        seen.append(interval)
    assert seen == [120, 240, 480, 960, 1920, 3600, 3600, 3600]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"120", 120.0),
        ("  30 ", 30.0),
        (b"Sat, 28 Nov 2026 13:00:00 GMT", 3600.0),
        (b"Sat, 28 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
        (b"99999999999", RETRY_AFTER_CAP),  # hostile: capped
        (b"-5", 0.0),
        (b"nan", None),
        (b"soon", None),
        (b"", None),
        (None, None),
    ],
)
def test_retry_after(header: bytes | str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, NOW) == expected


def test_first_poll_is_enqueued_at_once() -> None:
    p = plan(SourceState(), BOUNDS, NOW, lease=900)
    assert p.enqueue and p.reason == "first"
    assert p.state.poll_seq == 1 and p.state.enqueued_at == NOW


def test_answered_poll_is_judged_and_the_next_waits_its_interval() -> None:
    answered = SourceState(
        poll_interval=600,
        enqueued_at=NOW,
        poll_seq=3,
        polled_seq=3,
        applied_seq=2,
        poll_items=10,
        poll_new=0,
    )
    p = plan(answered, BOUNDS, NOW + timedelta(seconds=30), lease=900)
    assert not p.enqueue and p.reason == "waiting"
    assert p.state.poll_interval == 1200 and p.state.applied_seq == 3
    assert p.state.next_poll_at == NOW + timedelta(seconds=1200)
    assert p.state.poll_items == 0 and p.state.poll_new == 0  # counters start again
    due = plan(p.state, BOUNDS, NOW + timedelta(seconds=1200), lease=900)
    assert due.enqueue and due.reason == "due" and due.state.poll_seq == 4
    assert due.state.poll_interval == 1200  # judged once, not again


def test_poll_in_flight_waits_for_its_lease_then_counts_as_lost() -> None:
    queued = SourceState(poll_interval=60, enqueued_at=NOW, poll_seq=2, polled_seq=1, applied_seq=1)
    assert plan(queued, BOUNDS, NOW + timedelta(seconds=899), lease=900).reason == "in_flight"
    lost = plan(queued, BOUNDS, NOW + timedelta(seconds=901), lease=900)
    assert lost.enqueue and lost.reason == "lost" and lost.state.poll_seq == 3


def test_retry_after_holds_the_next_poll_back_past_the_maximum() -> None:
    throttled = SourceState(
        poll_interval=60,
        enqueued_at=NOW,
        retry_not_before=NOW + timedelta(hours=5),
        poll_seq=1,
        polled_seq=1,
        applied_seq=0,
        poll_errors=1,
    )
    p = plan(throttled, BOUNDS, NOW + timedelta(hours=2), lease=900)
    assert not p.enqueue and p.reason == "held" and p.state.error_streak == 1
    later = plan(p.state, BOUNDS, NOW + timedelta(hours=5, seconds=1), lease=900)
    assert later.enqueue and later.state.retry_not_before is None


def outlet(**extra: object) -> dict[str, object]:
    return {
        "id": "example",
        "name": "Example",
        "homepage": "https://example.com/",
        "language": "en",
        "allowed_domains": ["example.com"],
        "sources": [
            {"kind": "rss", "url": "https://example.com/a.xml"},
            {"kind": "rss", "url": "https://example.com/b.xml", "max_interval": 900},
        ],
        **extra,
    }


def test_poll_bounds_from_the_outlet_file() -> None:
    o = parse_outlet(outlet(polling={"min_interval": 120, "max_interval": 7200}), Path("x.toml"))
    assert o.sources[0].polling == PollBounds(120, 7200)
    assert o.sources[1].polling == PollBounds(120, 900)  # the source's own bound wins
    assert parse_outlet(outlet(), Path("x.toml")).sources[0].polling == PollBounds()


@pytest.mark.parametrize(
    ("polling", "problem"),
    [
        ({"min_interval": 0}, "polling.min_interval"),
        ({"max_interval": "1h"}, "polling.max_interval"),
        ({"min_interval": 600, "max_interval": 60}, "larger than max_interval"),
        ({"every": 60}, "polling.every: unknown key"),
    ],
)
def test_bad_poll_bounds_fail_naming_the_key(polling: dict[str, object], problem: str) -> None:
    with pytest.raises(OutletError, match=problem):
        parse_outlet(outlet(polling=polling), Path("x.toml"))


def test_refetch_schedule_from_settings_and_set() -> None:
    from crawler import settings
    from crawler.polling import refetch_schedule

    assert refetch_schedule(settings.NEWSCRAWL_REFETCH_AFTER) == ()  # off by default
    assert refetch_schedule([86400, 3600, "21600"]) == (3600.0, 21600.0, 86400.0)
    assert refetch_schedule("3600, 21600") == (3600.0, 21600.0)
    assert refetch_schedule("") == () and refetch_schedule([]) == ()
    for bad in ("an hour", [0], [-5], ["nan"], 3600):
        with pytest.raises(ValueError, match="NEWSCRAWL_REFETCH_AFTER"):
            refetch_schedule(bad)
