"""The one clock of the collector, so tests can move time with ``monkeypatch``, and the
local days of ``TIMEZONE`` that reports, roll-ups and retention cut time into."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def now() -> float:
    """The current time in seconds since the epoch."""
    return time.time()


def local_day(ts: float, tz: ZoneInfo) -> date:
    """The local day of a timestamp."""
    return datetime.fromtimestamp(ts, tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of a local day as Unix seconds (23 or 25 hours on DST changes)."""
    start = datetime.combine(day, datetime.min.time(), tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def utc_offsets(start: int, end: int, tz: ZoneInfo) -> tuple[tuple[int, int], ...]:
    """The UTC offsets of ``tz`` over ``[start, end)``: ``(from, seconds)`` pairs in
    order, the first from the beginning of time, each later one from the exact second a
    change (DST) takes effect. Offsets are sampled a day apart and each change found by
    bisection, so a change undone within the same day is not seen."""
    def offset(ts: int) -> int:
        delta = datetime.fromtimestamp(ts, tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found = [(-(2**62), offset(start))]
    at = start
    while at < end:
        step = min(at + 86400, end)
        if offset(step) != found[-1][1]:
            low, high = at, step  # offset(low) is the old one, offset(high) the new
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == found[-1][1]:
                    low = middle
                else:
                    high = middle
            found.append((high, offset(high)))
        at = step
    return tuple(found)
