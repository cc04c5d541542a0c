"""Daily roll-ups of page events (DESIGN 1.7): what exports read once raw events are gone.

Before :mod:`collector.retention` deletes the raw events of a day, the day is rolled up:
one row per local day (in ``TIMEZONE``) and *cell*, a cell being every export dimension
plus site, kind and policy revision, with its hits and its distinct session and visitor
ids counted by SQL. A day is either all raw or all rolled up: the purge cutoff is the
start of a local day, and a day that has roll-up rows is read from them only, even while
the purge is still deleting its raw events.

Hits of a rolled-up day are exact for every combination of dimensions. Distinct counts
cannot be merged after the ids are gone: an export's visits and returning visitors on
rolled-up days are sums of the daily distinct counts of the cells it groups, and the
export says so (:data:`ROLLED_UP_NOTE`).

Only page events (``pageview``, ``event``) roll up; email opens and clicks are reported
by campaign and are deleted with the raw events when their period ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .aggregate import DIMENSIONS, Aggregator, Query, QueryError
from .storage import EventStore

#: The event kinds that roll up (those the aggregate export reads).
PAGE_KINDS = ("pageview", "event")
#: The columns that make a roll-up cell, besides its day.
CELL = ("site", "kind", "path", "referrer_host", "browser", "os", "device", "lang",
        "utm_source", "utm_medium", "utm_campaign", "revision")
#: Said in the export's notes whenever roll-ups were read.
ROLLED_UP_NOTE = (
    "Rolled-up days (raw events past their retention period): hits are exact, but visits "
    "and returning_visitors there are sums of daily distinct counts per roll-up cell (day "
    "and every dimension), so a session or visitor seen on several days, or in several "
    "cells folded into one row, counts more than once.")

_PAGE = "kind IN ('pageview', 'event')"


def day_bounds(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of a local day as Unix seconds (23 or 25 hours on DST changes)."""
    start = datetime.combine(day, datetime.min.time(), tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def local_day(ts: float, tz: ZoneInfo) -> date:
    """The local day of a timestamp."""
    return datetime.fromtimestamp(ts, tz).date()


def day_ranges(days: Sequence[date], tz: ZoneInfo) -> list[tuple[int, int]]:
    """Sorted days as ``[start, end)`` ranges, consecutive days merged into one range."""
    ranges: list[tuple[int, int]] = []
    for day in sorted(days):
        start, end = day_bounds(day, tz)
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def roll_up_day(events: EventStore, day: date, tz: ZoneInfo) -> int:
    """Roll up the page events of one local day; returns how many roll-up rows were added.

    One ``INSERT OR IGNORE … SELECT`` statement: atomic, and idempotent while the day's raw
    events are complete. It never overwrites a cell, so running it again over a day whose
    raw events are partly deleted (an interrupted purge, or two purges at once) cannot
    replace complete counts with partial ones: such a run only yields cells that exist.
    """
    start, end = day_bounds(day, tz)
    cols = ", ".join(CELL)
    # NULLIF: the raw aggregation ignores empty ids too.
    return events.execute(
        f"INSERT OR IGNORE INTO rollups (day, {cols}, hits, visits, visitors) "
        f"SELECT ?, {cols}, COUNT(*), COUNT(DISTINCT NULLIF(session_id, '')), "
        f"COUNT(DISTINCT NULLIF(visitor_id, '')) FROM events "
        f"WHERE ts >= ? AND ts < ? AND {_PAGE} GROUP BY {cols}",
        (day.isoformat(), start, end))


def days_with_events(events: EventStore, before_ts: int, tz: ZoneInfo, *,
                     pages_only: bool = False) -> list[date]:
    """The local days, oldest first, that hold events stamped before ``before_ts``.

    One index seek per day that has events: empty stretches are jumped over.
    """
    kind = f" AND {_PAGE}" if pages_only else ""
    days: list[date] = []
    (first,), = events.query(f"SELECT MIN(ts) FROM events WHERE ts < ?{kind}", (before_ts,))
    ts = first
    while ts is not None:
        day = local_day(ts, tz)
        days.append(day)
        _, end = day_bounds(day, tz)
        (ts,), = events.query(f"SELECT MIN(ts) FROM events WHERE ts >= ? AND ts < ?{kind}",
                              (end, before_ts))
    return days


def check_cutoff(cutoff_ts: int, tz: ZoneInfo) -> None:
    """Refuse a cutoff that is not the start of a local day: a day must never be split
    between raw events and roll-ups."""
    if day_bounds(local_day(cutoff_ts, tz), tz)[0] != cutoff_ts:
        raise ValueError(f"The roll-up cutoff {cutoff_ts} is not the start of a day in "
                         f"{tz.key}; pass the start of a local day.")


def roll_up_before(events: EventStore, cutoff_ts: int, tz: ZoneInfo,
                   progress: Callable[[int, int], None] | None = None) -> list[date]:
    """Roll up every local day before ``cutoff_ts`` that still has raw page events.

    :param cutoff_ts: the start of a local day in ``tz``; days before it are about to be
        purged, the day it starts stays raw.
    :param progress: called with ``(days done, days in all)`` after each day.
    :returns: the days rolled up, oldest first.
    :raises ValueError: the cutoff is not the start of a local day.
    """
    check_cutoff(cutoff_ts, tz)
    days = days_with_events(events, cutoff_ts, tz, pages_only=True)
    for done, day in enumerate(days, 1):
        roll_up_day(events, day, tz)
        if progress is not None:
            progress(done, len(days))
    return days


def rolled_up_days(events: EventStore, since: date, until: date) -> list[date]:
    """The days from ``since`` to ``until`` (inclusive) that are read from roll-ups."""
    return [date.fromisoformat(day) for (day,) in events.query(
        "SELECT DISTINCT day FROM rollups WHERE day >= ? AND day <= ? ORDER BY day",
        (since.isoformat(), until.isoformat()))]


def raw_filter(where: str, params: Sequence[Any], days: Sequence[date],
               tz: ZoneInfo) -> tuple[str, list[Any]]:
    """An event filter extended to leave out the given (rolled-up) days."""
    out, values = where, list(params)
    for start, end in day_ranges(days, tz):
        out += " AND NOT (ts >= ? AND ts < ?)"
        values += [start, end]
    return out, values


def add_rollups(events: EventStore, query: Query, agg: Aggregator) -> int:
    """Add the query's roll-up rows to ``agg``, with the query's filters; returns how many
    grouped rows were added.

    Roll-up days are local days in the ``TIMEZONE`` of the purge that wrote them; exports
    use the same ``TIMEZONE``.
    """
    for d in query.by:
        if d not in DIMENSIONS:  # column names are interpolated below
            raise QueryError(f"Unknown dimension {d[:40]!r}; choose from "
                             + ", ".join(DIMENSIONS) + ".")
    where = ["day >= ?", "day <= ?", _PAGE]
    params: list[Any] = [query.since.isoformat(), query.until.isoformat()]
    if query.revision is not None:
        where.append("revision = ?")
        params.append(query.revision)
    if not query.include_bots:
        where.append("(device IS NULL OR device != 'bot')")
    cols = ", ".join(query.by)
    sql = (f"SELECT {cols + ', ' if cols else ''}SUM(hits), SUM(visits), SUM(visitors) "
           f"FROM rollups WHERE {' AND '.join(where)}")
    if cols:
        sql += f" GROUP BY {cols}"
    added = 0
    for row in events.query(sql, params):
        *key, hits, visits, visitors = row
        if not hits:  # no roll-up row matched (an aggregate without GROUP BY gives NULLs)
            continue
        agg.add_counts(tuple(key), int(hits), int(visits), int(visitors))
        added += 1
    return added


__all__ = ["CELL", "PAGE_KINDS", "ROLLED_UP_NOTE", "add_rollups", "check_cutoff",
           "day_bounds", "day_ranges", "days_with_events", "local_day", "raw_filter",
           "roll_up_before", "roll_up_day", "rolled_up_days"]
