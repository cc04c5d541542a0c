"""The PostgreSQL backend (13 or newer): several collectors on one database.

Each store keeps its tables in a schema of its own (``cleargif_events``,
``cleargif_identity``), so ``EVENTS_URL`` and ``IDENTITY_URL`` may name one database under
two roles, the events role given no access to the identity schema, or two databases.
Connections come from a ``psycopg_pool`` pool per process, opened on first use (so after
gunicorn forks), in autocommit mode: every write is its own transaction, committed before
the method returns (``synchronous_commit`` as the server has it, on by default). Hits
are the exception to the pool: a process's concurrent hits are inserted together by one
statement on a connection of their own (group commit), each answered once it is committed.

Raw events are partitioned by month (UTC) on ``ts``; a month's partition is made when its
first event arrives, and retention drops whole partitions, deleting in small batches only
at the edges. Migrations run under an advisory lock, so collectors starting at once apply
each step once.
"""

from __future__ import annotations

import atexit
import itertools
import os
import select
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import StorageError
from ..ingest.records import FIELDS
from . import groupcommit, mailsql, receiptsql
from .cellsql import (
    POSTGRESQL,
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

EVENTS = "cleargif_events"
IDENTITY = "cleargif_identity"
PAGE_KINDS = ("pageview", "event")
#: The columns of a roll-up cell, besides its day.
ROLLUP_CELL = ("site", "kind", "name", "path", "referrer_host", "browser", "os", "device",
               "lang", "utm_source", "utm_medium", "utm_campaign", "revision")
#: Connections per process: a gunicorn worker answers one request at a time per thread.
POOL_SIZE = 4
#: Rows of a grouped query fetched at a time.
STREAM_ROWS = 5000


def _chunked() -> bool:
    """Whether psycopg and its libpq can stream a query's rows in chunks (psycopg 3.2 and
    libpq 17 or newer); else grouped rows are read through a server-side cursor."""
    try:
        import psycopg
    except ImportError:
        return False
    major, minor = (int(part) for part in psycopg.__version__.split(".")[:2])
    return (major, minor) >= (3, 2) and psycopg.pq.version() >= 170000


_CHUNKED = _chunked()
#: How every connection is opened. No JIT compilation: cleargif's queries are short or
#: read pre-aggregated rows, and compiling took longer than running them.
SESSION: dict[str, Any] = {"autocommit": True, "options": "-c jit=off"}


def _day_arrays(days: Sequence[tuple[str, int, int]]) -> list[list[Any]]:
    """Local days ``(label, start, end)`` as three arrays, for ``unnest``."""
    return [[day[0] for day in days], [day[1] for day in days], [day[2] for day in days]]


def safe_location(url: str) -> str:
    """A ``postgresql://`` URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


#: The stores with a pool open, closed when the process ends.
_OPEN: weakref.WeakSet[_Store] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close this process's pools and connections before the interpreter ends: a pool
    left to its finaliser in a gevent worker prints tracebacks ("greenlet is being
    finalized") on every shutdown."""
    for store in list(_OPEN):
        store.close()


class _Store:
    """A store in one schema of a PostgreSQL database."""

    kind = ""
    schema = ""

    def __init__(self, url: str, *, sync: str = "normal") -> None:
        self.url = url
        self.sync = sync
        self._pool: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        #: The migrations this process applied, in order (for ``cleargif migrate``).
        self.applied: list[int] = []

    # --- connections -------------------------------------------------------------------
    @property
    def location(self) -> str:
        """The database URL without its password."""
        return safe_location(self.url)

    def _error(self, doing: str, exc: Exception) -> StorageError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StorageError(f"{doing} {self.location} failed: {detail}.")

    def _open(self) -> Any:
        import psycopg
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            # A forked child never uses the parent's pool (its sockets are the parent's).
            pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, open=False,
                                  kwargs=SESSION, timeout=10.0, name=f"cleargif-{self.kind}")
            try:
                pool.open(wait=True, timeout=10.0)
            except Exception as exc:  # psycopg_pool raises its own timeout
                pool.close()
                raise self._error("Connecting to", exc) from None
            self._pool, self._pid = pool, os.getpid()
            _OPEN.add(self)
        try:
            self._prepare()
        except psycopg.Error as exc:
            raise self._error("Preparing", exc) from exc
        return self._pool

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        """A connection from this process's pool; PostgreSQL errors become
        :class:`StorageError` (messages without the password)."""
        import psycopg

        pool = self._pool if self._pool is not None and self._pid == os.getpid() \
            else self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._error("Using", exc) from exc
        except StorageError:
            raise
        except Exception as exc:
            # psycopg_pool's PoolTimeout and the like: the store cannot be used now.
            if type(exc).__module__.startswith("psycopg"):
                raise self._error("Using", exc) from exc
            raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._conn() as conn:
            return list(conn.execute(sql, tuple(params)).fetchall())

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._rows(sql, params)[0][0]

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._conn() as conn:
            return int(conn.execute(sql, tuple(params)).rowcount)

    def _batches(self, sql: str, params: Sequence[Any], batch: int) -> int:
        total = 0
        while True:
            n = self._write(sql, (*params, int(batch)))
            total += n
            if n < batch:
                return total

    def close(self) -> None:
        """Close this process's pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    # --- schema ------------------------------------------------------------------------
    def _version(self, conn: Any) -> int:
        found = conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.schema_migrations",)
                             ).fetchone()[0]
        if found is None:
            return 0
        return int(conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM "
                                f"{self.schema}.schema_migrations").fetchone()[0])

    def _prepare(self) -> None:
        with self._pool.connection() as conn:
            steps = migrations("postgres", self.kind)
            current = self._version(conn)
            if current > len(steps):
                raise too_new(f"{self.kind} store {self.location}", current, len(steps))
            if current < len(steps):
                self.applied += self._apply(conn)
            self._after_prepare(conn)

    def _after_prepare(self, conn: Any) -> None:
        """What a store does once its schema is current (event partitions)."""

    def _apply(self, conn: Any) -> list[int]:
        steps = migrations("postgres", self.kind)
        applied = []
        with conn.transaction():
            # One collector migrates; the others wait here, then find nothing to do.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (f"cleargif migrate {self.schema}",))
            # A schema an administrator made for the store's role is used as it is (the
            # role may not create schemas); otherwise the store makes its own.
            if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                (self.schema,)).fetchone():
                conn.execute(f"CREATE SCHEMA {self.schema}")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self.schema}.schema_migrations "
                         "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                         "applied_at BIGINT NOT NULL)")
            current = self._version(conn)
            if current > len(steps):
                raise too_new(f"{self.kind} store {self.location}", current, len(steps))
            for step in steps[current:]:
                conn.execute(step.sql.encode())  # several statements, no parameters
                conn.execute(f"INSERT INTO {self.schema}.schema_migrations (version, name, "
                             "applied_at) VALUES (%s, %s, %s)",
                             (step.version, step.name, int(time.time())))
                applied.append(step.version)
        return applied

    def migrate(self) -> list[int]:
        """Apply the migrations this schema lacks (creating it when it does not exist)."""
        import psycopg

        before = len(self.applied)
        pool = self._open()
        try:
            with pool.connection() as conn:
                if self._version(conn) < len(migrations("postgres", self.kind)):
                    self.applied += self._apply(conn)
        except psycopg.Error as exc:
            raise self._error("Migrating", exc) from exc
        return self.applied[before:]

    def schema_version(self) -> int:
        """The newest migration applied to the schema."""
        with self._conn() as conn:
            return self._version(conn)

    def exists(self) -> bool:
        """Whether the schema holds a store (connecting does not create it)."""
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=10) as conn:
                row = conn.execute("SELECT to_regclass(%s)",
                                   (f"{self.schema}.schema_migrations",)).fetchone()
                found = row[0] if row else None
        except psycopg.Error as exc:
            raise self._error("Connecting to", exc) from exc
        return found is not None

    def ping(self) -> None:
        """Check that the database answers."""
        self._rows("SELECT 1")

    def check_writable(self) -> None:
        """Commit an update that rewrites the newest migration row with its own values:
        a real write (it fails on a read-only database, a full disk, a standby or a
        server that is down) that changes nothing. The pool replaces a connection that
        broke, so a database that comes back is written again without a restart."""
        self._write(f"UPDATE {self.schema}.schema_migrations SET applied_at = applied_at "
                    f"WHERE version = (SELECT MAX(version) FROM {self.schema}.schema_migrations)")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A session advisory lock on a connection of its own, held for the block: every
        collector on this database sees it."""
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._error("Connecting to", exc) from exc
        key = f"cleargif {self.schema} {name}"
        try:
            held = bool(conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                     (key,)).fetchone()[0])  # type: ignore[index]
            try:
                yield held
            finally:
                if held:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
        except psycopg.Error as exc:
            raise self._error("Locking", exc) from exc
        finally:
            conn.close()

    # --- moving between backends ------------------------------------------------------
    #: Tables ``cleargif copy`` moves, in order: their paging key and, when append-only,
    #: their id column.
    copied: tuple[tuple[str, tuple[str, ...], str | None], ...] = ()

    def _spec(self, table: str) -> tuple[tuple[str, ...], str | None]:
        for name, order, ident in self.copied:
            if name == table:
                return order, ident
        raise ValueError(f"{table!r} is not a table cleargif copies.")

    def copy_tables(self) -> list[str]:
        """The tables to copy that exist in this schema."""
        present = {name for (name,) in self._rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema,))}
        return [name for name, _, _ in self.copied if name in present]

    def table_columns(self, table: str) -> list[str]:
        """The columns of a table, in order."""
        self._spec(table)
        return [name for (name,) in self._rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
            "table_name = %s ORDER BY ordinal_position", (self.schema, table))]

    def count_rows(self, table: str) -> int:
        """How many rows a table holds."""
        self._spec(table)
        return int(self._one(f"SELECT COUNT(*) FROM {self.schema}.{table}"))

    def last_id(self, table: str) -> int | None:
        """The largest id of an append-only table."""
        _, ident = self._spec(table)
        if ident is None:
            return None
        found = self._one(f"SELECT MAX({ident}) FROM {self.schema}.{table}")
        return None if found is None else int(found)

    def read_rows(self, table: str, columns: Sequence[str], after: Any, limit: int,
                  from_id: int | None = None) -> tuple[list[tuple[Any, ...]], Any]:
        """Rows in primary-key order, the cursor the key of the last one."""
        order, ident = self._spec(table)
        known = set(self.table_columns(table))
        if not set(columns) <= known:
            raise ValueError(f"{table} has no column {sorted(set(columns) - known)[0]!r}.")
        where, params = ["TRUE"], []
        if after is not None:
            where.append(f"({', '.join(order)}) > ({', '.join('%s' for _ in order)})")
            params += list(after)
        if from_id is not None and ident is not None:
            where.append(f"{ident} > %s")
            params.append(from_id)
        rows = self._rows(f"SELECT {', '.join([*order, *columns])} FROM {self.schema}.{table} "
                          f"WHERE {' AND '.join(where)} ORDER BY {', '.join(order)} LIMIT %s",
                          (*params, int(limit)))
        width = len(order)
        cursor = tuple(rows[-1][:width]) if len(rows) == limit else None
        return [tuple(row[width:]) for row in rows], cursor

    def write_rows(self, table: str, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]]) -> int:
        """``INSERT … ON CONFLICT DO NOTHING`` in one transaction."""
        self._spec(table)
        known = set(self.table_columns(table))
        if not set(columns) <= known:
            raise ValueError(f"{table} has no column {sorted(set(columns) - known)[0]!r}.")
        names = list(columns)
        values = ", ".join("%s" for _ in names)
        extra = self._computed(table, names)
        if extra:
            names.append(extra[0])
            values += f", {extra[1]}"
        sql = (f"INSERT INTO {self.schema}.{table} ({', '.join(names)}) VALUES ({values}) "
               "ON CONFLICT DO NOTHING")
        params = [tuple(row) + extra[2](row) if extra else tuple(row) for row in rows]
        with self._conn() as conn, conn.transaction():
            self._before_write(conn, table, columns, rows)
            with conn.cursor() as cur:
                added = 0
                for chunk in range(0, len(params), 1000):
                    cur.executemany(sql, params[chunk:chunk + 1000], returning=False)
                    added += max(cur.rowcount, 0)
        return added

    def _computed(self, table: str, columns: list[str]) -> Any:
        """A column the backend computes while writing copied rows: ``(name, SQL, params
        of a row)``, or None."""
        return None

    def _before_write(self, conn: Any, table: str, columns: Sequence[str],
                      rows: Sequence[tuple[Any, ...]]) -> None:
        """What must exist before copied rows are written (event partitions)."""

    def after_copy(self) -> None:
        """Move the id sequences past the largest ids written."""
        for name, _, ident in self.copied:
            if ident is None or name not in self.copy_tables():
                continue
            self._rows(f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                       f"GREATEST(COALESCE((SELECT MAX({ident}) FROM {self.schema}.{name}), "
                       "0), 1))", (f"{self.schema}.{name}", ident))

    def flush_deleted(self) -> bool:
        """``VACUUM`` the store's tables, so that deleted rows' space is reclaimed and
        reused (old row images may stay in free space and the write-ahead log until
        overwritten; see the README's known limits)."""
        tables = self._rows("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON "
                            "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                            (self.schema,))
        with self._conn() as conn:
            for (table,) in tables:
                conn.execute(f'VACUUM {self.schema}."{table}"')
        return True


def _month_start(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def _next_month(start: int) -> int:
    moment = datetime.fromtimestamp(start, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year,
                                                                    moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def _partition(start: int) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return f"events_{moment.year:04d}{moment.month:02d}"


_TS = FIELDS.index("ts")
_EVENT_COLUMNS = ", ".join(FIELDS)


def _prepare_insert(count: int) -> str:
    """The statement preparing ``cleargif_insert_<count>``: an INSERT of ``count`` events,
    their fields as text parameters. One statement for each batch size the writer meets
    (64 at most, :data:`.groupcommit.MOST`): four rows cost PostgreSQL an eighth less CPU
    than as one JSON parameter, sixteen a fifth less."""
    width = len(FIELDS)
    rows = ", ".join("(" + ", ".join(f"${row * width + i}" for i in range(1, width + 1)) + ")"
                     for row in range(count))
    return (f"PREPARE cleargif_insert_{count} AS INSERT INTO {EVENTS}.events "
            f"({_EVENT_COLUMNS}) VALUES {rows}")


def _event_parameters(rows: Sequence[tuple[Any, ...]]) -> list[bytes | None]:
    """The text parameters of ``rows`` (tuples of :data:`FIELDS`, whose values are
    strings, integers or None), one row after another."""
    params = [None if value is None else str(value).encode()
              for value in itertools.chain.from_iterable(rows)]
    if b"\x00" in b"".join(filter(None, params)):  # one pass in C, not one per value
        # libpq would cut the value there; psycopg refuses it the same way.
        raise ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return params


def _socket_waits() -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    """Functions waiting until a socket can be read, and written: gevent's own in a
    monkey-patched process (other requests run meanwhile), else ``poll``. psycopg waits
    there through gevent's patched ``select.poll``, which costs more."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("select"):
        from gevent.socket import wait_read, wait_write

        return wait_read, wait_write

    def waiting(events: int) -> Callable[[int], Any]:
        def wait(fd: int) -> None:
            poller = select.poll()
            poller.register(fd, events)
            poller.poll()
        return wait

    return waiting(select.POLLIN), waiting(select.POLLOUT)


#: Connections a process writes hits on: a second batch is written while the first is
#: still under way (:mod:`.groupcommit`), so that a few clients need not all wait on one
#: commit. With four clients the pixel answered 0.79 to 0.88 of bare Flask's rate with
#: two, against 0.78 to 0.83 with one, in runs side by side; the second connection opens
#: only once a second batch needs it.
HIT_CONNECTIONS = 2


class _HitPath:
    """This process's hit path: its writers, and the group commit sharing them."""

    def __init__(self, store: PostgresEvents) -> None:
        self.pid = os.getpid()
        self.writers = [_EventWriter(store) for _ in range(HIT_CONNECTIONS)]
        self.batches = groupcommit.GroupCommit(*(w.insert for w in self.writers))

    def close(self) -> None:
        """Close the writers' connections."""
        for writer in self.writers:
            writer.close()


class _EventWriter:
    """One of the hit path's writers in a process: batches of concurrent hits
    (:mod:`.groupcommit`) inserted on a connection of its own, which only the batch being
    written uses (the pool's locks cost more than the insert, under gevent twice as much).

    It runs its prepared statements through libpq (``psycopg.pq``) rather than a
    cursor: a commit is a send and a wait for one answer, and a psycopg cursor's
    adapting and waiting around it cost a gevent worker 1.3 to 1.7 times the CPU
    (``bench/pgwriter.py``)."""

    def __init__(self, store: PostgresEvents) -> None:
        self.pid = os.getpid()
        self.store = store
        self.conn: Any = None
        #: The batch sizes whose INSERT is prepared on the connection.
        self.prepared: set[int] = set()
        self.wait_read, self.wait_write = _socket_waits()
        from psycopg import pq

        self.command_ok = pq.ExecStatus.COMMAND_OK

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """One INSERT of the rows, committed; a month's first event makes its partition.
        After a failure the connection is closed, and the next batch opens another."""
        import psycopg

        try:
            params = _event_parameters(rows)
        except ValueError as exc:
            raise self.store._error("Using", exc) from exc
        try:
            if self.conn is None:
                self.store._open()  # the schema is migrated and this month's partition made
                conn = psycopg.connect(self.store.url, connect_timeout=10, **SESSION)
                self.conn, self.prepared = conn, set()
            if len(rows) not in self.prepared:
                self.conn.execute(_prepare_insert(len(rows)))
                self.prepared.add(len(rows))
            statement = f"cleargif_insert_{len(rows)}".encode()
            try:
                self._execute(statement, params)
            except psycopg.errors.CheckViolation:
                # "no partition of relation events found for row": a new month.
                for start in sorted({_month_start(int(row[_TS])) for row in rows}):
                    self.store._make_partition(self.conn, start)
                self._execute(statement, params)
        except psycopg.Error as exc:
            self.close()
            raise self.store._error("Using", exc) from exc

    def _execute(self, statement: bytes, params: list[bytes | None]) -> None:
        """Run a prepared statement, waiting for its answer as :func:`_socket_waits` says;
        raise psycopg's error for its SQLSTATE when the server refuses it."""
        pgconn = self.conn.pgconn
        pgconn.send_query_prepared(statement, params)
        while pgconn.flush():  # a large batch may not fit the socket's buffer at once
            self.wait_write(pgconn.socket)
        pgconn.consume_input()
        while pgconn.is_busy():
            self.wait_read(pgconn.socket)
            pgconn.consume_input()
        error: Exception | None = None
        while (result := pgconn.get_result()) is not None:
            if result.status != self.command_ok and error is None:
                error = _refused(result)
        if error is not None:
            raise error

    def close(self) -> None:
        """Close the connection, if this process opened one."""
        conn, self.conn = self.conn, None
        if conn is not None and self.pid == os.getpid():
            conn.close()


def _refused(result: Any) -> Exception:
    """psycopg's error for a statement's failed ``result``, by its SQLSTATE."""
    import psycopg
    from psycopg import pq

    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY)
               or result.error_message or b"the server gave no reason").decode(errors="replace")
    try:
        kind = psycopg.errors.lookup(state)
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(message.strip())


class PostgresEvents(_Store):
    """The event store on PostgreSQL."""

    kind = "events"
    schema = EVENTS
    copied = (("events", ("ts", "id"), "id"), ("campaign_sends", ("id",), "id"),
              ("dropped", ("day", "reason"), None), ("rollups", ("day", "cell"), None),
              ("store_meta", ("key",), None), ("daily_cells", ("id",), "id"),
              ("daily_days", ("day",), None))

    def _computed(self, table: str, columns: list[str]) -> Any:
        if table != "rollups" or "cell" in columns:
            return None
        # The same digest as roll_up() makes, from the same values with the same types.
        at = {name: i for i, name in enumerate(columns)}
        casts = ["%s::integer" if c == "revision" else "%s::text" for c in ROLLUP_CELL]
        return ("cell", f"md5(json_build_array({', '.join(casts)})::text)",
                lambda row: tuple(row[at[c]] if c in at else None for c in ROLLUP_CELL))

    def _before_write(self, conn: Any, table: str, columns: Sequence[str],
                      rows: Sequence[tuple[Any, ...]]) -> None:
        if table == "events":
            at = list(columns).index("ts")
            for start in sorted({_month_start(int(row[at])) for row in rows}):
                self._make_partition(conn, start)

    def __init__(self, url: str, *, sync: str = "normal") -> None:
        super().__init__(url, sync=sync)
        self._months: set[int] = set()
        self._hits: _HitPath | None = None
        #: Burst ids per (campaign, rule): the state they were found in, and the ids.
        self._bursts: dict[tuple[str, Burst], tuple[tuple[Any, ...], list[int]]] = {}

    def close(self) -> None:
        """Close this process's pool and the hit path's connections."""
        hits, self._hits = self._hits, None
        if hits is not None:
            hits.close()
        super().close()

    def _after_prepare(self, conn: Any) -> None:
        now = int(time.time())
        for start in (_month_start(now), _next_month(_month_start(now))):
            self._make_partition(conn, start)

    def _make_partition(self, conn: Any, start: int) -> None:
        if start in self._months:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('cleargif partitions'))")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {EVENTS}.{_partition(start)} PARTITION "
                         f"OF {EVENTS}.events FOR VALUES FROM ({start}) TO "
                         f"({_next_month(start)})")
        self._months.add(start)

    # --- the hit path ------------------------------------------------------------------
    def add_event(self, record: Mapping[str, Any]) -> None:
        """Insert and commit one record, with those other requests of this process add
        meanwhile (:mod:`.groupcommit`); return once it is committed."""
        hits = self._hits
        if hits is None or hits.pid != os.getpid():
            # Made in the process that writes: a gevent worker's locks are its own.
            hits = self._hits = _HitPath(self)
        hits.batches.add(tuple(record.get(f) for f in FIELDS))

    def count_dropped(self, day: str, reason: str) -> None:
        """Add one to the dropped counter of ``(day, reason)``."""
        self._write(f"INSERT INTO {EVENTS}.dropped (day, reason, n) VALUES (%s, %s, 1) "
                    "ON CONFLICT (day, reason) DO UPDATE SET n = dropped.n + 1", (day, reason))

    # --- aggregates --------------------------------------------------------------------
    def dropped(self, since: str | None = None, until: str | None = None) -> dict[str, int]:
        """Dropped hits by reason, on the local days given (all when None)."""
        return {r: int(n) for r, n in self._rows(
            f"SELECT reason, SUM(n) FROM {EVENTS}.dropped WHERE day >= %s AND day <= %s "
            "GROUP BY reason ORDER BY reason", (since or "0000-00-00", until or "9999-99-99"))}

    def cells(self, query: CellQuery, ids_below: int = 0) -> Iterator[CellCounts]:
        """The raw events of ``query`` grouped and counted by PostgreSQL in one pass
        over its ranges of ``ts``, streamed in batches."""
        cell = CellSQL(query, POSTGRESQL, f"{EVENTS}.events")
        sql, params = cell.grouped(ids_below)
        with self._conn() as conn:
            if _CHUNKED:
                # A plain query whose rows libpq hands over in chunks: PostgreSQL may
                # plan it in parallel, which it never does for a cursor (a third faster
                # on a million events), and memory stays that of one chunk.
                yield from cell.cells(conn.cursor().stream(sql, params, size=STREAM_ROWS))
                return
            # A server-side cursor, read in batches (rows one at a time cost a round trip
            # each), planned for all its rows rather than its first tenth.
            with conn.transaction(), conn.cursor(name="cells") as cur:
                conn.execute("SET LOCAL cursor_tuple_fraction = 1.0")
                cur.itersize = STREAM_ROWS
                cur.execute(sql, params)
                yield from cell.cells(cur)

    def count_events(self, query: CellQuery) -> int:
        """How many raw events the query reads."""
        return int(self._one(*CellSQL(query, POSTGRESQL, f"{EVENTS}.events").total("COUNT(*)")))

    def rollup_cells(self, query: CellQuery, since: str, until: str) -> Iterator[CellCounts]:
        """Roll-up rows grouped: sums, and the largest row's ``identified``."""
        width = len(query.by)
        for row in self._rows(*rolled_up(query, "%s", f"{EVENTS}.rollups", since, until)):
            hits, visits, visitors, identified, anonymous, most = row[width:]
            if hits:
                yield CellCounts(tuple(row[:width]), int(hits), int(visits), int(visitors),
                                 int(identified), int(anonymous), int(most))

    # --- roll-ups ----------------------------------------------------------------------
    def roll_up(self, day: str, start: int, end: int) -> int:
        """One ``INSERT … SELECT … ON CONFLICT DO NOTHING``: atomic, never overwriting."""
        cols = ", ".join(ROLLUP_CELL)
        return self._write(
            f"INSERT INTO {EVENTS}.rollups (day, cell, {cols}, hits, visits, visitors, "
            f"identified, anonymous) SELECT %s, md5(json_build_array({cols})::text), {cols}, "
            f"{rollup_counts()} FROM {EVENTS}.events WHERE ts >= %s AND ts < %s AND "
            f"kind = ANY(%s) GROUP BY {cols} ON CONFLICT (day, cell) DO NOTHING",
            (day, start, end, list(PAGE_KINDS)))

    def rolled_up_days(self, since: str, until: str) -> list[str]:
        """The days in ``[since, until]`` with roll-up rows."""
        return [day for (day,) in self._rows(
            f"SELECT DISTINCT day FROM {EVENTS}.rollups WHERE day >= %s AND day <= %s "
            "ORDER BY day", (since, until))]

    def last_rolled_up_day(self) -> str | None:
        """The newest day with roll-up rows."""
        day: str | None = self._one(f"SELECT MAX(day) FROM {EVENTS}.rollups")
        return day

    def count_rollups_before(self, day: str) -> int:
        """Roll-up rows before ``day``."""
        return int(self._one(f"SELECT COUNT(*) FROM {EVENTS}.rollups WHERE day < %s", (day,)))

    def delete_rollups_before(self, day: str, batch: int) -> int:
        """One batch of roll-up rows before ``day``."""
        return self._write(f"DELETE FROM {EVENTS}.rollups WHERE (day, cell) IN (SELECT day, "
                           f"cell FROM {EVENTS}.rollups WHERE day < %s LIMIT %s)",
                           (day, int(batch)))

    def oldest_rollup_day(self, since: str) -> str | None:
        """The oldest roll-up day at or after ``since``."""
        day: str | None = self._one(f"SELECT MIN(day) FROM {EVENTS}.rollups WHERE day >= %s",
                                    (since,))
        return day

    # --- daily totals ------------------------------------------------------------------
    def summarise_day(self, day: str, start: int, end: int, now: int) -> int:
        """The day's cells and its mark in one transaction; a second run waits for the
        first (the mark's key) and then adds nothing."""
        with self._conn() as conn, conn.transaction():
            marked = conn.execute(f"INSERT INTO {EVENTS}.daily_days (day, made_at) VALUES "
                                  "(%s, %s) ON CONFLICT (day) DO NOTHING", (day, now))
            if not marked.rowcount:
                return 0
            added = conn.execute(
                summarise_day("%s", f"{EVENTS}.events", f"{EVENTS}.daily_cells",
                              PAGE_KINDS),
                summarise_params(day, start, end, PAGE_KINDS)).rowcount
        return int(added)

    def summarised_days(self, since: str, until: str) -> list[str]:
        """Marked days in ``[since, until]``."""
        return [day for (day,) in self._rows(
            f"SELECT day FROM {EVENTS}.daily_days WHERE day >= %s AND day <= %s ORDER BY day",
            (since, until))]

    def daily_cells(self, query: CellQuery, dimension: str, since: str,
                    until: str) -> Iterator[CellCounts]:
        """Daily rows grouped, by the read index."""
        width = len(query.by)
        for row in self._rows(*daily_read(query, dimension, "%s", f"{EVENTS}.daily_cells",
                                          since, until)):
            hits, visits, visitors, identified, anonymous, most = row[width:]
            if hits:
                yield CellCounts(tuple(row[:width]), int(hits), int(visits), int(visitors),
                                 int(identified), int(anonymous), int(most))

    def count_daily_before(self, day: str) -> int:
        """Daily rows before ``day``."""
        return int(self._one(f"SELECT COUNT(*) FROM {EVENTS}.daily_cells WHERE day < %s",
                             (day,)))

    def delete_daily_before(self, day: str, batch: int) -> int:
        """One batch of daily rows before ``day``; the marks of days left without rows."""
        deleted = self._write(f"DELETE FROM {EVENTS}.daily_cells WHERE id IN (SELECT id FROM "
                              f"{EVENTS}.daily_cells WHERE day < %s LIMIT %s)",
                              (day, int(batch)))
        if deleted < batch:
            self._write(f"DELETE FROM {EVENTS}.daily_days WHERE day < %s", (day,))
        return deleted

    def forget_daily(self) -> int:
        """Every daily row and mark."""
        with self._conn() as conn, conn.transaction():
            deleted = conn.execute(f"DELETE FROM {EVENTS}.daily_cells").rowcount
            conn.execute(f"DELETE FROM {EVENTS}.daily_days")
        return int(deleted)

    def get_meta(self, key: str) -> str | None:
        """A fact about the stored data."""
        rows = self._rows(f"SELECT value FROM {EVENTS}.store_meta WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Record a fact about the stored data."""
        self._write(f"INSERT INTO {EVENTS}.store_meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # --- retention ---------------------------------------------------------------------
    def earliest_event(self, since: int, before: int, pages_only: bool = False) -> int | None:
        """The oldest event time in ``[since, before)``."""
        kind = " AND kind = ANY(%s)" if pages_only else ""
        params: list[Any] = [since, before, *([list(PAGE_KINDS)] if pages_only else [])]
        ts = self._one(f"SELECT MIN(ts) FROM {EVENTS}.events WHERE ts >= %s AND ts < %s"
                       f"{kind}", params)
        return None if ts is None else int(ts)

    def count_events_before(self, before: int) -> int:
        """Events before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM {EVENTS}.events WHERE ts < %s",
                             (before,)))

    def _partitions(self) -> list[tuple[str, int, int]]:
        """The month partitions: ``(name, start, end)``."""
        found = []
        for (name,) in self._rows(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON "
                "n.oid = p.relnamespace WHERE n.nspname = %s AND p.relname = 'events'",
                (EVENTS,)):
            digits = name.removeprefix("events_")
            if len(digits) == 6 and digits.isdigit():
                start = int(datetime(int(digits[:4]), int(digits[4:]), 1,
                                     tzinfo=UTC).timestamp())
                found.append((name, start, _next_month(start)))
        return sorted(found, key=lambda p: p[1])

    def delete_events_between(self, start: int, end: int, batch: int) -> int:
        """Drop the month partitions wholly inside ``[start, end)``, delete in batches at
        the edges."""
        total = 0
        for name, first, last in self._partitions():
            if first >= start and last <= end:
                total += int(self._one(f"SELECT COUNT(*) FROM {EVENTS}.{name}"))
                with self._conn() as conn:
                    conn.execute(f"DROP TABLE {EVENTS}.{name}")
                self._months.discard(first)
        return total + self._batches(
            f"DELETE FROM {EVENTS}.events WHERE (ts, id) IN (SELECT ts, id FROM "
            f"{EVENTS}.events WHERE ts >= %s AND ts < %s LIMIT %s)", (start, end), batch)

    def delete_sends_before(self, before: int) -> int:
        """Delete sends recorded before ``before``."""
        return self._write(f"DELETE FROM {EVENTS}.campaign_sends WHERE recorded_at < %s",
                           (before,))

    # --- campaigns ---------------------------------------------------------------------
    def add_sends(self, campaign: str, list_id: str | None, count: int, now: int,
                  mode: str | None = None) -> None:
        """Record sends."""
        self._write(f"INSERT INTO {EVENTS}.campaign_sends (campaign, list, count, "
                    "recorded_at, mode) VALUES (%s, %s, %s, %s, %s)",
                    (campaign, list_id, count, now, mode))

    def sends_of(self, campaign: str) -> int:
        """All sends recorded for a campaign."""
        return int(self._one(f"SELECT COALESCE(SUM(count), 0) FROM {EVENTS}.campaign_sends "
                             "WHERE campaign = %s", (campaign,)))

    def sends_by_mode(self, campaign: str) -> dict[str | None, int]:
        """Sends summed by mode."""
        return {mode: int(n) for mode, n in self._rows(
            f"SELECT mode, SUM(count) FROM {EVENTS}.campaign_sends WHERE campaign = %s "
            "GROUP BY mode", (campaign,))}

    def campaign_names(self) -> list[str]:
        """Campaign names from sends and email events."""
        return sorted(name for (name,) in self._rows(
            f"SELECT campaign FROM {EVENTS}.campaign_sends UNION SELECT DISTINCT campaign "
            f"FROM {EVENTS}.events WHERE campaign IS NOT NULL"))

    def campaign_seen(self, campaign: str) -> bool:
        """Sends recorded, or opens or clicks seen."""
        return bool(self._rows(f"SELECT 1 FROM {EVENTS}.campaign_sends WHERE campaign = %s "
                               f"UNION ALL SELECT 1 FROM {EVENTS}.events WHERE campaign = %s "
                               "LIMIT 1", (campaign, campaign)))

    def _flagged(self, campaign: str,
                 burst: Burst | None) -> tuple[str, list[Any]] | None:
        """The ids of the campaign's fetches in a burst, as a subquery over an array: found
        once and kept in this process for the same campaign, rule and events (a report
        asks a dozen questions of one campaign). The events are told apart by the
        campaign's newest id, its number of events and of events with a recipient, so new
        events, a purge and an erasure all find the bursts again."""
        if burst is None:
            return None
        state = (campaign, burst, *self._rows(
            f"SELECT MAX(id), COUNT(*), COUNT(recipient) FROM {EVENTS}.events WHERE "
            "campaign = %s", (campaign,))[0])
        found = self._bursts.get((campaign, burst))
        if found is None or found[0] != state:
            ids = [int(i) for (i,) in self._rows(*mailsql.burst_ids(
                "%s", f"{EVENTS}.events", campaign, burst))]
            found = (state, ids)
            with self._lock:
                if len(self._bursts) > 64:
                    self._bursts.clear()
                self._bursts[(campaign, burst)] = found
        return "SELECT unnest(%s::bigint[])", [found[1]]

    def email_counts(self, campaign: str, kind: str, agents: Sequence[str] | None,
                     exclude: Sequence[str] = (),
                     links: Sequence[str] | None = None,
                     burst: Burst | None = None) -> EmailCount:
        """Email events of a campaign, kind and agents (and links)."""
        n, distinct, with_recipient = self._rows(*mailsql.email_counts(
            "%s", f"{EVENTS}.events", campaign, kind, agents, exclude, links,
            self._flagged(campaign, burst)))[0]
        return EmailCount(int(n), int(distinct), int(with_recipient))

    def email_link_counts(self, campaign: str, agents: Sequence[str] | None,
                          exclude: Sequence[str] = (),
                          burst: Burst | None = None) -> dict[str, EmailCount]:
        """Clicks per link id."""
        return {link: EmailCount(int(n), int(d), int(w)) for link, n, d, w in self._rows(
            *mailsql.link_counts("%s", f"{EVENTS}.events", campaign, agents, exclude,
                                 self._flagged(campaign, burst)))}

    def campaign_state(self, campaign: str) -> tuple[Any, ...]:
        """Newest id and counts of the campaign's events and sends, in one statement."""
        return tuple(self._rows(
            f"SELECT MAX(id), COUNT(*), COUNT(recipient), (SELECT MAX(id) FROM "
            f"{EVENTS}.campaign_sends WHERE campaign = %s), (SELECT COUNT(*) FROM "
            f"{EVENTS}.campaign_sends WHERE campaign = %s) FROM {EVENTS}.events WHERE "
            "campaign = %s", (campaign, campaign, campaign))[0])

    def recipient_tracked(self, campaign: str, list_id: str, recipient: str) -> bool:
        """An open or click of the campaign and list names the recipient."""
        return bool(self._rows(
            f"SELECT 1 FROM {EVENTS}.events WHERE recipient = %s AND campaign = %s AND "
            "list = %s AND kind IN ('open', 'click') LIMIT 1", (recipient, campaign, list_id)))

    def active_campaigns(self, start: int, end: int, limit: int) -> list[str]:
        """Campaigns with opens or clicks in ``[start, end)``, the busiest first."""
        return [name for (name,) in self._rows(
            f"SELECT campaign FROM {EVENTS}.events WHERE ts >= %s AND ts < %s AND campaign IS "
            "NOT NULL AND kind IN ('open', 'click') GROUP BY campaign ORDER BY COUNT(*) DESC, "
            "campaign COLLATE \"C\" LIMIT %s", (start, end, int(limit)))]

    # --- subjects ----------------------------------------------------------------------
    _SESSIONS = (f"SELECT session_id FROM {EVENTS}.events WHERE visitor_id = %s AND "
                 "session_id IS NOT NULL")

    def _subject_filter(self, kind: str, subject_id: str) -> tuple[str, tuple[Any, ...]]:
        if kind == "visitor":
            return f"visitor_id = %s OR session_id IN ({self._SESSIONS})", (subject_id,) * 2
        if kind == "recipient":
            return "recipient = %s", (subject_id,)
        raise ValueError(f"Events are not kept by {kind!r} subjects.")

    def subject_events(self, kind: str, subject_id: str) -> list[dict[str, Any]]:
        """A subject's events, oldest first."""
        where, params = self._subject_filter(kind, subject_id)
        return [dict(zip(FIELDS, row, strict=True)) for row in self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM {EVENTS}.events WHERE {where} ORDER BY ts, id",
            params)]

    def erase_subject_events(self, kind: str, subject_id: str, strip: bool,
                             batch: int) -> int:
        """Delete a subject's events, or strip their ids, in batches."""
        v = subject_id
        table = f"{EVENTS}.events"

        def run(action: str, where: str, params: tuple[Any, ...]) -> int:
            return self._batches(f"{action} WHERE (ts, id) IN (SELECT ts, id FROM {table} "
                                 f"WHERE {where} LIMIT %s)", params, batch)

        if kind == "recipient":
            if strip:
                return run(f"UPDATE {table} SET recipient = NULL", "recipient = %s", (v,))
            return run(f"DELETE FROM {table}", "recipient = %s", (v,))
        if kind != "visitor":
            raise ValueError(f"Events are not kept by {kind!r} subjects.")
        session_rows = (f"visitor_id IS DISTINCT FROM %s AND session_id IN "
                        f"({self._SESSIONS})")
        if strip:
            n = run(f"UPDATE {table} SET session_id = NULL", session_rows, (v, v))
            return n + run(f"UPDATE {table} SET visitor_id = NULL, session_id = NULL",
                           "visitor_id = %s", (v,))
        n = run(f"DELETE FROM {table}", session_rows, (v, v))
        return n + run(f"DELETE FROM {table}", "visitor_id = %s", (v,))


_RECEIPT_COLUMNS = ("seq, receipt_id, prev_hash, hash, body, tombstone_reason, tombstoned_at, "
                    "subject_id, created_at, key_id, tombstone_seal")
_EXPIRED_SUBJECTS = (f"SELECT subject_id FROM {IDENTITY}.receipts WHERE subject_id IS NOT "
                     "NULL GROUP BY subject_id HAVING MAX(created_at) < %s AND "
                     "COUNT(body) > 0")


class PostgresIdentity(_Store):
    """The identity store on PostgreSQL."""

    kind = "identity"
    schema = IDENTITY
    copied = (("receipts", ("seq",), "seq"), ("suppressions", ("list", "recipient"), None),
              ("api_tokens", ("id",), "id"), ("audit", ("seq",), "seq"),
              ("users", ("name",), None), ("remember_accounts", ("account",), None),
              ("remember_tokens", ("selector",), None))

    # --- receipts ----------------------------------------------------------------------
    def append_receipt(self, receipt_id: str, subject_id: str, created_at: int, body: str,
                       sign: ReceiptSigner) -> ReceiptRow:
        """Link the receipt to the last one and insert it; appends are serialised by an
        advisory lock, so two collectors never link to the same receipt."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('cleargif receipts'))")
            last = conn.execute(f"SELECT hash FROM {IDENTITY}.receipts ORDER BY seq DESC "
                                "LIMIT 1").fetchone()
            prev = last[0] if last else GENESIS
            key_id, digest = sign(prev, body)
            seq = conn.execute(
                f"INSERT INTO {IDENTITY}.receipts (receipt_id, subject_id, created_at, "
                "prev_hash, hash, body, key_id, granted, gpc, dnt) VALUES (%s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s) RETURNING seq",
                (receipt_id, subject_id, created_at, prev, digest, body, key_id,
                 *receiptsql.facts(body))).fetchone()[0]
        return ReceiptRow(int(seq), receipt_id, prev, digest, body, subject_id=subject_id,
                          created_at=created_at, key_id=key_id)

    @staticmethod
    def _receipt(row: Sequence[Any]) -> ReceiptRow:
        seq, receipt_id, prev, digest, body, reason, at, subject, created, key, seal = row
        return ReceiptRow(int(seq), receipt_id, prev, digest, body, reason,
                          None if at is None else int(at), subject,
                          None if created is None else int(created), key, seal)

    def receipt_rows(self) -> Iterator[ReceiptRow]:
        """Every receipt in chain order."""
        for row in self._rows(f"SELECT {_RECEIPT_COLUMNS} FROM {IDENTITY}.receipts "
                              "ORDER BY seq"):
            yield self._receipt(row)

    def subject_receipts(self, subject_id: str) -> list[ReceiptRow]:
        """A subject's receipts with a body, oldest first."""
        return [self._receipt(row) for row in self._rows(
            f"SELECT {_RECEIPT_COLUMNS} FROM {IDENTITY}.receipts WHERE subject_id = %s AND "
            "body IS NOT NULL ORDER BY seq", (subject_id,))]

    def _tombstone(self, where: str, params: Sequence[Any], reason: str, now: int,
                   seal: TombstoneSealer) -> int:
        with self._conn() as conn, conn.transaction():
            rows = [self._receipt(row) for row in conn.execute(
                f"SELECT {_RECEIPT_COLUMNS} FROM {IDENTITY}.receipts WHERE body IS NOT NULL "
                f"AND ({where}) FOR UPDATE", tuple(params)).fetchall()]
            with conn.cursor() as cur:
                cur.executemany(
                    f"UPDATE {IDENTITY}.receipts SET body = NULL, subject_id = NULL, "
                    "granted = NULL, gpc = NULL, dnt = NULL, tombstone_reason = %s, "
                    "tombstoned_at = %s, tombstone_seal = %s WHERE seq = %s",
                    [(reason, now, seal(row, reason, now), row.seq) for row in rows])
        return len(rows)

    def tombstone_subject(self, subject_id: str, reason: str, now: int,
                          seal: TombstoneSealer) -> int:
        """Tombstone a subject's receipts."""
        return self._tombstone("subject_id = %s", (subject_id,), reason, now, seal)

    def count_expired_receipts(self, before: int) -> int:
        """Receipts of subjects whose last decision is before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM {IDENTITY}.receipts WHERE body IS NOT "
                             f"NULL AND subject_id IN ({_EXPIRED_SUBJECTS})", (before,)))

    def tombstone_expired(self, before: int, reason: str, now: int, seal: TombstoneSealer,
                          batch: int) -> int:
        """Whole subjects per batch."""
        return self._tombstone(f"subject_id IN ({_EXPIRED_SUBJECTS} LIMIT %s)",
                               (before, int(batch)), reason, now, seal)

    def oldest_live_receipt(self, unexpired_before: int | None = None) -> int | None:
        """The oldest receipt with a body (of an unexpired subject, when asked)."""
        if unexpired_before is None:
            ts = self._one(f"SELECT MIN(created_at) FROM {IDENTITY}.receipts WHERE body IS "
                           "NOT NULL")
        else:
            ts = self._one(f"SELECT MIN(created_at) FROM {IDENTITY}.receipts WHERE body IS "
                           f"NOT NULL AND subject_id NOT IN ({_EXPIRED_SUBJECTS})",
                           (unexpired_before,))
        return None if ts is None else int(ts)

    # --- suppressions ------------------------------------------------------------------
    def suppress(self, entries: Iterable[Suppression], now: int) -> int:
        """Add entries in one transaction; how many were new."""
        added = 0
        with self._conn() as conn, conn.transaction():
            for entry in entries:
                added += conn.execute(
                    f"INSERT INTO {IDENTITY}.suppressions (list, recipient, campaign, "
                    "created_at, reason) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (list, "
                    "recipient) DO NOTHING",
                    (entry.list, entry.recipient, entry.campaign, now, entry.reason)).rowcount
        return added

    def is_suppressed(self, list_id: str, recipient: str, all_mail: str) -> bool:
        """Whether an entry covers ``recipient`` on ``list_id``."""
        return bool(self._rows(f"SELECT 1 FROM {IDENTITY}.suppressions WHERE recipient = %s "
                               "AND list IN (%s, %s) LIMIT 1", (recipient, list_id, all_mail)))

    _SUPPRESSION = (f"SELECT list, recipient, campaign, created_at, id, reason FROM "
                    f"{IDENTITY}.suppressions")

    @staticmethod
    def _suppression(row: Sequence[Any]) -> SuppressionRow:
        lst, rec, camp, ts, ident, reason = row
        return SuppressionRow(lst, rec, camp, int(ts), (int(ts), int(ident)), reason)

    def suppressions_since(self, since: int, after: tuple[int, int] | None,
                           limit: int) -> list[SuppressionRow]:
        """A page of entries, oldest first; the cursor is (created_at, id)."""
        where, params = "created_at >= %s", [since]
        if after is not None:
            where += " AND (created_at, id) > (%s, %s)"
            params += [after[0], after[1]]
        return [self._suppression(row) for row in self._rows(
            f"{self._SUPPRESSION} WHERE {where} ORDER BY created_at, id LIMIT %s",
            (*params, int(limit)))]

    def suppressions_of(self, recipient: str) -> list[SuppressionRow]:
        """A recipient's entries."""
        return [self._suppression(row) for row in self._rows(
            f"{self._SUPPRESSION} WHERE recipient = %s ORDER BY created_at, list",
            (recipient,))]

    def unsubscribes_of(self, campaign: str) -> int:
        """Unsubscribes whose provenance is ``campaign``."""
        return int(self._one(f"SELECT COUNT(*) FROM {IDENTITY}.suppressions WHERE "
                             "campaign = %s AND reason = 'unsubscribe'", (campaign,)))

    def suppressions_by_reason(self, campaign: str) -> dict[str, int]:
        """Entries whose provenance is ``campaign``, by reason."""
        return {reason: int(n) for reason, n in self._rows(
            f"SELECT reason, COUNT(*) FROM {IDENTITY}.suppressions WHERE campaign = %s "
            "GROUP BY reason ORDER BY reason", (campaign,))}

    def count_suppressions_before(self, before: int) -> int:
        """Entries created before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM {IDENTITY}.suppressions WHERE "
                             "created_at < %s", (before,)))

    def delete_suppressions_before(self, before: int, batch: int) -> int:
        """One batch of old entries."""
        return self._write(f"DELETE FROM {IDENTITY}.suppressions WHERE id IN (SELECT id FROM "
                           f"{IDENTITY}.suppressions WHERE created_at < %s LIMIT %s)",
                           (before, int(batch)))

    def oldest_suppression(self, since: int = 0) -> int | None:
        """The oldest entry's time at or after ``since``."""
        ts = self._one(f"SELECT MIN(created_at) FROM {IDENTITY}.suppressions WHERE "
                       "created_at >= %s", (since,))
        return None if ts is None else int(ts)

    # --- API tokens --------------------------------------------------------------------
    def add_api_token(self, name: str, token_hash: str, scopes: str, now: int) -> bool:
        """Store a token unless a live one has the name (a unique index says so)."""
        return self._write(f"INSERT INTO {IDENTITY}.api_tokens (name, token_hash, scopes, "
                           "created_at) VALUES (%s, %s, %s, %s) ON CONFLICT (name) WHERE "
                           "revoked_at IS NULL DO NOTHING",
                           (name, token_hash, scopes, now)) == 1

    def revoke_api_tokens(self, name: str, now: int) -> int:
        """Revoke the live tokens of a name."""
        return self._write(f"UPDATE {IDENTITY}.api_tokens SET revoked_at = %s WHERE name = %s "
                           "AND revoked_at IS NULL", (now, name))

    def api_token(self, token_hash: str) -> TokenRow | None:
        """The live token with that hash."""
        rows = self._rows(f"SELECT name, scopes, created_at, revoked_at FROM "
                          f"{IDENTITY}.api_tokens WHERE token_hash = %s AND revoked_at IS NULL",
                          (token_hash,))
        return TokenRow(*rows[0]) if rows else None

    def api_tokens(self) -> list[TokenRow]:
        """Every token, oldest first."""
        return [TokenRow(*row) for row in self._rows(
            f"SELECT name, scopes, created_at, revoked_at FROM {IDENTITY}.api_tokens "
            "ORDER BY id")]

    # --- the audit log -----------------------------------------------------------------
    def append_audit(self, ts: int, actor: str, action: str, subject_hmac: str | None,
                     reason: str | None, detail: str | None) -> None:
        """Append one entry."""
        self._write(f"INSERT INTO {IDENTITY}.audit (ts, actor, action, subject_hmac, reason, "
                    "detail) VALUES (%s, %s, %s, %s, %s, %s)",
                    (ts, actor, action, subject_hmac, reason, detail))

    def audit_rows(self, since: int | None = None, until: int | None = None,
                   subject_hmacs: Sequence[str] | None = None) -> list[AuditRow]:
        """Entries in order, filtered."""
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if since is not None:
            where.append("ts >= %s")
            params.append(since)
        if until is not None:
            where.append("ts < %s")
            params.append(until)
        if subject_hmacs is not None:
            if not subject_hmacs:
                return []
            where.append("subject_hmac = ANY(%s)")
            params.append(list(subject_hmacs))
        return [AuditRow(int(s), int(t), a, act, h, r, d) for s, t, a, act, h, r, d in
                self._rows(f"SELECT seq, ts, actor, action, subject_hmac, reason, detail "
                           f"FROM {IDENTITY}.audit WHERE {' AND '.join(where)} ORDER BY seq",
                           params)]

    _LIVE_AUDIT = "ts < %s AND action != 'tombstone'"

    def count_audit_before(self, before: int) -> int:
        """Live entries before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM {IDENTITY}.audit WHERE {self._LIVE_AUDIT}",
                             (before,)))

    def tombstone_audit_before(self, before: int, batch: int) -> int:
        """One batch of old entries emptied in place."""
        return self._write(
            f"UPDATE {IDENTITY}.audit SET actor = '-', action = 'tombstone', subject_hmac = "
            "NULL, detail = NULL, reason = 'retention' WHERE seq IN (SELECT seq FROM "
            f"{IDENTITY}.audit WHERE {self._LIVE_AUDIT} LIMIT %s)", (before, int(batch)))

    def oldest_audit(self, since: int) -> int | None:
        """The oldest live entry's time at or after ``since``."""
        ts = self._one(f"SELECT MIN(ts) FROM {IDENTITY}.audit WHERE action != 'tombstone' "
                       "AND ts >= %s", (since,))
        return None if ts is None else int(ts)

    # --- consent decisions, counted ----------------------------------------------------
    def consent_decisions(self, days: Sequence[tuple[str, int, int]],
                          purposes: Sequence[str]) -> list[ConsentCounts]:
        """Receipts of each day counted from the index of their facts (the purposes
        granted, GPC, DNT); no JSON is read."""
        if not days:
            return []
        sql = receiptsql.decisions(
            "unnest(%s::text[], %s::bigint[], %s::bigint[]) AS d(label, start, stop)", "%s",
            f"{IDENTITY}.receipts", purposes)
        width = len(purposes)
        # One pattern per purpose comes first in the text, then the days' arrays.
        return [ConsentCounts(str(row[0]), int(row[1]), int(row[2]),
                              tuple(int(n) for n in row[3:3 + width]), int(row[3 + width]),
                              int(row[4 + width]))
                for row in self._rows(sql, [*receiptsql.patterns(purposes),
                                            *_day_arrays(days)])]

    def deciding_subjects(self, days: Sequence[tuple[str, int, int]]) -> int:
        """Distinct subjects of the days' receipts."""
        if not days:
            return 0
        return int(self._one(
            "SELECT COUNT(DISTINCT r.subject_id) FROM unnest(%s::text[], %s::bigint[], "
            f"%s::bigint[]) AS d(label, start, stop) JOIN {IDENTITY}.receipts r ON "
            "r.created_at >= d.start AND r.created_at < d.stop WHERE r.body IS NOT NULL",
            _day_arrays(days)))

    # --- dashboard accounts ------------------------------------------------------------
    def add_user(self, name: str, password_hash: str, now: int) -> bool:
        """Insert the account unless the name is taken (one statement: no race)."""
        return self._write(f"INSERT INTO {IDENTITY}.users (name, password_hash, created_at) "
                           "VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING",
                           (name, password_hash, now)) > 0

    def remove_user(self, name: str) -> bool:
        """Delete the account."""
        return self._write(f"DELETE FROM {IDENTITY}.users WHERE name = %s", (name,)) > 0

    def user_password_hash(self, name: str) -> str | None:
        """The account's password hash."""
        rows = self._rows(f"SELECT password_hash FROM {IDENTITY}.users WHERE name = %s",
                          (name,))
        return str(rows[0][0]) if rows else None

    def users(self) -> list[UserRow]:
        """Every account, by name (in byte order, as on SQLite)."""
        return [UserRow(name, int(created), None if last is None else int(last))
                for name, created, last in self._rows(
                    f"SELECT name, created_at, last_login_at FROM {IDENTITY}.users "
                    "ORDER BY name COLLATE \"C\"")]

    def record_login(self, name: str, now: int) -> None:
        """Note the latest sign-in."""
        self._write(f"UPDATE {IDENTITY}.users SET last_login_at = %s WHERE name = %s",
                    (now, name))

    # --- remember-me (the SDK's tables) ------------------------------------------------
    def has_remember_tables(self) -> bool:
        """Whether the SDK created its tables here."""
        return self._one("SELECT to_regclass(%s) IS NOT NULL",
                         (f"{IDENTITY}.remember_tokens",)) is True

    def count_expired_remember(self, before: float) -> int:
        """Tokens that expired before ``before``."""
        return int(self._one(f"SELECT COUNT(*) FROM {IDENTITY}.remember_tokens WHERE "
                             "expires_at < %s", (before,)))

    def count_forgettable_accounts(self, changed_before: float, tokens_from: float) -> int:
        """Epoch rows a purge would forget."""
        return int(self._one(
            f"SELECT COUNT(*) FROM {IDENTITY}.remember_accounts a WHERE a.changed_at < %s AND "
            f"NOT EXISTS (SELECT 1 FROM {IDENTITY}.remember_tokens t WHERE t.account = "
            "a.account AND t.expires_at >= %s)", (changed_before, tokens_from)))

    def oldest_remember_token(self, expiring_from: float) -> float | None:
        """The oldest token still kept."""
        ts = self._one(f"SELECT MIN(created_at) FROM {IDENTITY}.remember_tokens WHERE "
                       "expires_at >= %s", (expiring_from,))
        return None if ts is None else float(ts)

