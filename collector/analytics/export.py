"""Reading aggregates: one query answered from raw events where they are kept and from
daily roll-ups where they are gone, folded by the suppression rule. Shared by
``cleargif export``, ``/api/v1/aggregate`` and the dashboard, so they show the same numbers.
"""

from __future__ import annotations

from typing import Any

from ..storage import CellQuery, EventStore
from . import rollups
from .query import Query, Result, cell_query, fold


def export(events: EventStore, query: Query, k_min: int) -> tuple[dict[str, Any], Result]:
    """Aggregate the query's events: ``(metadata, result)``.

    Raw events are grouped by the database for the days that have no roll-ups, roll-up
    rows for the days whose raw events were purged (:mod:`collector.analytics.rollups`);
    their cells are merged by key, then suppressed and folded.

    :raises ConfigError: the query reaches rolled-up days filed in another time zone
        (:func:`collector.analytics.rollups.check_export_timezone`).
    """
    rollups.check_export_timezone(events, query)
    since, until = query.since.isoformat(), query.until.isoformat()
    rolled = events.rolled_up_days(since, until)
    raw_query = cell_query(query, skip_days=rolled)
    raw = events.cells(raw_query) if raw_query else iter(())
    grouping = raw_query or CellQuery(by=query.by, ranges=(), where=query.filters,
                                      revision=query.revision,
                                      include_bots=query.include_bots)
    from_rollups = events.rollup_cells(grouping, since, until) if rolled else iter(())
    result = fold(raw, from_rollups, query.by, k_min,
                  lambda keys, excluding: events.union(grouping, keys, excluding=excluding))
    meta = query.describe(k_min)
    meta["suppressed_cells"] = result.suppressed_cells
    meta["other_suppressed"] = result.other_suppressed
    meta["rolled_up_days"] = len(rolled)
    if rolled:
        meta["notes"].append(rollups.ROLLED_UP_NOTE)
    return meta, result
