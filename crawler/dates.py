"""Dates from feeds, sitemaps and pages: parsed to timezone-aware UTC, future dates not believed."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from storage.clock import to_utc as to_utc
from storage.clock import utcnow as utcnow

#: Clocks disagree a little; a date further ahead than this is a mistake or a lie.
FUTURE_TOLERANCE = timedelta(hours=2)


def from_struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` fields are UTC struct_times."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_date(text: str | None) -> datetime | None:
    """W3C/ISO 8601 (sitemaps, page metadata) or RFC 822 (RSS); None when unparseable."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > 64:
        return None
    try:
        return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return to_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def believable(value: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date itself, or None when it lies in the future or before the web existed."""
    if value is None:
        return None
    value = to_utc(value)
    now = now or utcnow()
    if value > now + FUTURE_TOLERANCE or value.year < 1990:
        return None
    return value
