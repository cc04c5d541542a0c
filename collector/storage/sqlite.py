"""The SQLite backend: one file per store, WAL, a connection per thread opened after fork.

Durability: every write commits before it returns. In WAL mode ``synchronous=NORMAL``
survives the death of the process (``kill -9``) but not a power cut; ``SYNC=full`` makes
each commit wait for the disk. Several processes write at once; ``BEGIN IMMEDIATE`` and
a busy timeout serialise them without "database is locked" errors.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sdk.sqlite import SQLiteFile

from ..consent.receipts import GENESIS, KeysLoader, ReceiptKeys, ReceiptRow, tombstone_text
from ..errors import ConfigError, StorageError
from ..ingest.records import FIELDS

EVENTS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{f} {'INTEGER' if f in ('ts', 'revision') else 'TEXT'}" for f in FIELDS)}
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_campaign ON events (campaign) WHERE campaign IS NOT NULL;
CREATE TABLE IF NOT EXISTS campaign_sends (
    id INTEGER PRIMARY KEY,
    campaign TEXT NOT NULL,
    list TEXT,
    count INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS campaign_sends_campaign ON campaign_sends (campaign);
CREATE TABLE IF NOT EXISTS dropped (
    day TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, reason)
);
CREATE TABLE IF NOT EXISTS rollups (
    day TEXT NOT NULL,
    site TEXT,
    kind TEXT NOT NULL,
    path TEXT,
    referrer_host TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    lang TEXT,
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    revision INTEGER,
    hits INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    visitors INTEGER NOT NULL
);
-- One row per day and cell. NULLs are never equal in a UNIQUE index, so each nullable
-- column is indexed as IFNULL(col, x'00'): a blob equals no text, so NULL and '' differ.
CREATE UNIQUE INDEX IF NOT EXISTS rollups_cell ON rollups (day, IFNULL(site, x'00'), kind,
    IFNULL(path, x'00'), IFNULL(referrer_host, x'00'), IFNULL(browser, x'00'),
    IFNULL(os, x'00'), IFNULL(device, x'00'), IFNULL(lang, x'00'),
    IFNULL(utm_source, x'00'), IFNULL(utm_medium, x'00'), IFNULL(utm_campaign, x'00'),
    IFNULL(revision, x'00'));
-- Facts about the stored data, such as the time zone roll-ups are filed in.
CREATE TABLE IF NOT EXISTS store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

IDENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    seq INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    subject_id TEXT,
    created_at INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT,
    tombstone_reason TEXT,
    tombstoned_at INTEGER,
    -- Which receipt key signed the hash, and the tombstone's own seal ("key id:hmac").
    key_id TEXT NOT NULL DEFAULT '',
    tombstone_seal TEXT
);
CREATE INDEX IF NOT EXISTS receipts_subject ON receipts (subject_id);
CREATE TABLE IF NOT EXISTS suppressions (
    list TEXT NOT NULL,
    recipient TEXT NOT NULL,
    campaign TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list, recipient)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_hmac TEXT,
    reason TEXT,
    detail TEXT
);
"""


