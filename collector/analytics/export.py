"""Reading aggregates: one query answered from raw events where they are kept, from daily
roll-ups where they are gone, and (when the query asks for ``daily``) from daily totals
where a day is summarised, folded by the suppression rule. Shared by ``cleargif export``,
``/api/v1/aggregate`` and the dashboard, so they show the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from itertools import chain
from typing import Any

from ..storage import CellCounts, CellQuery, EventStore
from . import daily, rollups
from .query import Query, Result, cell_query, fold


def export(events: EventStore, query: Query, k_min: int) -> tuple[dict[str, Any], Result]:
    """Aggregate the query's events: ``(metadata, result)``.

    Each day is read from one source: with ``query.daily``, from daily totals where the
    day is summarised and one summarised dimension answers the query
    (:mod:`collector.analytics.daily`); else from roll-ups where its raw events were
    purged (:mod:`collector.analytics.rollups`); else from raw events, grouped by the
    database, which also lists the ids of the cells too small to show. The cells are
    merged by key, then suppressed and folded.

    :raises ConfigError: the query reaches rolled-up days filed in another time zone
        (:func:`collector.analytics.rollups.check_export_timezone`).
    """
    rollups.check_export_timezone(events, query)
    since, until = query.since.isoformat(), query.until.isoformat()
    rolled = events.rolled_up_days(since, until)
    dimension = (daily.dimension_for(query)
                 if query.daily and daily.usable(events, query) else None)
    summarised = events.summarised_days(since, until) if dimension is not None else []
    raw_query = cell_query(query, skip_days={*rolled, *summarised})
    raw = events.cells(raw_query, ids_below=k_min) if raw_query else iter(())
    grouping = raw_query or CellQuery(by=query.by, ranges=(), where=query.filters,
                                      revision=query.revision,
                                      include_bots=query.include_bots)
    # Each day from one source: daily totals where summarised, else roll-ups, else raw.
    rolled_only = sorted(set(rolled) - set(summarised))
    parts: list[Iterable[CellCounts]] = [events.rollup_cells(grouping, first, last)
                                         for first, last in _runs(rolled_only)]
    if dimension is not None and summarised:
        parts.append(events.daily_cells(grouping, dimension, since, until))
    result = fold(raw, chain.from_iterable(parts), query.by, k_min)
    meta = query.describe(k_min)
    meta["suppressed_cells"] = result.suppressed_cells
    meta["other_suppressed"] = result.other_suppressed
    meta["rolled_up_days"] = len(rolled_only)
    meta["daily_days"] = len(summarised)
    if rolled_only:
        meta["notes"].append(rollups.ROLLED_UP_NOTE)
    if summarised:
        meta["notes"].append(daily.DAILY_NOTE)
    return meta, result


def _runs(days: list[str]) -> list[tuple[str, str]]:
    """Sorted ISO days as ``(first, last)`` runs of consecutive days."""
    runs: list[tuple[str, str]] = []
    for label in days:
        if runs and date.fromisoformat(runs[-1][1]) + timedelta(days=1) == \
                date.fromisoformat(label):
            runs[-1] = (runs[-1][0], label)
        else:
            runs.append((label, label))
    return runs
