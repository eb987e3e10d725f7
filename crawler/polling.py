"""Adaptive feed polling, as pure functions: when to poll a source next, given what its last
poll found. ``newscrawl schedule`` applies them to the state stored with each source; workers
only add up what each poll held (see ``storage.sources.record_poll``).

- Most items new (half or more): the source publishes faster than we poll; halve the interval.
- Few new (under a fifth): poll less often, by half as much again (twice as long when none).
- A failed poll doubles the interval (so repeated failures back off exponentially).
- Always within the source's bounds; a server's Retry-After (429/503) holds the next poll back
  even past the maximum, up to a day.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from crawler.registry import PollBounds
from storage.sources import SourceState as SourceState

#: A Retry-After beyond this is taken as this: a hostile or broken header must not switch a
#: source off for years.
RETRY_AFTER_CAP = 24 * 3600.0


@dataclass(frozen=True)
class PollOutcome:
    items: int  # article entries the poll listed, known ones included
    new: int  # entries never discovered before
    errors: int  # responses of the poll that failed or could not be parsed

    @property
    def failed(self) -> bool:
        return self.errors > 0 and self.items == 0


def next_interval(current: float | None, bounds: PollBounds, outcome: PollOutcome) -> float:
    """The wait before the next poll, in seconds, from the last poll's outcome."""
    interval = bounds.min_interval if current is None else current
    if outcome.failed:
        interval *= 2
    elif outcome.items == 0:
        interval *= 1.5
    else:
        share = outcome.new / outcome.items
        if share >= 0.5:
            interval /= 2
        elif outcome.new == 0:
            interval *= 2
        elif share < 0.2:
            interval *= 1.5
    return min(max(interval, bounds.min_interval), bounds.max_interval)


def retry_after_seconds(value: bytes | str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (a number, or an HTTP date), capped; None if absent
    or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


@dataclass(frozen=True)
class PollPlan:
    """What one schedule run does to a source: judge the poll that came back (new interval
    and next poll time), and enqueue a poll when one is due."""

    state: SourceState  # the state to store
    enqueue: bool
    reason: str  # due, first, lost (re-enqueued after the lease), waiting, in_flight, held


def plan(state: SourceState, bounds: PollBounds, now: datetime, lease: float) -> PollPlan:
    """Pure: the schedule's decision for one source at ``now``. ``lease`` is how long an
    enqueued poll may take before it counts as lost (a worker died holding it)."""
    s = state
    if s.polled_seq > s.applied_seq:  # a poll came back: judge it
        outcome = PollOutcome(s.poll_items, s.poll_new, s.poll_errors)
        interval = next_interval(s.poll_interval, bounds, outcome)
        started = s.enqueued_at or now
        s = replace(
            s,
            poll_interval=interval,
            next_poll_at=started + timedelta(seconds=interval),
            applied_seq=s.polled_seq,
            poll_items=0,
            poll_new=0,
            poll_errors=0,
            error_streak=s.error_streak + 1 if outcome.failed else 0,
        )
    in_flight = s.poll_seq > s.polled_seq
    if in_flight:
        if s.enqueued_at is not None and s.enqueued_at + timedelta(seconds=lease) > now:
            return PollPlan(s, False, "in_flight")
        reason = "lost"
    elif s.poll_seq == 0:
        reason = "first"
    elif s.next_poll_at is not None and s.next_poll_at > now:
        return PollPlan(s, False, "waiting")
    else:
        reason = "due"
    if s.retry_not_before is not None and s.retry_not_before > now:
        return PollPlan(s, False, "held")
    enqueued = replace(s, enqueued_at=now, retry_not_before=None, poll_seq=s.poll_seq + 1)
    return PollPlan(enqueued, True, reason)


def refetch_schedule(value: object) -> tuple[float, ...]:
    """``NEWSCRAWL_REFETCH_AFTER``: seconds after an article was first stored at which it is
    fetched again (a list, or "3600,21600,86400" from ``--set``); empty: no schedule.
    ``ValueError`` for anything but positive numbers."""
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"NEWSCRAWL_REFETCH_AFTER: not a list of seconds: {value!r}")
    try:
        steps = tuple(float(x) for x in items if str(x).strip())
    except (TypeError, ValueError):
        raise ValueError(f"NEWSCRAWL_REFETCH_AFTER: not a list of seconds: {value!r}") from None
    if any(not 0 < x < float("inf") for x in steps):
        raise ValueError(f"NEWSCRAWL_REFETCH_AFTER: seconds must be positive: {value!r}")
    return tuple(sorted(steps))
