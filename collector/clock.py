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
