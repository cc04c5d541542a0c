"""Daily roll-ups of page events (DESIGN 1.7): what exports read once raw events are gone.

Before :mod:`collector.analytics.retention` deletes the raw events of a day, the day is rolled up:
one row per local day (in ``TIMEZONE``) and *cell*, a cell being every export dimension
plus site, kind and policy revision, with its hits and its distinct session and visitor
ids counted by SQL. A day is either all raw or all rolled up: the purge cutoff is the
start of a local day, and a day that has roll-up rows is read from them only, even while
the purge is still deleting its raw events.

Hits of a rolled-up day are exact for every combination of dimensions. Distinct counts
cannot be merged after the ids are gone: an export's visits and returning visitors on
rolled-up days are sums of the daily distinct counts of the cells it groups, and the
export says so (:data:`ROLLED_UP_NOTE`). Those sums overstate people (one visitor on five
days counts five times), so small-count suppression does not use them: a roll-up row
keeps its identified people and its hits without ids apart, and a cell's size is its hits
without ids plus the largest single row's identified people, a lower bound
(:func:`collector.analytics.query.size_of`).

Only page events (``pageview``, ``event``) roll up; email opens and clicks are reported
by campaign and are deleted with the raw events when their period ends.

A local day cannot be re-cut in another time zone once its raw events are gone, so the
event store records the zone its roll-ups are filed in (:func:`claim_timezone`). While
roll-ups exist, the purge refuses to roll up days in another ``TIMEZONE``, and an export
in another zone refuses to read days near them (:func:`check_export_timezone`); both say
which zone the roll-ups are in. Roll-ups made before the zone was recorded are taken to
be in the ``TIMEZONE`` of the first purge that records it.
"""

from __future__ import annotations

import functools
import os
import zoneinfo
from collections.abc import Callable
from datetime import date, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

from ..clock import day_bounds, local_day
from ..errors import ConfigError
from ..storage import EventStore
from .query import Query

#: Said in the export's notes whenever roll-ups were read.
ROLLED_UP_NOTE = (
    "Rolled-up days (raw events past their retention period): hits are exact, but visits "
    "and returning_visitors there are sums of daily distinct counts per roll-up cell (day "
    "and every dimension), so a session or visitor seen on several days, or in several "
    "cells folded into one row, counts more than once. Small-count suppression does not "
    "use these sums: it counts a cell's people as its hits without ids plus the largest "
    "single daily count of identified people of a roll-up cell in it (or its raw distinct "
    "count, if larger), a lower bound, so such a cell may be folded into (other) although "
    "its sums reach k.")

#: The ``store_meta`` key that names the time zone of the roll-ups.
TIMEZONE_KEY = "rollups_timezone"
#: Two local days in two time zones overlap only if their dates are less than this many
#: days apart (UTC offsets differ by at most 26 hours).
_ZONE_MARGIN = timedelta(days=2)


def roll_up_day(events: EventStore, day: date, tz: ZoneInfo) -> int:
    """Roll up the page events of one local day; returns how many roll-up rows were added.

    Atomic, and idempotent while the day's raw events are complete. It never overwrites a
    cell, so running it again over a day whose raw events are partly deleted (an
    interrupted purge, or two purges at once) cannot replace complete counts with partial
    ones: such a run only yields cells that exist.
    """
    start, end = day_bounds(day, tz)
    return events.roll_up(day.isoformat(), start, end)


