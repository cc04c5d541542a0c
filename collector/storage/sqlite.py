"""The SQLite backend: one file per store, WAL, a connection per thread opened after fork.

Durability: every write commits before it returns. In WAL mode ``synchronous=NORMAL``
survives the death of the process (``kill -9``) but not a power cut; ``SYNC=full`` makes
each commit wait for the disk. Several processes write at once; ``BEGIN IMMEDIATE`` and
a busy timeout serialise them without "database is locked" errors.

The schema is the numbered migrations under ``schema/sqlite/``; each new connection
checks the file's version and applies what is missing under the write lock, so several
processes opening a file at once apply each step once.
"""

from __future__ import annotations

import fcntl
import operator
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from functools import cache
from typing import Any

from sdk.sqlite import SQLiteFile, real_threads

from ..errors import ConfigError, StorageError
from ..ingest.records import FIELDS
from . import mailsql, receiptsql
from .cellsql import (
    SQLITE,
    CellSQL,
    daily_read,
    rolled_up,
    rollup_counts,
    summarise_day,
    summarise_params,
)
from .migrations import migrations, too_new
from .protocols import (
    GENESIS,
    AuditRow,
    Burst,
    CellCounts,
    CellQuery,
    ConsentCounts,
    EmailCount,
    ReceiptRow,
    ReceiptSigner,
    Suppression,
    SuppressionRow,
    TokenRow,
    TombstoneSealer,
    UserRow,
)

PAGE_KINDS = ("pageview", "event")
#: The columns of a roll-up cell, besides its day (what :meth:`SQLiteEvents.roll_up`
#: groups by).
ROLLUP_CELL = ("site", "kind", "name", "path", "referrer_host", "browser", "os", "device",
               "lang", "utm_source", "utm_medium", "utm_campaign", "revision")


#: The oldest SQLite the stores run on: aggregates with ``FILTER`` came in 3.30.
OLDEST_SQLITE = (3, 30, 0)


def check_sqlite(setting: str, version: tuple[int, int, int] | None = None) -> None:
    """Refuse an SQLite library (``version``, by default the one Python uses) too old for
    the stores, or built without its JSON functions, naming the setting that chose SQLite.

    :raises ConfigError: with a sentence saying what to do instead.
    """
    version = version or sqlite3.sqlite_version_info
    if version < OLDEST_SQLITE:
        raise ConfigError(setting, f"{setting} names an SQLite file, but this Python's "
                          f"sqlite3 module uses SQLite {'.'.join(map(str, version))} and "
                          "cleargif needs 3.30 or newer: use a Python built with a newer "
                          "SQLite, or PostgreSQL.")
    if not _has_json():
        raise ConfigError(setting, f"{setting} names an SQLite file, but this Python's "
                          "SQLite lacks its JSON functions, which cleargif needs: use a "
                          "Python built with an SQLite that has them (3.38 and newer "
                          "always do), or PostgreSQL.")