class _SQLite(SQLiteFile):
    """A store on one SQLite file (connections per thread: :class:`sdk.sqlite.SQLiteFile`)."""

    schema = ""
    #: Extra pragmas run on every new connection, before the schema.
    pragmas: tuple[str, ...] = ()

    def __init__(self, path: str, *, sync: str = "normal") -> None:
        super().__init__(path, schema=self.schema, pragmas=self.pragmas, sync=sync,
                         hint="Check that DATA_DIR exists and is writable.")

    @property
    def location(self) -> str:
        """The file's absolute path."""
        return os.path.abspath(self.path)

    def exists(self) -> bool:
        """Whether the file exists."""
        return os.path.exists(self.path)

    def ping(self) -> None:
        """Check that the file can be read (and the schema exists)."""
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageError(f"The SQLite store {self.path} does not answer: {exc}.") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query; rows as tuples."""
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction."""
        try:
            with self.transaction() as conn:
                return conn.execute(sql, tuple(params)).rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"Writing {self.path} failed: {exc}.") from exc

    def wal_truncate(self, attempts: int = 3) -> bool:
        """Copy the WAL into the database and truncate it to zero bytes, so that the old
        page images it holds (erased data among them) leave the disk.

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


CHECKPOINT_SECONDS = 1.0


class _Checkpointer:
    """A daemon thread that moves the WAL into the database every second (PASSIVE: it
    never blocks writers), started by the first write of each process."""

    def __init__(self, store: _SQLite) -> None:
        self.pid = os.getpid()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(store,),
                                       name="cleargif-checkpoint", daemon=True)
        self.thread.start()

    def _run(self, store: _SQLite) -> None:
        while not self.stop.wait(CHECKPOINT_SECONDS):
            try:
                store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except (sqlite3.Error, StorageError):
                return  # the store is gone (closed or removed); writes report their own errors


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


class SQLiteEvents(_SQLite):
    """The event store on SQLite.

    Each hit commits its own small transaction, so most of a hit's cost is the pages it
    writes to the WAL: pages of 1 KiB (for a new file) keep that small. WAL checkpoints,
    which fsync the database file, run in a background thread of each process
    (:data:`CHECKPOINT_SECONDS`) instead of inside whichever hit crosses the threshold;
    a large automatic threshold remains as a safety net.
    """

    schema = EVENTS_SCHEMA
    pragmas = ("page_size = 1024", "wal_autocheckpoint = 20000")

    def __init__(self, path: str, *, sync: str = "normal") -> None:
        super().__init__(path, sync=sync)
        self._checkpointer: _Checkpointer | None = None

    def add_event(self, record: Mapping[str, Any]) -> None:
        """Insert and commit one record before returning."""
        if self._checkpointer is None or self._checkpointer.pid != os.getpid():
            self._checkpointer = _Checkpointer(self)
        try:
            # One statement in autocommit mode is its own durable transaction.
            self.conn.execute(_INSERT_EVENT, _event_values(record))
        except sqlite3.Error as exc:
            raise StorageError(f"Writing an event to {self.path} failed: {exc}.") from exc

    def close(self) -> None:
        """Stop this process's checkpointer and close its connections."""
        if self._checkpointer is not None:
            self._checkpointer.stop.set()
            self._checkpointer = None
        super().close()

    def count_dropped(self, day: str, reason: str) -> None:
        """Add one to the dropped counter of ``(day, reason)``."""
        self.execute("INSERT INTO dropped (day, reason, n) VALUES (?, ?, 1) "
                     "ON CONFLICT (day, reason) DO UPDATE SET n = n + 1", (day, reason))

    def dropped(self) -> dict[str, int]:
        """Dropped hits by reason."""
        return {r: n for r, n in self.query(
            "SELECT reason, SUM(n) FROM dropped GROUP BY reason ORDER BY reason")}

    def iter_events(self, where: str = "", params: Sequence[Any] = ()) -> Iterator[dict[str,
                                                                                        Any]]:
        """Raw events, oldest first."""
        sql = f"SELECT {', '.join(FIELDS)} FROM events"
        if where:
            sql += f" WHERE {where}"
        try:
            # A cursor, not fetchall: exports stream through millions of rows.
            cursor = self.conn.execute(sql + " ORDER BY ts, id", tuple(params))
            for row in cursor:
                yield dict(zip(FIELDS, row, strict=True))
        except sqlite3.Error as exc:
            raise StorageError(f"Reading {self.path} failed: {exc}.") from exc

    def delete_events(self, where: str, params: Sequence[Any], batch: int = 500) -> int:
        """Delete in transactions of ``batch`` rows so hits keep flowing meanwhile."""
        total = 0
        while True:
            n = self.execute(f"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                             f"{where} LIMIT {int(batch)})", params)
            total += n
            if n < batch:
                return total


