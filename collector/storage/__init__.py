"""Storage: two stores kept apart (DESIGN 6), and the only place that speaks SQL.

The **event store** holds event records, counters, campaign sends and daily roll-ups; the
**identity store** holds consent receipts, the suppression list, API tokens, the
PII-access audit log and the dashboard's accounts. The rest of the collector asks them
questions in its own words through the two protocols below; :func:`open_events` and
:func:`open_identity` pick the backend from the URL. Each backend is one module
(:mod:`.sqlite`), with its schema as numbered migrations under
``migrations/<backend>/<store>/``; the contract tests in ``tests/storage/`` run against
the protocols, so every backend passes the same suite.

Every write is committed before the method returns (durable, DESIGN 6). A store that
cannot be used raises :class:`~collector.errors.StorageError` with a message that names
no server path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdk.sqlite import sqlite_file

from ..errors import ConfigError
from .protocols import (
    DAILY_COLUMNS,
    DAILY_DIMENSIONS,
    GENESIS,
    GROUPABLE,
    AuditRow,
    Burst,
    CellCounts,
    CellIds,
    CellQuery,
    ConsentCounts,
    EmailCount,
    EventStore,
    IdentityStore,
    ReceiptRow,
    ReceiptSigner,
    Store,
    Suppression,
    SuppressionRow,
    TokenRow,
    TombstoneSealer,
    UserRow,
    day_label,
    day_number,
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_events(url: str, *, sync: str = "normal") -> EventStore:
    """The event store behind ``url`` (nothing is opened until first use)."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteEvents, check_sqlite

        check_sqlite("EVENTS_URL")
        return SQLiteEvents(sqlite_file(url), sync=sync)
    if url.startswith(POSTGRES_SCHEMES):
        from .postgres import PostgresEvents

        return PostgresEvents(url, sync=sync)
    raise ConfigError("EVENTS_URL", f"EVENTS_URL {url!r} is not supported; use sqlite:///path "
                      "or postgresql://user:password@host/database.")


def open_identity(url: str, *, sync: str = "normal") -> IdentityStore:
    """The identity store behind ``url`` (nothing is opened until first use)."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteIdentity, check_sqlite

        check_sqlite("IDENTITY_URL")
        return SQLiteIdentity(sqlite_file(url), sync=sync)
    if url.startswith(POSTGRES_SCHEMES):
        from .postgres import PostgresIdentity

        return PostgresIdentity(url, sync=sync)
    raise ConfigError("IDENTITY_URL", f"IDENTITY_URL {url!r} is not supported; use "
                      "sqlite:///path or postgresql://user:password@host/database.")


def stores_for(config: Mapping[str, Any]) -> tuple[EventStore, IdentityStore]:
    """Both stores of a validated configuration (opened on first use)."""
    return (open_events(config["EVENTS_URL"], sync=config["SYNC"]),
            open_identity(config["IDENTITY_URL"], sync=config["SYNC"]))


__all__ = ["DAILY_COLUMNS", "DAILY_DIMENSIONS", "GENESIS", "GROUPABLE", "AuditRow", "Burst",
           "CellCounts", "CellIds", "CellQuery", "ConsentCounts", "EmailCount", "EventStore",
           "IdentityStore", "ReceiptRow", "ReceiptSigner", "Store", "Suppression",
           "SuppressionRow", "TokenRow", "TombstoneSealer", "UserRow", "day_label",
           "day_number", "open_events", "open_identity", "stores_for"]
