"""The identity database as the SDK's remember-me store uses it: a SQLite file or a
PostgreSQL database, behind the same three operations (a write transaction, a read, a
checkpoint), so :mod:`sdk.remember` is written once.

The SDK imports neither Flask nor the collector; psycopg is needed only for PostgreSQL
(the ``postgres`` extra). On PostgreSQL the tables live in the collector's identity schema,
``cleargif_identity``, and every write transaction takes one advisory lock, which
serialises remember-me writes as SQLite's write lock does.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError, StorageError
from .sqlite import SQLiteFile, sqlite_file

#: The collector's identity schema on PostgreSQL.
IDENTITY_SCHEMA = "cleargif_identity"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    """What a statement answers with."""

    @property
    def rowcount(self) -> int:
        """Rows the statement touched."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""


class Transaction(Protocol):
    """The connection of one write transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with ``?`` placeholders."""


class Database(Protocol):
    """A database the remember-me store keeps its tables in."""

    location: str

    def write(self) -> Any:
        """A context manager: one write transaction, serialised with other writers."""

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query written with ``?`` placeholders."""

    def checkpoint(self, mode: str) -> None:
        """Let deleted rows leave the files where the database can (SQLite's WAL)."""

    def close(self) -> None:
        """Close this process's connections."""


def identity_database(url: str, sqlite_schema: str, postgres_schema: str,
                      tables: Sequence[str]) -> Database:
    """The database behind ``IDENTITY_URL``.

    :param tables: the table names the SQL uses, qualified with the identity schema on
        PostgreSQL.
    :raises ConfigError: the URL is neither a SQLite file nor a PostgreSQL database.
    """
    if not isinstance(url, str) or not url:
        raise ConfigError("IDENTITY_URL", "IDENTITY_URL is not set: set it to "
                          "sqlite:///path/to/identity.db or postgresql://user@host/database, "
                          "the collector's identity database.")
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(url, postgres_schema, tables)
    path = sqlite_file(url)
    if not path or path == ":memory:" or "?" in path:
        raise ConfigError("IDENTITY_URL", f"IDENTITY_URL {url!r} is not a database URL; write "
                          "it as sqlite:///path/to/identity.db (four slashes for an absolute "
                          "path) or postgresql://user:password@host/database.")
    return SQLiteDatabase(path, sqlite_schema)


class SQLiteDatabase:
    """A SQLite file (per-thread connections, :class:`sdk.sqlite.SQLiteFile`)."""

    def __init__(self, path: str, schema: str) -> None:
        self.path = path
        self.location = path
        self._file = SQLiteFile(path, schema=schema,
                                hint="Check IDENTITY_URL and that its folder is writable.")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock is taken before the first
        read, so two processes recalling the same token are serialised instead of one
        failing with SQLITE_BUSY when it upgrades its read lock."""
        try:
            with self._file.transaction() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StorageError(f"The identity database {self.path} could not be written: "
                               f"{exc}.") from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query."""
        try:
            return self._file.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"The identity database {self.path} could not be read: "
                               f"{exc}.") from exc

    def checkpoint(self, mode: str) -> None:
        """``PRAGMA wal_checkpoint(mode)``."""
        try:
            self._file.conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"The identity database {self.path} could not be "
                               f"checkpointed: {exc}.") from exc

    def close(self) -> None:
        """Close this process's connections."""
        self._file.close()


class _Translated:
    """A PostgreSQL connection that takes the remember-me store's SQL as written for
    SQLite: ``?`` placeholders and unqualified table names."""

    def __init__(self, conn: Any, translate: Any) -> None:
        self._conn = conn
        self._translate = translate

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor: Cursor = self._conn.execute(self._translate(sql), tuple(params))
        return cursor


class PostgresDatabase:
    """A PostgreSQL database: a pool per process, opened on first use (after a fork)."""

    path = None

    def __init__(self, url: str, schema: str, tables: Sequence[str]) -> None:
        self.url = url
        parts = urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        self.location = urlunsplit((parts.scheme, f"{parts.username}@{host}"
                                    if parts.username else host, parts.path, "", ""))
        self._schema = schema
        self._names = re.compile(r"\b(" + "|".join(map(re.escape, tables)) + r")\b")
        self._pool: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def _sql(self, sql: str) -> str:
        return self._names.sub(rf"{IDENTITY_SCHEMA}.\1", sql.replace("?", "%s"))

    def _error(self, doing: str, exc: Exception) -> StorageError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StorageError(f"The identity database {self.location} could not be {doing}: "
                            f"{detail}.")

    def _open(self) -> Any:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError("IDENTITY_URL", "IDENTITY_URL names a PostgreSQL database, "
                              "which needs psycopg: pip install 'cleargif[postgres]'.") from None
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            pool = ConnectionPool(self.url, min_size=1, max_size=4, open=False,
                                  kwargs={"autocommit": True}, timeout=10.0,
                                  name="cleargif-remember")
            try:
                pool.open(wait=True, timeout=10.0)
                with pool.connection() as conn, conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('cleargif remember "
                                 "schema'))")
                    # The identity role may own its schema without the right to create
                    # schemas: make it only when it is missing.
                    if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                        (IDENTITY_SCHEMA,)).fetchone():
                        conn.execute(f"CREATE SCHEMA {IDENTITY_SCHEMA}")
                    conn.execute(self._schema.encode())
            except psycopg.Error as exc:
                pool.close()
                raise self._error("prepared", exc) from exc
            except Exception as exc:  # psycopg_pool's own timeout
                pool.close()
                raise self._error("reached", exc) from exc
            self._pool, self._pid = pool, os.getpid()
            return pool

    @contextmanager
    def write(self) -> Iterator[_Translated]:
        """One transaction, serialised with every other remember-me write."""
        import psycopg

        pool = self._open()
        try:
            with pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('cleargif remember'))")
                yield _Translated(conn, self._sql)
        except psycopg.Error as exc:
            raise self._error("written", exc) from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query."""
        import psycopg

        pool = self._open()
        try:
            with pool.connection() as conn:
                return list(conn.execute(self._sql(sql), tuple(params)).fetchall())
        except psycopg.Error as exc:
            raise self._error("read", exc) from exc

    def checkpoint(self, mode: str) -> None:
        """Nothing to do: PostgreSQL reclaims deleted rows with (auto)vacuum."""

    def close(self) -> None:
        """Close this process's pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