@cache
def _has_json() -> bool:
    """Whether the SQLite library has its JSON functions (asked once per process)."""
    with closing(sqlite3.connect(":memory:")) as db:
        try:
            db.execute("SELECT json_array_length('[]')")
        except sqlite3.Error:
            return False
    return True


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class _Store(SQLiteFile):
    """A store on one SQLite file, its schema kept by numbered migrations."""

    #: ``events`` or ``identity``: which migrations apply.
    kind = ""
    #: Extra pragmas run on every new connection, before the migrations.
    pragmas: tuple[str, ...] = ()

    def __init__(self, path: str, *, sync: str = "normal") -> None:
        super().__init__(path, pragmas=self.pragmas, sync=sync, prepare=self._prepare,
                         hint="Check that DATA_DIR exists and is writable.")
        #: The migrations this process applied, in order (for ``cleargif migrate``).
        self.applied: list[int] = []

    # --- schema ------------------------------------------------------------------------
    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                             "'schema_migrations'").fetchone()
        if not found:
            return 0
        (version,), = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(version)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        steps = migrations("sqlite", self.kind)
        current = self._version(conn)
        if current > len(steps):
            raise too_new(f"{self.kind} store {self.location}", current, len(steps))
        if current < len(steps):
            self.applied += self._apply(conn)

    def _apply(self, conn: sqlite3.Connection) -> list[int]:
        """Apply the missing migrations in one write transaction: DDL is transactional in
        SQLite, so a step either happens whole or not at all."""
        steps = migrations("sqlite", self.kind)
        applied = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                         "PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
            current = self._version(conn)  # again, under the lock: another process may
            if current > len(steps):       # have migrated meanwhile
                raise too_new(f"{self.kind} store {self.location}", current, len(steps))
            for step in steps[current:]:
                for statement in _statements(step.sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                             "VALUES (?, ?, ?)", (step.version, step.name, int(time.time())))
                applied.append(step.version)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return applied

    def migrate(self) -> list[int]:
        """Apply the migrations this file lacks (creating it if it does not exist)."""
        before = len(self.applied)
        try:
            conn = self.conn  # a new connection migrates in _prepare
            if self._version(conn) < len(migrations("sqlite", self.kind)):
                self.applied += self._apply(conn)
            return self.applied[before:]
        except sqlite3.Error as exc:
            raise StorageError(f"Migrating {self.path} failed: {exc}.") from exc

    def schema_version(self) -> int:
        """The newest migration applied to the file."""
        try:
            return self._version(self.conn)
        except sqlite3.Error as exc:
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc

    # --- plumbing ----------------------------------------------------------------------
    @property
    def location(self) -> str:
        """The file's absolute path."""
        return os.path.abspath(self.path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return os.path.exists(self.path)

    def ping(self) -> None:
        """Check that the file can be read (and its schema is there)."""
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"The SQLite store {self.path} does not answer: {exc}.") from exc

    def check_writable(self) -> None:
        """Commit a transaction that rewrites the file's ``user_version`` with its own value:
        SQLite writes the header page to the write-ahead log whatever the value, so this
        fails as a real write would, and changes nothing (cleargif keeps its schema
        version in a table)."""
        try:
            with self.transaction() as conn:
                (version,), = conn.execute("PRAGMA user_version").fetchall()
                conn.execute(f"PRAGMA user_version = {int(version)}")
        except sqlite3.Error as exc:
            self._failed(exc)
            raise StorageError(f"The SQLite store {self.path} cannot commit a write: "
                               f"{exc}.") from exc

    def _failed(self, exc: sqlite3.Error) -> None:
        """After a failed write, open a new connection next time, unless another writer
        merely held the lock: a connection opened while the file was read-only, or one
        that met a disk error, may never write again."""
        message = str(exc).lower()
        if "locked" not in message and "busy" not in message:
            self.discard()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row."""
        return self._rows(sql, params)[0][0]

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One write statement in its own transaction; the rows it touched."""
        try:
            with self.transaction() as conn:
                return conn.execute(sql, tuple(params)).rowcount
        except sqlite3.Error as exc:
            self._failed(exc)
            raise StorageError(f"Writing {self.path} failed: {exc}.") from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction whose SQLite errors become :class:`StorageError`."""
        try:
            with self.transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            self._failed(exc)
            raise StorageError(f"Writing {self.path} failed: {exc}.") from exc

    def _batches(self, sql: str, params: Sequence[Any], batch: int) -> int:
        """Run a ``… LIMIT batch`` write until it touches fewer than ``batch`` rows, each
        run its own short transaction so hits keep flowing."""
        total = 0
        while True:
            n = self._write(sql, (*params, int(batch)))
            total += n
            if n < batch:
                return total

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """``flock`` on ``<file>.<name>.lock`` beside the database: every process using
        this file uses that lock file."""
        path = f"{self.path}.{name}.lock"
        try:
            folder = os.path.dirname(path) or "."
            os.makedirs(folder, mode=0o700, exist_ok=True)
            handle = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"Cannot create the {name} lock {os.path.abspath(path)} "
                               f"({exc.strerror}); check that its folder exists and is "
                               "writable.") from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)

    # --- moving between backends ------------------------------------------------------
    #: Tables ``cleargif copy`` moves, in order, and their id column when append-only.
    copied: tuple[tuple[str, str | None], ...] = ()

    def copy_tables(self) -> list[str]:
        """The tables to copy that exist in this file."""
        present = {name for (name,) in self._rows(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return [name for name, _ in self.copied if name in present]

    def _copied(self, table: str) -> str | None:
        ids = dict(self.copied)
        if table not in ids:
            raise ValueError(f"{table!r} is not a table cleargif copies.")
        return ids[table]

    def table_columns(self, table: str) -> list[str]:
        """The columns of a table."""
        self._copied(table)
        return [row[1] for row in self._rows(f"PRAGMA table_info({table})")]

    def count_rows(self, table: str) -> int:
        """How many rows a table holds."""
        self._copied(table)
        return int(self._one(f"SELECT COUNT(*) FROM {table}"))

    def last_id(self, table: str) -> int | None:
        """The largest id of an append-only table."""
        key = self._copied(table)
        if key is None:
            return None
        found = self._one(f"SELECT MAX({key}) FROM {table}")
        return None if found is None else int(found)

    def read_rows(self, table: str, columns: Sequence[str], after: Any, limit: int,
                  from_id: int | None = None) -> tuple[list[tuple[Any, ...]], Any]:
        """Rows in rowid order (ids of append-only tables are their rowids)."""
        self._copied(table)
        known = set(self.table_columns(table))
        if not set(columns) <= known:
            raise ValueError(f"{table} has no column {sorted(set(columns) - known)[0]!r}.")
        start = after if after is not None else (from_id if from_id is not None else -2**63)
        rows = self._rows(f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? "
                          "ORDER BY rowid LIMIT ?", (start, int(limit)))
        cursor = rows[-1][0] if len(rows) == limit else None
        return [tuple(row[1:]) for row in rows], cursor

    def write_rows(self, table: str, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]]) -> int:
        """``INSERT OR IGNORE`` the rows in one transaction."""
        self._copied(table)
        known = set(self.table_columns(table))
        if not set(columns) <= known:
            raise ValueError(f"{table} has no column {sorted(set(columns) - known)[0]!r}.")
        with self._writing() as conn:
            before = conn.total_changes
            conn.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES "
                             f"({_placeholders(columns)})", rows)
            return conn.total_changes - before

    def after_copy(self) -> None:
        """Nothing: SQLite takes the next id from the largest one."""

    def flush_deleted(self, attempts: int = 3) -> bool:
        """Copy the WAL into the database and truncate it to zero bytes, so that the old
        page images it holds (deleted data among them) leave the disk. Deleted cells are
        zeroed in the file itself (``secure_delete``, see :mod:`sdk.sqlite`).

        Returns False when readers kept part of the WAL in use on every attempt (each
        waits up to the busy timeout); the next checkpoint completes the work.
        """
        try:
            for _ in range(max(1, attempts)):
                busy, _log, _done = self.conn.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
        except sqlite3.Error as exc:
            raise StorageError(f"Checkpointing {self.path} failed: {exc}.") from exc
        return False


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script, one at a time (``executescript`` would commit
    the migration's transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statement = pending.strip()
            pending = ""
            if statement and not all(part.strip().startswith("--") or not part.strip()
                                     for part in statement.splitlines()):
                yield statement
    if pending.strip() and not all(part.strip().startswith("--") or not part.strip()
                                   for part in pending.splitlines()):
        raise RuntimeError(f"A migration ends with an unfinished statement: {pending[:80]!r}")


CHECKPOINT_SECONDS = 1.0


class _Checkpointer:
    """A daemon thread that moves the WAL into the database every second (PASSIVE: it
    never blocks writers), started by the first write of each process.

    An operating-system thread even in a gevent worker (:func:`sdk.sqlite.real_threads`):
    SQLite lets go of the GIL while it copies and syncs, so the checkpoint runs beside the
    requests instead of stopping every greenlet of the worker for the length of a fsync.
    """

    def __init__(self, store: SQLiteEvents) -> None:
        self.pid = os.getpid()
        self.stopped = False
        threads = real_threads()
        self._sleep = threads.sleep
        threads.start(self._run, (store,))

    def stop(self) -> None:
        """Let the thread end after its current wait."""
        self.stopped = True

    def _run(self, store: SQLiteEvents) -> None:
        while True:
            self._sleep(CHECKPOINT_SECONDS)
            if self.stopped:
                return
            try:
                store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except (sqlite3.Error, StorageError):
                # The store is closed, gone or failing (writes report their own errors):
                # end here, and let the next write start a checkpointer anew.
                store.checkpointer_ended(self)
                return


def _event_values(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """The record's values in column order (missing fields are NULL)."""
    try:
        values: tuple[Any, ...] = _FIELD_VALUES(record)
        return values
    except KeyError:
        return tuple(record.get(f) for f in FIELDS)


