"""Reading aggregates from the event store: the glue between storage and
:mod:`collector.aggregate`, shared by the CLI and the admin API."""

from __future__ import annotations

from typing import Any

from .aggregate import Query, Result, aggregate_events, event_filter
from .storage import EventStore


def export(events: EventStore, query: Query, k_min: int) -> tuple[dict[str, Any], Result]:
    """Aggregate the query's events: ``(metadata, result)``."""
    where, params = event_filter(query)
    agg = aggregate_events(events.iter_events(where, params), query)
    result = agg.result(k_min)
    meta = query.describe(k_min)
    meta["suppressed_cells"] = result.suppressed_cells
    meta["other_suppressed"] = result.other_suppressed
    return meta, result
