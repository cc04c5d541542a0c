"""Daily totals: every complete local day summarised by one dimension at a time, so that
long periods read a few thousand rows instead of every raw event (DESIGN 10: "a panel
answers from roll-ups").

Once a day the purge summarises each complete day (in ``TIMEZONE``) that still has raw
events: for every site, kind of event (page view, event) and bot or not, the hits and the
distinct sessions, visitors and people of each value of each dimension of
:data:`~collector.storage.DAILY_DIMENSIONS` (and of the day as a whole). The rows
are kept as long as roll-ups (``RETENTION_DAYS_ROLLUPS``).

An aggregate query asks for them with ``daily`` (the dashboard always does; ``cleargif
export --daily`` and ``/api/v1/aggregate?daily=1`` on request). Summarised days are then
read from them when one summarised dimension answers the query (:func:`dimension_for`),
the other days from raw events or roll-ups as ever. Hits stay exact. Distinct counts
cannot be added across days: visits and returning visitors of a period are sums of each
day's distinct counts, and a cell's size for suppression is a lower bound, as on roll-ups
(:data:`DAILY_NOTE`). Without ``daily`` an export counts distinct ids over the whole
period from raw events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from ..clock import day_bounds, local_day
from ..storage import DAILY_COLUMNS, DAILY_DIMENSIONS, EventStore
from . import rollups
from .query import Query

#: Said in the export's notes whenever daily totals were read.
DAILY_NOTE = (
    "Days read from daily totals (each complete day, once the daily purge has summarised "
    "it): hits are exact, but visits and returning_visitors there are sums of each day's "
    "distinct counts, so a session or visitor seen on several days counts once per day. "
    "Small-count suppression counts a cell's people as its hits without ids plus the "
    "largest single day's identified people (a lower bound), so such a cell may be folded "
    "into (other) although its sums reach k. Export without daily totals for distinct "
    "counts over the whole period.")
#: The ``store_meta`` key that names the time zone of the daily totals.
TIMEZONE_KEY = "daily_timezone"


def dimension_for(query: Query) -> str | None:
    """The summarised dimension whose daily rows answer ``query`` (``""`` for the day's
    totals), or None when they cannot: the query groups or filters by two dimensions
    (besides day, site and kind), by one that is not summarised, or by policy revision."""
    if query.revision is not None:
        return None
    named = {d for d in query.by if d not in DAILY_COLUMNS}
    named |= {name for name, _ in query.filters if name not in DAILY_COLUMNS}
    if not named:
        return ""
    if len(named) > 1:
        return None
    dimension = named.pop()
    return dimension if dimension in DAILY_DIMENSIONS else None


def usable(events: EventStore, query: Query) -> bool:
    """Whether the stored daily totals are cut in the query's time zone."""
    zone = events.get_meta(TIMEZONE_KEY)
    return zone is None or zone == query.timezone


def summarise(events: EventStore, tz: ZoneInfo, now: float, since: date | None = None,
              progress: Callable[[int, int], None] | None = None) -> int:
    """Summarise every complete local day before today (from ``since`` on, when given)
    that has raw page events and is not summarised yet; returns how many days were.

    Daily totals cut in another time zone are dropped first and made again from the raw
    events still kept (the days whose raw events are gone are then read from roll-ups).
    """
    zone = events.get_meta(TIMEZONE_KEY)
    if zone is not None and zone != tz.key:
        events.forget_daily()
    if zone != tz.key:
        events.set_meta(TIMEZONE_KEY, tz.key)
    today = local_day(now, tz)
    days = [day for day in rollups.days_with_events(events, day_bounds(today, tz)[0], tz,
                                                    pages_only=True)
            if since is None or day >= since]
    if not days:
        return 0
    done = set(events.summarised_days(days[0].isoformat(), days[-1].isoformat()))
    todo = [day for day in days if day.isoformat() not in done]
    for step, day in enumerate(todo, 1):
        summarise_day(events, day, tz, now)
        if progress is not None:
            progress(step, len(todo))
    return len(todo)


def summarise_day(events: EventStore, day: date, tz: ZoneInfo, now: float) -> int:
    """Summarise one local day; the rows added (0 when it was summarised already)."""
    start, end = day_bounds(day, tz)
    return events.summarise_day(day.isoformat(), start, end, int(now))
