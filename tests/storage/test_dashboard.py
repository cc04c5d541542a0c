"""The storage the dashboard asks for. Each class runs on every backend (the PostgreSQL
suite re-runs them with the ``events_store`` and ``identity_store`` fixtures overridden)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from collector.storage import open_events
from collector.storage.sqlite import SQLiteEvents


def test_sqlite_reads_a_filtered_range_by_its_days(tmp_path: Path) -> None:
    """Every dashboard query filters by site; on SQLite the filter must not choose the plan
    (an automatic index on ``site`` searched once per day made a year take minutes)."""
    from collector.analytics.query import Query, cell_query

    store = open_events(f"sqlite:///{tmp_path}/events.db")
    assert isinstance(store, SQLiteEvents)
    store.migrate()
    query = Query(since=date(2025, 3, 1), until=date(2026, 2, 28), by=("path",),
                  filters=(("site", "www.example.com"), ("browser", None)), revision=1)
    sql, params = store._cell_sql(cell_query(query), "e.path, COUNT(*)")
    plan = " | ".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    store.close()
    assert "USING INDEX events_ts" in plan and "AUTOMATIC" not in plan, plan