class SQLiteIdentity(_SQLite):
    """The identity store on SQLite.

    :param receipt_keys: builds the receipt chain's keys when first needed (commands
        that never touch a receipt need no key).
    """

    schema = IDENTITY_SCHEMA

    def __init__(self, path: str, *, sync: str = "normal",
                 receipt_keys: KeysLoader | None = None) -> None:
        super().__init__(path, sync=sync)
        self._load_keys = receipt_keys
        self._keys: ReceiptKeys | None = None

    @property
    def receipt_keys(self) -> ReceiptKeys:
        """The receipt chain's keys.

        :raises ConfigError: no ``SECRET_KEYS`` (the message says how to make one).
        """
        if self._keys is None:
            if self._load_keys is None:
                raise ConfigError("SECRET_KEYS", "This identity store was opened without "
                                  "SECRET_KEYS, which receipts are signed with.")
            self._keys = self._load_keys()
        return self._keys

    def append_receipt(self, receipt_id: str, subject_id: str, created_at: int,
                       body: str) -> ReceiptRow:
        """Link the receipt to the last one and insert it, under the write lock."""
        keys = self.receipt_keys
        try:
            with self.transaction() as conn:
                last = conn.execute("SELECT hash FROM receipts ORDER BY seq DESC "
                                    "LIMIT 1").fetchone()
                prev = last[0] if last else GENESIS
                key_id, digest = keys.sign(prev, body)
                cur = conn.execute(
                    "INSERT INTO receipts (receipt_id, subject_id, created_at, prev_hash, "
                    "hash, body, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (receipt_id, subject_id, created_at, prev, digest, body, key_id))
                seq = int(cur.lastrowid or 0)
        except sqlite3.Error as exc:
            raise StorageError(f"Writing a receipt to {self.path} failed: {exc}.") from exc
        return ReceiptRow(seq, receipt_id, prev, digest, body, subject_id=subject_id,
                          created_at=created_at, key_id=key_id)

    def receipt_rows(self) -> Iterator[ReceiptRow]:
        """Every receipt in chain order."""
        for row in self.query("SELECT seq, receipt_id, prev_hash, hash, body, "
                              "tombstone_reason, tombstoned_at, subject_id, created_at, "
                              "key_id, tombstone_seal FROM receipts ORDER BY seq"):
            yield ReceiptRow(*row)

    def receipts_of(self, subject_id: str) -> list[dict[str, Any]]:
        """A subject's receipts (bodies as stored), oldest first."""
        import json

        return [json.loads(body) for (body,) in self.query(
            "SELECT body FROM receipts WHERE subject_id = ? AND body IS NOT NULL "
            "ORDER BY seq", (subject_id,))]

    def tombstone_receipts(self, where: str, params: Sequence[Any], reason: str,
                           now: int) -> int:
        """Drop bodies and subject ids but keep ids and hashes (the chain stays whole);
        each tombstone is sealed with the receipt key. All or none, in one transaction."""
        try:
            with self.transaction() as conn:
                rows = conn.execute(f"SELECT seq, receipt_id, prev_hash, hash, created_at "
                                    f"FROM receipts WHERE body IS NOT NULL AND ({where})",
                                    tuple(params)).fetchall()
                if not rows:  # nothing to seal: no key needed (a purge on a fresh folder)
                    return 0
                keys = self.receipt_keys
                conn.executemany(
                    "UPDATE receipts SET body = NULL, subject_id = NULL, tombstone_reason = ?, "
                    "tombstoned_at = ?, tombstone_seal = ? WHERE seq = ?",
                    [(reason, now, keys.seal(tombstone_text(seq, receipt_id, prev, digest,
                                                            reason, now, created_at)), seq)
                     for seq, receipt_id, prev, digest, created_at in rows])
        except sqlite3.Error as exc:
            raise StorageError(f"Tombstoning receipts in {self.path} failed: {exc}.") from exc
        return len(rows)
