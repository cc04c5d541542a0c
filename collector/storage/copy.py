"""Moving both stores from one backend to another (``cleargif copy``): SQLite to
PostgreSQL when a site outgrows one machine, or back.

Tables move in batches through the stores' own methods (no SQL here). Rows keep their
values, ids included, and a row whose key the destination holds already is left alone, so
an interrupted copy runs again to finish: append-only tables (events, receipts, audit)
resume after the largest id the destination holds. At the end the row counts of every
table are compared and the receipt chain is checked where it landed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .protocols import Store

#: Rows per batch: each batch is one transaction at the destination.
BATCH = 5000

#: ``progress(table, done, total)``, for a progress bar.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class TableCopy:
    """What happened to one table."""

    table: str
    copied: int  #: rows added at the destination
    source: int  #: rows at the source
    destination: int  #: rows at the destination afterwards

    @property
    def complete(self) -> bool:
        """Whether the destination holds as many rows as the source."""
        return self.destination == self.source

    def line(self) -> str:
        """``events: 1200 rows copied; source 1200, destination 1200 (complete)``."""
        verdict = "complete" if self.complete else "COUNTS DIFFER"
        rows = "row" if self.copied == 1 else "rows"
        return (f"{self.table}: {self.copied} {rows} copied; source {self.source}, "
                f"destination {self.destination} ({verdict})")


def copy_store(source: Store, destination: Store, *, batch: int = BATCH,
               progress: Progress | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` (migrated first) into ``destination``.

    :raises StorageError: either store cannot be used; what was copied stays copied.
    """
    source.migrate()
    destination.migrate()
    results = []
    for table in source.copy_tables():
        if table not in destination.copy_tables():
            continue  # the SDK's remember-me tables exist only once a host used them
        there = set(destination.table_columns(table))
        columns = [c for c in source.table_columns(table) if c in there]
        total = source.count_rows(table)
        start = destination.last_id(table)
        copied = done = 0
        cursor = None
        while True:
            rows, cursor = source.read_rows(table, columns, cursor, batch, from_id=start)
            if rows:
                copied += destination.write_rows(table, columns, rows)
                done += len(rows)
                if progress is not None:
                    progress(table, min(done, total), total)
            if cursor is None:
                break
        results.append(TableCopy(table, copied, total, destination.count_rows(table)))
    destination.after_copy()
    return results