def days_with_events(events: EventStore, before_ts: int, tz: ZoneInfo, *,
                     pages_only: bool = False) -> list[date]:
    """The local days, oldest first, that hold events stamped before ``before_ts``.

    One index seek per day that has events: empty stretches are jumped over.
    """
    days: list[date] = []
    ts = events.earliest_event(-(2**62), before_ts, pages_only)
    while ts is not None:
        day = local_day(ts, tz)
        days.append(day)
        _, end = day_bounds(day, tz)
        ts = events.earliest_event(end, before_ts, pages_only)
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
    :raises ConfigError: the roll-ups are filed in another zone than ``tz``.
    """
    check_cutoff(cutoff_ts, tz)
    days = days_with_events(events, cutoff_ts, tz, pages_only=True)
    if days:
        claim_timezone(events, tz)
    for done, day in enumerate(days, 1):
        roll_up_day(events, day, tz)
        if progress is not None:
            progress(done, len(days))
    return days


def rolled_up_days(events: EventStore, since: date, until: date) -> list[date]:
    """The days from ``since`` to ``until`` (inclusive) that are read from roll-ups."""
    return [date.fromisoformat(day)
            for day in events.rolled_up_days(since.isoformat(), until.isoformat())]


def rollups_timezone(events: EventStore) -> str | None:
    """The time zone the existing roll-ups are filed in; None while there are no roll-ups
    (or they predate the record: the next purge records its own ``TIMEZONE``)."""
    if events.last_rolled_up_day() is None:
        return None
    return events.get_meta(TIMEZONE_KEY)


def same_zone(a: str, b: str) -> bool:
    """Whether two time zone names are one zone: the same name, or aliases whose tz
    database entries are the same (``UTC`` and ``Etc/UTC``, ``Asia/Calcutta`` and
    ``Asia/Kolkata``), which cut days alike."""
    if a == b:
        return True
    data_a, data_b = _tzif(a), _tzif(b)
    return data_a is not None and data_a == data_b


@functools.lru_cache(maxsize=64)
def _tzif(key: str) -> bytes | None:
    """The tz database file of zone ``key``, where zoneinfo would find it."""
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, *key.split("/"))
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ImportError, OSError):
        return None


def check_purge_timezone(events: EventStore, tz: ZoneInfo) -> None:
    """Refuse to roll up days in ``tz`` while the roll-ups are filed in another zone.

    :raises ConfigError: (key ``TIMEZONE``) the zones differ; the message says which zone
        the roll-ups are in.
    """
    filed = rollups_timezone(events)
    if filed is not None and not same_zone(filed, tz.key):
        raise ConfigError("TIMEZONE", f"TIMEZONE is {tz.key}, but the roll-ups in the event "
                          f"store are filed by day in {filed}, and a day cannot be rolled "
                          f"up again in another zone; set TIMEZONE back to {filed} to "
                          "purge (see TIMEZONE in docs/configuration.md).")


def claim_timezone(events: EventStore, tz: ZoneInfo) -> None:
    """Record that roll-ups are filed in ``tz`` (before the first is written).

    :raises ConfigError: roll-ups exist in another zone (:func:`check_purge_timezone`).
    """
    check_purge_timezone(events, tz)
    events.set_meta(TIMEZONE_KEY, tz.key)


def check_export_timezone(events: EventStore, query: Query) -> None:
    """Refuse an export in another zone than the roll-ups when it reaches a rolled-up day
    (or a day next to one): its raw events are gone and the roll-up's day is another
    stretch of time, so hits would be lost or counted twice.

    :raises ConfigError: (key ``TIMEZONE``) naming the roll-ups' zone and the way out.
    """
    filed = rollups_timezone(events)
    if filed is None or same_zone(filed, query.timezone):
        return
    since = max(query.since, date.min + _ZONE_MARGIN) - _ZONE_MARGIN
    until = min(query.until, date.max - _ZONE_MARGIN) + _ZONE_MARGIN
    last_day = events.last_rolled_up_day()
    if last_day is not None and rolled_up_days(events, since, until):
        last = date.fromisoformat(last_day)
        raise ConfigError("TIMEZONE", f"The roll-ups of the days up to {last} are filed by "
                          f"day in {filed}, but this export is in {query.timezone} "
                          f"(TIMEZONE); export with TIMEZONE={filed}, or with --since "
                          f"{last + _ZONE_MARGIN + timedelta(days=1)} or later.")


__all__ = ["ROLLED_UP_NOTE", "TIMEZONE_KEY", "check_cutoff", "check_export_timezone",
           "check_purge_timezone", "claim_timezone", "day_bounds", "days_with_events",
           "local_day", "roll_up_before", "roll_up_day", "rolled_up_days", "rollups_timezone",
           "same_zone"]