_FIELD_VALUES = operator.itemgetter(*FIELDS)
_INSERT_EVENT = (f"INSERT INTO events ({', '.join(FIELDS)}) "
                 f"VALUES ({', '.join('?' for _ in FIELDS)})")
_EVENT_COLUMNS = ", ".join(FIELDS)


class SQLiteEvents(_Store):
    """The event store on SQLite.

    Each hit commits its own small transaction, so most of a hit's cost is the pages it
    writes to the WAL: pages of 1 KiB (for a new file) keep that small. WAL checkpoints,
    which fsync the database file, run in a background thread of each process
    (:data:`CHECKPOINT_SECONDS`) instead of inside whichever hit crosses the threshold;
    a large automatic threshold remains as a safety net.
    """

    kind = "events"
    pragmas = ("page_size = 1024", "wal_autocheckpoint = 20000")
    copied = (("events", "id"), ("campaign_sends", "id"), ("dropped", None),
              ("rollups", None), ("store_meta", None), ("daily_cells", "id"),
              ("daily_days", None))

    def __init__(self, path: str, *, sync: str = "normal") -> None:
        super().__init__(path, sync=sync)
        self._checkpointer: _Checkpointer | None = None

    def checkpointer_ended(self, checkpointer: _Checkpointer) -> None:
        """Forget a checkpointer whose thread ended, so the next write starts another."""
        if self._checkpointer is checkpointer:
            self._checkpointer = None

    def close(self) -> None:
        """Stop this process's checkpointer and close its connections."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        super().close()

    # --- the hit path ------------------------------------------------------------------
    def add_event(self, record: Mapping[str, Any]) -> None:
        """Insert and commit one record before returning."""
        if self._checkpointer is None or self._checkpointer.pid != os.getpid():
            self._checkpointer = _Checkpointer(self)
        try:
            # One statement in autocommit mode is its own durable transaction.
            self.conn.execute(_INSERT_EVENT, _event_values(record))
        except sqlite3.Error as exc:
            self._failed(exc)
            raise StorageError(f"Writing an event to {self.path} failed: {exc}.") from exc

    def count_dropped(self, day: str, reason: str) -> None:
        """Add one to the dropped counter of ``(day, reason)``."""
        self._write("INSERT INTO dropped (day, reason, n) VALUES (?, ?, 1) "
                    "ON CONFLICT (day, reason) DO UPDATE SET n = n + 1", (day, reason))

    # --- aggregates --------------------------------------------------------------------
    def dropped(self, since: str | None = None, until: str | None = None) -> dict[str, int]:
        """Dropped hits by reason, on the local days given (all when None)."""
        return {r: int(n) for r, n in self._rows(
            "SELECT reason, SUM(n) FROM dropped WHERE day >= ? AND day <= ? GROUP BY reason "
            "ORDER BY reason", (since or "0000-00-00", until or "9999-99-99"))}

    def _read(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc

    def _source(self, query: CellQuery) -> str:
        """``events``, or ``events NOT INDEXED`` when the query's ranges cover more than
        a quarter of the stored time: a scan in table order reads each page once, where
        the ``ts`` index visits the rows' pages in random order, some three times slower
        per row. (SQLite has no statistics of ``ts`` to decide this itself.)"""
        low, high = self._one("SELECT MIN(ts) FROM events"), self._one("SELECT MAX(ts) FROM events")
        if low is None:
            return "events"
        covered = sum(max(0, min(end, high + 1) - max(start, low))
                      for start, end in query.ranges)
        return "events NOT INDEXED" if covered * 4 > high + 1 - low else "events"

    def cells(self, query: CellQuery, ids_below: int = 0) -> Iterator[CellCounts]:
        """The raw events of ``query`` grouped and counted by SQLite in one pass over
        its ranges of ``ts``, streamed."""
        cell = CellSQL(query, SQLITE, self._source(query))
        yield from cell.cells(self._read(*cell.grouped(ids_below)))

    def count_events(self, query: CellQuery) -> int:
        """How many raw events the query reads."""
        return int(self._one(*CellSQL(query, SQLITE, self._source(query)).total("COUNT(*)")))

    def rollup_cells(self, query: CellQuery, since: str, until: str) -> Iterator[CellCounts]:
        """Roll-up rows grouped: sums, and the largest row's ``identified``."""
        width = len(query.by)
        for row in self._rows(*rolled_up(query, "?", "rollups", since, until)):
            hits, visits, visitors, identified, anonymous, most = row[width:]
            if hits:
                yield CellCounts(tuple(row[:width]), int(hits), int(visits), int(visitors),
                                 int(identified), int(anonymous), int(most))

    # --- roll-ups ----------------------------------------------------------------------
    def roll_up(self, day: str, start: int, end: int) -> int:
        """One ``INSERT OR IGNORE … SELECT``: atomic, idempotent while the day's raw
        events are complete, and never overwriting a cell."""
        cols = ", ".join(ROLLUP_CELL)
        return self._write(
            f"INSERT OR IGNORE INTO rollups (day, {cols}, hits, visits, visitors, identified, "
            f"anonymous) SELECT ?, {cols}, {rollup_counts()} FROM events WHERE ts >= ? AND "
            f"ts < ? AND kind IN ({_placeholders(PAGE_KINDS)}) GROUP BY {cols}",
            (day, start, end, *PAGE_KINDS))

    def rolled_up_days(self, since: str, until: str) -> list[str]:
        """The days in ``[since, until]`` with roll-up rows."""
        return [day for (day,) in self._rows(
            "SELECT DISTINCT day FROM rollups WHERE day >= ? AND day <= ? ORDER BY day",
            (since, until))]

    def last_rolled_up_day(self) -> str | None:
        """The newest day with roll-up rows."""
        day: str | None = self._one("SELECT MAX(day) FROM rollups")
        return day

    def count_rollups_before(self, day: str) -> int:
        """Roll-up rows before ``day``."""
        return int(self._one("SELECT COUNT(*) FROM rollups WHERE day < ?", (day,)))

    def delete_rollups_before(self, day: str, batch: int) -> int:
        """One batch of roll-up rows before ``day``."""
        return self._write("DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups "
                           "WHERE day < ? LIMIT ?)", (day, int(batch)))

    def oldest_rollup_day(self, since: str) -> str | None:
        """The oldest roll-up day at or after ``since``."""
        day: str | None = self._one("SELECT MIN(day) FROM rollups WHERE day >= ?", (since,))
        return day

    # --- daily totals ------------------------------------------------------------------
    def summarise_day(self, day: str, start: int, end: int, now: int) -> int:
        """The day's cells and its mark in one write transaction."""
        with self._writing() as conn:
            if conn.execute("SELECT 1 FROM daily_days WHERE day = ?", (day,)).fetchone():
                return 0
            before = conn.total_changes  # rowcount is -1 for a statement led by WITH
            conn.execute(summarise_day("?", "events", "daily_cells", PAGE_KINDS),
                         summarise_params(day, start, end, PAGE_KINDS))
            added = conn.total_changes - before
            conn.execute("INSERT INTO daily_days (day, made_at) VALUES (?, ?)", (day, now))
        return added

    def summarised_days(self, since: str, until: str) -> list[str]:
        """Marked days in ``[since, until]``."""
        return [day for (day,) in self._rows(
            "SELECT day FROM daily_days WHERE day >= ? AND day <= ? ORDER BY day",
            (since, until))]

    def daily_cells(self, query: CellQuery, dimension: str, since: str,
                    until: str) -> Iterator[CellCounts]:
        """Daily rows grouped, from the covering read index."""
        width = len(query.by)
        for row in self._read(*daily_read(query, dimension, "?", "daily_cells", since,
                                          until)):
            hits, visits, visitors, identified, anonymous, most = row[width:]
            if hits:
                yield CellCounts(tuple(row[:width]), int(hits), int(visits), int(visitors),
                                 int(identified), int(anonymous), int(most))

    def count_daily_before(self, day: str) -> int:
        """Daily rows before ``day``."""
        return int(self._one("SELECT COUNT(*) FROM daily_cells WHERE day < ?", (day,)))

    def delete_daily_before(self, day: str, batch: int) -> int:
        """One batch of daily rows before ``day``; the marks of days left without rows."""
        deleted = self._write("DELETE FROM daily_cells WHERE rowid IN (SELECT rowid FROM "
                              "daily_cells WHERE day < ? LIMIT ?)", (day, int(batch)))
        if deleted < batch:
            self._write("DELETE FROM daily_days WHERE day < ?", (day,))
        return deleted

    def forget_daily(self) -> int:
        """Every daily row and mark."""
        with self._writing() as conn:
            deleted = conn.execute("DELETE FROM daily_cells").rowcount
            conn.execute("DELETE FROM daily_days")
        return int(deleted)

    def get_meta(self, key: str) -> str | None:
        """A fact about the stored data."""
        rows = self._rows("SELECT value FROM store_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Record a fact about the stored data."""
        self._write("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", (key, value))

    # --- retention ---------------------------------------------------------------------
    def earliest_event(self, since: int, before: int, pages_only: bool = False) -> int | None:
        """The oldest event time in ``[since, before)`` (one index seek)."""
        kind = f" AND kind IN ({_placeholders(PAGE_KINDS)})" if pages_only else ""
        ts = self._one(f"SELECT MIN(ts) FROM events WHERE ts >= ? AND ts < ?{kind}",
                       (since, before, *(PAGE_KINDS if pages_only else ())))
        return None if ts is None else int(ts)

    def count_events_before(self, before: int) -> int:
        """Events before ``before``."""
        return int(self._one("SELECT COUNT(*) FROM events WHERE ts < ?", (before,)))

    def delete_events_between(self, start: int, end: int, batch: int) -> int:
        """Delete ``[start, end)`` in short transactions."""
        return self._batches("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                             "ts >= ? AND ts < ? LIMIT ?)", (start, end), batch)

    def delete_sends_before(self, before: int) -> int:
        """Delete sends recorded before ``before``."""
        return self._write("DELETE FROM campaign_sends WHERE recorded_at < ?", (before,))

    # --- campaigns ---------------------------------------------------------------------
    def add_sends(self, campaign: str, list_id: str | None, count: int, now: int,
                  mode: str | None = None) -> None:
        """Record sends."""
        self._write("INSERT INTO campaign_sends (campaign, list, count, recorded_at, mode) "
                    "VALUES (?, ?, ?, ?, ?)", (campaign, list_id, count, now, mode))

    def sends_of(self, campaign: str) -> int:
        """All sends recorded for a campaign."""
        return int(self._one("SELECT COALESCE(SUM(count), 0) FROM campaign_sends WHERE "
                             "campaign = ?", (campaign,)))

    def sends_by_mode(self, campaign: str) -> dict[str | None, int]:
        """Sends summed by mode."""
        return {mode: int(n) for mode, n in self._rows(
            "SELECT mode, SUM(count) FROM campaign_sends WHERE campaign = ? GROUP BY mode",
            (campaign,))}

    def campaign_names(self) -> list[str]:
        """Campaign names from sends and email events."""
        return sorted(name for (name,) in self._rows(
            "SELECT campaign FROM campaign_sends UNION SELECT DISTINCT campaign FROM events "
            "WHERE campaign IS NOT NULL"))

    def campaign_seen(self, campaign: str) -> bool:
        """Sends recorded, or opens or clicks seen."""
        return bool(self._rows("SELECT 1 FROM campaign_sends WHERE campaign = ? UNION ALL "
                               "SELECT 1 FROM events WHERE campaign = ? LIMIT 1",
                               (campaign, campaign)))

    def _flagged(self, campaign: str,
                 burst: Burst | None) -> tuple[str, list[Any]] | None:
        """The ids of the campaign's fetches in a burst, as a subquery: this connection's
        ``temp.burst_flags``, filled unless it holds them already for the same campaign,
        rule and events (a report asks a dozen questions of one campaign; the bursts are
        found once). The events are told apart by the campaign's newest id, its number of
        events and of events with a recipient, so new events, a purge and an erasure
        (which deletes events or strips their recipient) all find the bursts again."""
        if burst is None:
            return None
        conn = self.conn
        try:
            state = (campaign, burst, *conn.execute(
                "SELECT MAX(id), COUNT(*), COUNT(recipient) FROM events WHERE campaign = ?",
                (campaign,)).fetchone())
            if getattr(self._local, "bursts_of", None) != state:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS burst_flags (id INTEGER "
                             "PRIMARY KEY)")
                conn.execute("DELETE FROM temp.burst_flags")
                sql, params = mailsql.burst_ids("?", "events", campaign, burst)
                conn.execute(f"INSERT INTO temp.burst_flags {sql}", params)
                self._local.bursts_of = state
        except sqlite3.Error as exc:
            self._local.bursts_of = None
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc
        return "SELECT id FROM temp.burst_flags", []

    def email_counts(self, campaign: str, kind: str, agents: Sequence[str] | None,
                     exclude: Sequence[str] = (),
                     links: Sequence[str] | None = None,
                     burst: Burst | None = None) -> EmailCount:
        """Email events of a campaign, kind and agents (and links)."""
        n, distinct, with_recipient = self._rows(*mailsql.email_counts(
            "?", "events", campaign, kind, agents, exclude, links,
            self._flagged(campaign, burst)))[0]
        return EmailCount(int(n), int(distinct), int(with_recipient))

    def email_link_counts(self, campaign: str, agents: Sequence[str] | None,
                          exclude: Sequence[str] = (),
                          burst: Burst | None = None) -> dict[str, EmailCount]:
        """Clicks per link id."""
        return {link: EmailCount(int(n), int(d), int(w)) for link, n, d, w in self._rows(
            *mailsql.link_counts("?", "events", campaign, agents, exclude,
                                 self._flagged(campaign, burst)))}

    def campaign_state(self, campaign: str) -> tuple[Any, ...]:
        """Newest id and counts of the campaign's events and sends, in one statement."""
        return tuple(self._rows(
            "SELECT MAX(id), COUNT(*), COUNT(recipient), (SELECT MAX(id) FROM campaign_sends "
            "WHERE campaign = ?), (SELECT COUNT(*) FROM campaign_sends WHERE campaign = ?) "
            "FROM events WHERE campaign = ?", (campaign, campaign, campaign))[0])

    def recipient_tracked(self, campaign: str, list_id: str, recipient: str) -> bool:
        """An open or click of the campaign and list names the recipient."""
        return bool(self._rows(
            "SELECT 1 FROM events WHERE recipient = ? AND campaign = ? AND list = ? AND "
            "kind IN ('open', 'click') LIMIT 1", (recipient, campaign, list_id)))

    def active_campaigns(self, start: int, end: int, limit: int) -> list[str]:
        """Campaigns with opens or clicks in ``[start, end)``, the busiest first."""
        # Read through the campaign index (email events only, kept at most
        # RETENTION_DAYS_EVENTS), not the ts index: a year of page views is far larger than
        # every email event the store holds (0.05 s against 0.5 s for a million events).
        return [name for (name,) in self._rows(
            "SELECT campaign FROM events WHERE +ts >= ? AND +ts < ? AND campaign IS NOT NULL "
            "AND kind IN ('open', 'click') GROUP BY campaign ORDER BY COUNT(*) DESC, "
            "campaign LIMIT ?", (start, end, int(limit)))]

    # --- subjects ----------------------------------------------------------------------
    # The sessions in which a visitor id was seen: hits of the same browser without the
    # visitor id (before its cookie, or with personalization off) belong to the subject.
    _SESSIONS = "SELECT session_id FROM events WHERE visitor_id = ? AND session_id IS NOT NULL"

    def _subject_filter(self, kind: str, subject_id: str) -> tuple[str, tuple[Any, ...]]:
        if kind == "visitor":
            return f"visitor_id = ? OR session_id IN ({self._SESSIONS})", (subject_id,) * 2
        if kind == "recipient":
            return "recipient = ?", (subject_id,)
        raise ValueError(f"Events are not kept by {kind!r} subjects.")

    def subject_events(self, kind: str, subject_id: str) -> list[dict[str, Any]]:
        """A subject's events, oldest first."""
        where, params = self._subject_filter(kind, subject_id)
        return [dict(zip(FIELDS, row, strict=True)) for row in self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} ORDER BY ts, id", params)]

    def erase_subject_events(self, kind: str, subject_id: str, strip: bool,
                             batch: int) -> int:
        """Delete a subject's events, or strip their ids, in batches."""
        v = subject_id
        if kind == "recipient":
            if strip:
                return self._batches("UPDATE events SET recipient = NULL WHERE id IN (SELECT "
                                     "id FROM events WHERE recipient = ? LIMIT ?)", (v,), batch)
            return self._batches("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                                 "recipient = ? LIMIT ?)", (v,), batch)
        if kind != "visitor":
            raise ValueError(f"Events are not kept by {kind!r} subjects.")
        # The session-only rows first, while the visitor's own rows still name its sessions.
        session_rows = f"visitor_id IS NOT ? AND session_id IN ({self._SESSIONS})"
        if strip:
            n = self._batches("UPDATE events SET session_id = NULL WHERE id IN (SELECT id FROM "
                              f"events WHERE {session_rows} LIMIT ?)", (v, v), batch)
            return n + self._batches("UPDATE events SET visitor_id = NULL, session_id = NULL "
                                     "WHERE id IN (SELECT id FROM events WHERE visitor_id = ? "
                                     "LIMIT ?)", (v,), batch)
        n = self._batches(f"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                          f"{session_rows} LIMIT ?)", (v, v), batch)
        return n + self._batches("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                                 "visitor_id = ? LIMIT ?)", (v,), batch)


_RECEIPT_COLUMNS = ("seq, receipt_id, prev_hash, hash, body, tombstone_reason, tombstoned_at, "
                    "subject_id, created_at, key_id, tombstone_seal")
# Subjects whose last decision is before the cutoff and that still have a receipt body
# (tombstones carry no subject id).
_EXPIRED_SUBJECTS = ("SELECT subject_id FROM receipts WHERE subject_id IS NOT NULL "
                     "GROUP BY subject_id HAVING MAX(created_at) < ? AND COUNT(body) > 0")


class SQLiteIdentity(_Store):
    """The identity store on SQLite."""

    kind = "identity"
    copied = (("receipts", "seq"), ("suppressions", None), ("api_tokens", "id"),
              ("audit", "seq"), ("users", None), ("remember_accounts", None),
              ("remember_tokens", None))

    # --- receipts ----------------------------------------------------------------------
    def append_receipt(self, receipt_id: str, subject_id: str, created_at: int, body: str,
                       sign: ReceiptSigner) -> ReceiptRow:
        """Link the receipt to the last one and insert it, under the write lock."""
        with self._writing() as conn:
            last = conn.execute("SELECT hash FROM receipts ORDER BY seq DESC LIMIT 1").fetchone()
            prev = last[0] if last else GENESIS
            key_id, digest = sign(prev, body)
            cur = conn.execute(
                "INSERT INTO receipts (receipt_id, subject_id, created_at, prev_hash, hash, "
                "body, key_id, granted, gpc, dnt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (receipt_id, subject_id, created_at, prev, digest, body, key_id,
                 *receiptsql.facts(body)))
            seq = int(cur.lastrowid or 0)
        return ReceiptRow(seq, receipt_id, prev, digest, body, subject_id=subject_id,
                          created_at=created_at, key_id=key_id)

    def receipt_rows(self) -> Iterator[ReceiptRow]:
        """Every receipt in chain order."""
        for row in self._rows(f"SELECT {_RECEIPT_COLUMNS} FROM receipts ORDER BY seq"):
            yield ReceiptRow(*row)

    def subject_receipts(self, subject_id: str) -> list[ReceiptRow]:
        """A subject's receipts with a body, oldest first."""
        return [ReceiptRow(*row) for row in self._rows(
            f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE subject_id = ? AND body IS NOT "
            "NULL ORDER BY seq", (subject_id,))]

    def _tombstone(self, where: str, params: Sequence[Any], reason: str, now: int,
                   seal: TombstoneSealer) -> int:
        """Drop bodies and subject ids but keep ids and hashes (the chain stays whole);
        each tombstone sealed. All or none, in one transaction."""
        with self._writing() as conn:
            rows = [ReceiptRow(*row) for row in conn.execute(
                f"SELECT {_RECEIPT_COLUMNS} FROM receipts WHERE body IS NOT NULL AND "
                f"({where})", tuple(params)).fetchall()]
            conn.executemany(
                "UPDATE receipts SET body = NULL, subject_id = NULL, granted = NULL, gpc = NULL, "
                "dnt = NULL, tombstone_reason = ?, "
                "tombstoned_at = ?, tombstone_seal = ? WHERE seq = ?",
                [(reason, now, seal(row, reason, now), row.seq) for row in rows])
        return len(rows)

    def tombstone_subject(self, subject_id: str, reason: str, now: int,
                          seal: TombstoneSealer) -> int:
        """Tombstone a subject's receipts."""
        return self._tombstone("subject_id = ?", (subject_id,), reason, now, seal)

    def count_expired_receipts(self, before: int) -> int:
        """Receipts of subjects whose last decision is before ``before``."""
        return int(self._one("SELECT COUNT(*) FROM receipts WHERE body IS NOT NULL AND "
                             f"subject_id IN ({_EXPIRED_SUBJECTS})", (before,)))

    def tombstone_expired(self, before: int, reason: str, now: int, seal: TombstoneSealer,
                          batch: int) -> int:
        """Whole subjects per statement: a subject is never left half tombstoned."""
        return self._tombstone(f"subject_id IN ({_EXPIRED_SUBJECTS} LIMIT ?)",
                               (before, int(batch)), reason, now, seal)

    def oldest_live_receipt(self, unexpired_before: int | None = None) -> int | None:
        """The oldest receipt with a body (of an unexpired subject, when asked)."""
        if unexpired_before is None:
            ts = self._one("SELECT MIN(created_at) FROM receipts WHERE body IS NOT NULL")
        else:
            ts = self._one("SELECT MIN(created_at) FROM receipts WHERE body IS NOT NULL AND "
                           f"subject_id NOT IN ({_EXPIRED_SUBJECTS})", (unexpired_before,))
        return None if ts is None else int(ts)

    # --- suppressions ------------------------------------------------------------------
    def suppress(self, entries: Iterable[Suppression], now: int) -> int:
        """Add entries in one transaction; how many were new."""
        added = 0
        with self._writing() as conn:
            for entry in entries:
                added += conn.execute(
                    "INSERT INTO suppressions (list, recipient, campaign, created_at, reason) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (list, recipient) DO NOTHING",
                    (entry.list, entry.recipient, entry.campaign, now, entry.reason)).rowcount
        return added

    def is_suppressed(self, list_id: str, recipient: str, all_mail: str) -> bool:
        """Whether an entry covers ``recipient`` on ``list_id``."""
        return bool(self._rows("SELECT 1 FROM suppressions WHERE recipient = ? AND list IN "
                               "(?, ?) LIMIT 1", (recipient, list_id, all_mail)))

    _SUPPRESSION = ("SELECT list, recipient, campaign, created_at, rowid, reason FROM "
                    "suppressions")

    @staticmethod
    def _suppression(row: Sequence[Any]) -> SuppressionRow:
        lst, rec, camp, ts, rowid, reason = row
        return SuppressionRow(lst, rec, camp, int(ts), (int(ts), int(rowid)), reason)

    def suppressions_since(self, since: int, after: tuple[int, int] | None,
                           limit: int) -> list[SuppressionRow]:
        """A page of entries, oldest first; the cursor is (created_at, rowid)."""
        where, params = "created_at >= ?", [since]
        if after is not None:
            where += " AND (created_at > ? OR (created_at = ? AND rowid > ?))"
            params += [after[0], after[0], after[1]]
        return [self._suppression(row) for row in self._rows(
            f"{self._SUPPRESSION} WHERE {where} ORDER BY created_at, rowid LIMIT ?",
            (*params, int(limit)))]

    def suppressions_of(self, recipient: str) -> list[SuppressionRow]:
        """A recipient's entries."""
        return [self._suppression(row) for row in self._rows(
            f"{self._SUPPRESSION} WHERE recipient = ? ORDER BY created_at, list",
            (recipient,))]

    def unsubscribes_of(self, campaign: str) -> int:
        """Unsubscribes whose provenance is ``campaign``."""
        return int(self._one("SELECT COUNT(*) FROM suppressions WHERE campaign = ? AND "
                             "reason = 'unsubscribe'", (campaign,)))

    def suppressions_by_reason(self, campaign: str) -> dict[str, int]:
        """Entries whose provenance is ``campaign``, by reason."""
        return {reason: int(n) for reason, n in self._rows(
            "SELECT reason, COUNT(*) FROM suppressions WHERE campaign = ? GROUP BY reason "
            "ORDER BY reason", (campaign,))}

    def count_suppressions_before(self, before: int) -> int:
        """Entries created before ``before``."""
        return int(self._one("SELECT COUNT(*) FROM suppressions WHERE created_at < ?",
                             (before,)))

    def delete_suppressions_before(self, before: int, batch: int) -> int:
        """One batch of old entries."""
        return self._write("DELETE FROM suppressions WHERE rowid IN (SELECT rowid FROM "
                           "suppressions WHERE created_at < ? LIMIT ?)", (before, int(batch)))

    def oldest_suppression(self, since: int = 0) -> int | None:
        """The oldest entry's time at or after ``since``."""
        ts = self._one("SELECT MIN(created_at) FROM suppressions WHERE created_at >= ?",
                       (since,))
        return None if ts is None else int(ts)

    # --- API tokens --------------------------------------------------------------------
    def add_api_token(self, name: str, token_hash: str, scopes: str, now: int) -> bool:
        """Store a token unless a live one has the name (checked under the write lock)."""
        with self._writing() as conn:
            if conn.execute("SELECT 1 FROM api_tokens WHERE name = ? AND revoked_at IS NULL",
                            (name,)).fetchone():
                return False
            conn.execute("INSERT INTO api_tokens (name, token_hash, scopes, created_at) "
                         "VALUES (?, ?, ?, ?)", (name, token_hash, scopes, now))
        return True

    def revoke_api_tokens(self, name: str, now: int) -> int:
        """Revoke the live tokens of a name."""
        return self._write("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND "
                           "revoked_at IS NULL", (now, name))

    def api_token(self, token_hash: str) -> TokenRow | None:
        """The live token with that hash."""
        rows = self._rows("SELECT name, scopes, created_at, revoked_at FROM api_tokens WHERE "
                          "token_hash = ? AND revoked_at IS NULL", (token_hash,))
        return TokenRow(*rows[0]) if rows else None

    def api_tokens(self) -> list[TokenRow]:
        """Every token, oldest first."""
        return [TokenRow(*row) for row in self._rows(
            "SELECT name, scopes, created_at, revoked_at FROM api_tokens ORDER BY id")]

    # --- the audit log -----------------------------------------------------------------
    def append_audit(self, ts: int, actor: str, action: str, subject_hmac: str | None,
                     reason: str | None, detail: str | None) -> None:
        """Append one entry."""
        self._write("INSERT INTO audit (ts, actor, action, subject_hmac, reason, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (ts, actor, action, subject_hmac, reason,
                                                  detail))

    def audit_rows(self, since: int | None = None, until: int | None = None,
                   subject_hmacs: Sequence[str] | None = None) -> list[AuditRow]:
        """Entries in order, filtered."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if until is not None:
            where.append("ts < ?")
            params.append(until)
        if subject_hmacs is not None:
            if not subject_hmacs:
                return []
            where.append(f"subject_hmac IN ({_placeholders(subject_hmacs)})")
            params.extend(subject_hmacs)
        return [AuditRow(*row) for row in self._rows(
            "SELECT seq, ts, actor, action, subject_hmac, reason, detail FROM audit WHERE "
            f"{' AND '.join(where)} ORDER BY seq", params)]

    _LIVE_AUDIT = "ts < ? AND action != 'tombstone'"

    def count_audit_before(self, before: int) -> int:
        """Live entries before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM audit WHERE {self._LIVE_AUDIT}",
                             (before,)))

    def tombstone_audit_before(self, before: int, batch: int) -> int:
        """One batch of old entries emptied in place."""
        return self._write(
            "UPDATE audit SET actor = '-', action = 'tombstone', subject_hmac = NULL, "
            "detail = NULL, reason = 'retention' WHERE seq IN (SELECT seq FROM audit WHERE "
            f"{self._LIVE_AUDIT} LIMIT ?)", (before, int(batch)))

    def oldest_audit(self, since: int) -> int | None:
        """The oldest live entry's time at or after ``since``."""
        ts = self._one("SELECT MIN(ts) FROM audit WHERE action != 'tombstone' AND ts >= ?",
                       (since,))
        return None if ts is None else int(ts)

    # --- consent decisions, counted ----------------------------------------------------
    @staticmethod
    def _days_table(days: Sequence[tuple[str, int, int]]) -> tuple[str, list[Any]]:
        """``WITH d(label, start, stop) AS (VALUES …)`` of the days, and its parameters."""
        values = ", ".join("(?, ?, ?)" for _ in days)
        return (f"WITH d(label, start, stop) AS (VALUES {values})",
                [value for day in days for value in day])

    def consent_decisions(self, days: Sequence[tuple[str, int, int]],
                          purposes: Sequence[str]) -> list[ConsentCounts]:
        """Receipts of each day counted from the covering index of their facts (the
        purposes granted, GPC, DNT), one range of it per day; no JSON is read."""
        if not days:
            return []
        with_days, params = self._days_table(days)
        sql = f"{with_days} {receiptsql.decisions('d', '?', 'receipts', purposes)}"
        width = len(purposes)
        # The days' values come first in the text, then one pattern per purpose.
        return [ConsentCounts(str(row[0]), int(row[1]), int(row[2]),
                              tuple(int(n) for n in row[3:3 + width]), int(row[3 + width]),
                              int(row[4 + width]))
                for row in self._rows(sql, [*params, *receiptsql.patterns(purposes)])]

    def deciding_subjects(self, days: Sequence[tuple[str, int, int]]) -> int:
        """Distinct subjects of the days' receipts (no JSON read: the index on created_at
        and the subject id column)."""
        if not days:
            return 0
        with_days, params = self._days_table(days)
        return int(self._one(f"{with_days} SELECT COUNT(DISTINCT r.subject_id) FROM d JOIN "
                             "receipts r ON r.created_at >= d.start AND r.created_at < d.stop "
                             "WHERE r.body IS NOT NULL", params))

    # --- dashboard accounts ------------------------------------------------------------
    def add_user(self, name: str, password_hash: str, now: int) -> bool:
        """Insert the account unless the name is taken (one statement: no race)."""
        return self._write("INSERT INTO users (name, password_hash, created_at) VALUES "
                           "(?, ?, ?) ON CONFLICT (name) DO NOTHING",
                           (name, password_hash, now)) > 0

    def remove_user(self, name: str) -> bool:
        """Delete the account."""
        return self._write("DELETE FROM users WHERE name = ?", (name,)) > 0

    def user_password_hash(self, name: str) -> str | None:
        """The account's password hash."""
        rows = self._rows("SELECT password_hash FROM users WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def users(self) -> list[UserRow]:
        """Every account, by name."""
        return [UserRow(name, int(created), None if last is None else int(last))
                for name, created, last in self._rows(
                    "SELECT name, created_at, last_login_at FROM users ORDER BY name")]

    def record_login(self, name: str, now: int) -> None:
        """Note the latest sign-in."""
        self._write("UPDATE users SET last_login_at = ? WHERE name = ?", (now, name))

    # --- remember-me (the SDK's tables) ------------------------------------------------
    def has_remember_tables(self) -> bool:
        """Whether the SDK created its tables here."""
        return bool(self._one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                              "name = 'remember_tokens'"))

    def count_expired_remember(self, before: float) -> int:
        """Tokens that expired before ``before``."""
        return int(self._one("SELECT COUNT(*) FROM remember_tokens WHERE expires_at < ?",
                             (before,)))

    def count_forgettable_accounts(self, changed_before: float, tokens_from: float) -> int:
        """Epoch rows a purge would forget."""
        return int(self._one(
            "SELECT COUNT(*) FROM remember_accounts a WHERE a.changed_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM remember_tokens t WHERE t.account = a.account AND "
            "t.expires_at >= ?)", (changed_before, tokens_from)))

    def oldest_remember_token(self, expiring_from: float) -> float | None:
        """The oldest token still kept."""
        ts = self._one("SELECT MIN(created_at) FROM remember_tokens WHERE expires_at >= ?",
                       (expiring_from,))
        return None if ts is None else float(ts)
