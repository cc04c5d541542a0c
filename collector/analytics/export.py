"""Reading aggregates from the event store: the glue between storage and
:mod:`collector.analytics.query`, shared by the CLI and the admin API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from ..storage import EventStore
from . import rollups
from .query import Query, Result, aggregate_events, event_filter

Progress = Callable[[Iterator[dict[str, Any]], int], Iterator[dict[str, Any]]]


def export(events: EventStore, query: Query, k_min: int,
           progress: Progress | None = None) -> tuple[dict[str, Any], Result]:
    """Aggregate the query's events: ``(metadata, result)``.

    Raw events are read for the days that have no roll-ups, roll-up rows for the days
    whose raw events were purged (:mod:`collector.analytics.rollups`), both into one aggregator.

    :param progress: wraps the stream of raw events, given how many there are (the CLI
        shows a progress bar on a terminal).
    :raises ConfigError: the query reaches rolled-up days filed in another time zone
        (:func:`collector.analytics.rollups.check_export_timezone`).
    """
    rollups.check_export_timezone(events, query)
    rolled = rollups.rolled_up_days(events, query.since, query.until)
    where, params = rollups.raw_filter(*event_filter(query), rolled, ZoneInfo(query.timezone))
    stream = events.iter_events(where, params)
    if progress is not None:
        (total,), = events.query(f"SELECT COUNT(*) FROM events WHERE {where}", params)
        stream = progress(stream, int(total))
    agg = aggregate_events(stream, query)
    if rolled:
        rollups.add_rollups(events, query, agg)
    result = agg.result(k_min)
    meta = query.describe(k_min)
    meta["suppressed_cells"] = result.suppressed_cells
    meta["other_suppressed"] = result.other_suppressed
    meta["rolled_up_days"] = len(rolled)
    if rolled:
        meta["notes"].append(rollups.ROLLED_UP_NOTE)
    return meta, result
