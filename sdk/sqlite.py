"""One SQLite file in WAL mode with a connection per thread, opened lazily and never shared
across a fork: the connection handling both the collector's stores and the SDK's
remember-me store use.

A forked child opens its own connections. It never closes the ones it inherited, because
closing a connection can checkpoint and remove the WAL that the parent is still using;
they are kept referenced (and unused) for the life of the child instead.

Under gevent's monkey-patching (``cleargif serve`` runs gevent workers) ``threading.local``
is per greenlet, that is per HTTP connection: each would open a SQLite connection of its
own. Connections stay per operating-system thread there too (:func:`real_threads`); the
greenlets of a worker share its one connection, which is safe because nothing inside a
transaction yields to another greenlet (SQLite's calls do not).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import StorageError

BUSY_TIMEOUT_MS = 10_000

# Connections inherited over a fork: referenced so that garbage collection never closes
# them in the child.
_inherited: list[sqlite3.Connection] = []


class RealThreads:
    """``threading``'s per-thread storage, lock, thread start and sleep as the operating
    system provides them, even where gevent has patched them to act per greenlet."""

    def __init__(self) -> None:
        monkey = sys.modules.get("gevent.monkey")
        patched = monkey is not None and monkey.is_module_patched("threading")
        get = monkey.get_original if patched and monkey is not None else None
        import _thread
        import time

        self.local: Callable[[], threading.local] = (
            get("threading", "local") if get else threading.local)
        self.lock: Callable[[], Any] = get("_thread", "allocate_lock") if get else \
            _thread.allocate_lock
        self.start: Callable[..., int] = get("_thread", "start_new_thread") if get else \
            _thread.start_new_thread
        self.sleep: Callable[[float], None] = get("time", "sleep") if get else time.sleep


def real_threads() -> RealThreads:
    """The operating system's threading primitives (read when called: gevent patches them
    in a worker after this module was imported)."""
    return RealThreads()


def create_private(path: str) -> None:
    """Create the file (mode 0600) and its folder (0700) when absent: the stores hold
    pseudonymous ids and the identity store links them to people, so only the owner may
    read them. SQLite gives the -wal and -shm files the database file's mode."""
    folder = Path(path).parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def sqlite_file(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (``sqlite:///rel.db`` is relative to the
    working directory, ``sqlite:////abs.db`` absolute); empty for any other URL."""
    prefix = "sqlite:///"
    return url[len(prefix):] if url.startswith(prefix) else ""


class SQLiteFile:
    """Per-thread connections to one SQLite file.

    :param schema: SQL run on each new connection (``CREATE … IF NOT EXISTS``).
    :param pragmas: extra pragmas run before the schema, e.g. ``"page_size = 1024"``.
    :param prepare: called with each new connection after the pragmas and the schema
        (the collector's stores apply their numbered migrations there).
    :param sync: ``normal`` (a commit survives the death of the process) or ``full`` (a
        power cut too).
    :param hint: what to check when the file cannot be opened, for the error message.
    """

    def __init__(self, path: str, *, schema: str = "", pragmas: Iterable[str] = (),
                 sync: str = "normal", hint: str = "Check that its folder is writable.",
                 prepare: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.path = path
        self.schema = schema
        self.prepare = prepare
        self.pragmas = tuple(pragmas)
        self.sync = "FULL" if sync == "full" else "NORMAL"
        self.hint = hint
        self._threads = real_threads()
        self._local = self._threads.local()
        self._lock = self._threads.lock()
        self._pid = os.getpid()
        self._conns: list[sqlite3.Connection] = []

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (so after any fork)."""
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    _inherited.extend(self._conns)
                    self._conns = []
                    # Read again: a gevent worker patches threading after the fork.
                    self._threads = real_threads()
                    self._local = self._threads.local()
                    self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            create_private(self.path)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"Cannot open the SQLite file {self.path}: {exc}. "
                               f"{self.hint}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            for pragma in self.pragmas:
                conn.execute(f"PRAGMA {pragma}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.sync}")
            # Deleted and moved cells are zeroed, never left in free pages: SQLite builds
            # differ in this default, and bytes freed once without it (by a purge, or by a
            # page split) stay in the file where no later erasure can reach them.
            conn.execute("PRAGMA secure_delete = ON")
            if self.schema:
                conn.executescript(self.schema)
            if self.prepare is not None:
                self.prepare(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"Cannot prepare the SQLite file {self.path}: {exc}. Check "
                               "that it is a SQLite database and writable.") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: the write lock is taken up front, so two
        writers never deadlock upgrading a read lock."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself failed (disk full): a connection left inside its
            # transaction would hold the write lock and fail every later write.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def discard(self) -> None:
        """Close this thread's connection after a failed write; the next use opens a new one.

        A connection opened while the file was read-only stays read-only for good, and one
        that met a disk error may keep failing: opening anew is what lets the store recover
        once the cause is gone, without a restart.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
        # A connection that cannot even close is dropped all the same.
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def close(self) -> None:
        """Close every connection this process opened on the file."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._local = self._threads.local()
        for conn in conns:
            conn.close()
