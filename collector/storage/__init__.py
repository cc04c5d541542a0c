"""Storage: two stores kept apart (DESIGN 6).

The **event store** holds event records and counters; the **identity store** holds
consent receipts, the suppression list, API tokens and the PII-access audit log. Views
and commands use the abstract interfaces below; :func:`open_events` and
:func:`open_identity` pick the backend from the URL. Only SQLite exists today; a
PostgreSQL backend implements the same interfaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..consent.receipts import KeysLoader, ReceiptKeys, ReceiptRow
from ..errors import ConfigError


class EventStore(Protocol):
    """Where event records go. Every write is committed before it returns (durable)."""

    def add_event(self, record: Mapping[str, Any]) -> None:
        """Store one record; raises :class:`~collector.errors.StorageError` on failure."""

    def count_dropped(self, day: str, reason: str) -> None:
        """Count a hit that was not stored (site not listed, excluded network, …)."""

    def dropped(self) -> dict[str, int]:
        """Dropped hits by reason, all days together."""

    def ping(self) -> None:
        """Raise :class:`~collector.errors.StorageError` when the store cannot be used."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: a file path or a URL without its password."""

    def exists(self) -> bool:
        """Whether the store holds a database already (opening it would not create one)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query written in the portable SQL subset; rows as tuples."""

    def iter_events(self, where: str = "", params: Sequence[Any] = ()) -> Iterator[dict[str,
                                                                                        Any]]:
        """Raw events as dicts, oldest first, optionally filtered by a SQL condition."""

    def delete_events(self, where: str, params: Sequence[Any], batch: int = 500) -> int:
        """Delete matching events in small transactions; returns how many went."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the row count."""

    def wal_truncate(self, attempts: int = 3) -> bool:
        """Move the write-ahead log into the database and truncate it (erasure)."""

    def close(self) -> None:
        """Close this process's connections."""


class IdentityStore(Protocol):
    """Receipts, suppressions, API tokens and the audit log."""

    def append_receipt(self, receipt_id: str, subject_id: str, created_at: int,
                       body: str) -> ReceiptRow:
        """Append a receipt to the hash chain atomically."""

    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction (``with store.transaction() as conn:``), committed at the end
        of the block and rolled back if it raises."""

    @property
    def receipt_keys(self) -> ReceiptKeys:
        """The keys the receipt chain is signed and checked with."""

    def receipt_rows(self) -> Iterator[ReceiptRow]:
        """Every receipt row in chain order."""

    def receipts_of(self, subject_id: str) -> list[dict[str, Any]]:
        """A subject's receipt bodies, oldest first."""

    def tombstone_receipts(self, where: str, params: Sequence[Any], reason: str,
                           now: int) -> int:
        """Replace bodies by tombstones (keeping the chain); returns how many."""

    def ping(self) -> None:
        """Raise :class:`~collector.errors.StorageError` when the store cannot be used."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: a file path or a URL without its password."""

    def exists(self) -> bool:
        """Whether the store holds a database already (opening it would not create one)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query; rows as tuples."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the row count."""

    def wal_truncate(self, attempts: int = 3) -> bool:
        """Move the write-ahead log into the database and truncate it (erasure)."""

    def close(self) -> None:
        """Close this process's connections."""


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///path`` URL (relative paths stay relative)."""
    return url[len("sqlite:///"):]


def open_events(url: str, *, sync: str = "normal") -> EventStore:
    """The event store behind ``url`` (nothing is opened until first use)."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteEvents

        return SQLiteEvents(sqlite_path(url), sync=sync)
    raise ConfigError("EVENTS_URL", f"EVENTS_URL {url!r} is not supported; use sqlite:///path.")


def open_identity(url: str, *, sync: str = "normal",
                  receipt_keys: KeysLoader | None = None) -> IdentityStore:
    """The identity store behind ``url`` (nothing is opened until first use).

    :param receipt_keys: builds the receipt chain's keys when a receipt is first signed
        or checked; without it the store refuses to touch receipts.
    """
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteIdentity

        return SQLiteIdentity(sqlite_path(url), sync=sync, receipt_keys=receipt_keys)
    raise ConfigError("IDENTITY_URL", f"IDENTITY_URL {url!r} is not supported; use "
                      "sqlite:///path.")


def identity_for(config: Mapping[str, Any]) -> IdentityStore:
    """The identity store of a validated configuration, its receipts keyed by
    ``SECRET_KEYS`` (read, from configuration or key file, only when first needed)."""
    from ..config import read_keys

    return open_identity(config["IDENTITY_URL"], sync=config["SYNC"],
                         receipt_keys=lambda: ReceiptKeys(read_keys(config, "SECRET_KEYS")))


__all__ = ["EventStore", "IdentityStore", "identity_for", "open_events", "open_identity",
           "sqlite_path"]

