"""A fault-injecting SQLite for real server processes, where the test cannot mount a small
file system to fill: ``python -c "import tests.faults as f; f.main()" serve …`` runs the
collector's command line with every SQLite write failing as on a full disk while the file
named by ``TEST_FULL_DISK_MARKER`` exists (the stores and their SQL are the real ones)."""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any

#: Names the marker file; its existence means "the disk is full".
MARKER_ENV = "TEST_FULL_DISK_MARKER"
WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE", "REPLACE", "CREATE", "DROP")


class FullDiskConnection(sqlite3.Connection):
    """A connection whose writes fail with SQLite's own disk-full error while the marker
    file exists."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        marker = os.environ.get(MARKER_ENV, "")
        head = sql.lstrip().upper()
        writes = head.startswith(WRITES) or (head.startswith("PRAGMA USER_VERSION")
                                             and "=" in head)
        if marker and os.path.exists(marker) and writes:
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


def install() -> None:
    """Make every later ``sqlite3.connect`` return a :class:`FullDiskConnection`."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", FullDiskConnection)
        return real(*args, **kwargs)

    sqlite3.connect = connect  # type: ignore[assignment]


def main() -> None:
    """Run ``cleargif`` with the faulty SQLite (gunicorn forks, so workers inherit it)."""
    install()
    from collector.cli.main import main as cleargif

    cleargif(sys.argv[1:])
