"""Storage: two stores kept apart (DESIGN 6), and the only place that speaks SQL.

The **event store** holds event records, counters, campaign sends and daily roll-ups; the
**identity store** holds consent receipts, the suppression list, API tokens and the
PII-access audit log. The rest of the collector asks them questions in its own words
through the two protocols below; :func:`open_events` and :func:`open_identity` pick the
backend from the URL. Each backend is one module (:mod:`.sqlite`), with its schema as
numbered migrations under ``migrations/<backend>/<store>/``; the contract tests in
``tests/storage/`` run against the protocols, so every backend passes the same suite.

Every write is committed before the method returns (durable, DESIGN 6). A store that
cannot be used raises :class:`~collector.errors.StorageError` with a message that names
no server path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sdk.sqlite import sqlite_file

from ..errors import ConfigError

#: The ``prev_hash`` of the first receipt in a chain.
GENESIS = "0" * 64
#: Signs a new receipt given the previous receipt's hash: ``(key id, hash)``. The
#: receipts module makes it (:meth:`collector.consent.receipts.ReceiptKeys.sign`); the
#: store only calls it inside its write lock, where the previous hash is known.
ReceiptSigner = Callable[[str, str], tuple[str, str]]
#: Seals a tombstone: given the receipt row, the reason and the time, ``"key id:hmac"``.
TombstoneSealer = Callable[["ReceiptRow", str, int], str]


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    """A stored receipt as the chain sees it."""

    seq: int
    receipt_id: str
    prev_hash: str
    hash: str
    body: str | None
    tombstone_reason: str | None = None
    tombstoned_at: int | None = None
    subject_id: str | None = None
    created_at: int | None = None
    key_id: str = ""
    tombstone_seal: str | None = None


@dataclass(frozen=True, slots=True)
class CellQuery:
    """Which raw page events to group, and by what (the storage side of an aggregate
    query; :mod:`collector.analytics.query` builds it).

    :ivar by: the columns to group by, from :data:`GROUPABLE`; ``day`` groups by the
        local days in ``days``.
    :ivar days: ``(label, start, end)`` of each local day to read, ``[start, end)`` in
        Unix seconds, in order; events outside them are not read.
    :ivar kinds: event kinds to read (``pageview``, ``event``).
    :ivar where: equality filters ``(column, value)`` (a None value matches NULL).
    :ivar revision: only events under this policy revision.
    :ivar include_bots: also events whose device is ``bot``.
    """

    by: tuple[str, ...]
    days: tuple[tuple[str, int, int], ...]
    kinds: tuple[str, ...] = ("pageview", "event")
    where: tuple[tuple[str, Any], ...] = ()
    revision: int | None = None
    include_bots: bool = False


#: The columns a cell may be grouped or filtered by (``day`` is computed, see
#: :class:`CellQuery`).
GROUPABLE = ("day", "site", "path", "referrer_host", "browser", "os", "device", "lang",
             "utm_source", "utm_medium", "utm_campaign", "name", "kind")


class CellCounts(NamedTuple):
    """What one cell holds (DESIGN 1.6).

    ``identified`` counts distinct visitor ids plus distinct session ids of the hits that
    carry no visitor id; ``anonymous`` counts the hits that carry no id at all. The
    cell's *size*, the people it may hold, is their sum. On roll-ups ``visits``,
    ``visitors`` and ``identified`` are sums of daily counts and ``most_identified`` the
    largest single roll-up row's ``identified``: a lower bound of the distinct people.
    """

    key: tuple[Any, ...]
    hits: int
    visits: int
    visitors: int
    identified: int
    anonymous: int
    most_identified: int


class EmailCount(NamedTuple):
    """Email events of one kind: how many, from how many distinct recipients, and how
    many carried a recipient at all (per-recipient tracking)."""

    events: int
    recipients: int
    with_recipient: int


class SuppressionRow(NamedTuple):
    """One suppression entry; ``cursor`` orders entries for paging."""

    list: str
    recipient: str
    campaign: str | None
    created_at: int
    cursor: tuple[int, int]


class Suppression(NamedTuple):
    """A suppression to add: ``list`` (``*`` for all mail), recipient, campaign."""

    list: str
    recipient: str
    campaign: str | None


class TokenRow(NamedTuple):
    """A stored API token (its hash only)."""

    name: str
    scopes: str
    created_at: int
    revoked_at: int | None


class AuditRow(NamedTuple):
    """One audit entry as stored."""

    seq: int
    ts: int
    actor: str | None
    action: str | None
    subject_hmac: str | None
    reason: str | None
    detail: str | None


class Store(Protocol):
    """What both stores offer."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: a file path or a URL without its password."""

    def exists(self) -> bool:
        """Whether the store holds a database already (opening it would not create one)."""

    def ping(self) -> None:
        """Raise :class:`~collector.errors.StorageError` when the store cannot be read."""

    def check_writable(self) -> None:
        """Commit a write that changes no data, or raise
        :class:`~collector.errors.StorageError` when the store cannot commit one (disk
        full, read-only files or database, database down). ``/healthz`` calls it on every
        check, so it must be cheap, and it must not grow the store. A store whose earlier
        writes failed for a cause now gone must commit again without a restart (drop and
        reopen a broken connection)."""

    def migrate(self) -> list[int]:
        """Apply the schema migrations this store lacks, in order, under a lock (several
        processes starting at once apply each once); returns the versions applied.

        :raises StorageError: the store's schema is newer than this code knows.
        """

    def schema_version(self) -> int:
        """The newest migration applied (0 for a store without one)."""

    def flush_deleted(self) -> bool:
        """Make sure deleted rows leave the files (erasure, purge): checkpoint and truncate
        a write-ahead log. False when readers kept it busy; the next run finishes it."""

    def close(self) -> None:
        """Close this process's connections."""


class EventStore(Store, Protocol):
    """Event records, counters, campaign sends, daily roll-ups and facts about them."""

    # --- the hit path ----------------------------------------------------------------
    def add_event(self, record: Mapping[str, Any]) -> None:
        """Store one record (fields of :data:`collector.ingest.records.FIELDS`)."""

    def count_dropped(self, day: str, reason: str) -> None:
        """Count one hit that was answered but not stored, on a local day."""

    # --- aggregates --------------------------------------------------------------------
    def dropped(self, since: str | None = None, until: str | None = None) -> dict[str, int]:
        """Dropped hits by reason, on the local days from ``since`` to ``until``
        (inclusive, ISO dates; all days when None)."""

    def cells(self, query: CellQuery) -> Iterator[CellCounts]:
        """The raw events of ``query`` grouped by ``query.by``: one row per cell, counted
        by the database (``most_identified`` equals ``identified``)."""

    def union(self, query: CellQuery, keys: Sequence[tuple[Any, ...]]) -> CellCounts:
        """The counts of several cells of ``query`` together, with exact distinct counts
        (a visitor in two of them counts once); ``key`` is empty."""

    def rollup_cells(self, query: CellQuery, since: str, until: str) -> Iterator[CellCounts]:
        """Roll-up rows of the days ``since`` to ``until`` (ISO, inclusive), filtered as
        ``query`` says and grouped by ``query.by`` (its ``days`` are not used: a roll-up
        row's day is its label)."""

    def count_events(self, query: CellQuery) -> int:
        """How many raw events ``query`` reads."""

    # --- roll-ups ----------------------------------------------------------------------
    def roll_up(self, day: str, start: int, end: int) -> int:
        """Roll up the page events of ``[start, end)`` as local day ``day``; returns the
        rows added. Atomic; it never overwrites a cell, so a second run over a day whose
        raw events are partly deleted cannot replace complete counts with partial ones."""

    def rolled_up_days(self, since: str, until: str) -> list[str]:
        """The days from ``since`` to ``until`` (inclusive) that have roll-up rows."""

    def last_rolled_up_day(self) -> str | None:
        """The newest day with roll-up rows, or None when there are none."""

    def count_rollups_before(self, day: str) -> int:
        """Roll-up rows of days before ``day``."""

    def delete_rollups_before(self, day: str, batch: int) -> int:
        """Delete up to ``batch`` roll-up rows of days before ``day``; returns how many."""

    def oldest_rollup_day(self, since: str) -> str | None:
        """The oldest day at or after ``since`` that has roll-up rows."""

    def get_meta(self, key: str) -> str | None:
        """A fact about the stored data (such as the roll-ups' time zone)."""

    def set_meta(self, key: str, value: str) -> None:
        """Record a fact about the stored data."""

    # --- retention ---------------------------------------------------------------------
    def earliest_event(self, since: int, before: int, pages_only: bool = False) -> int | None:
        """The time of the oldest event in ``[since, before)``, or None."""

    def count_events_before(self, before: int) -> int:
        """Events stamped before ``before``."""

    def delete_events_between(self, start: int, end: int, batch: int) -> int:
        """Delete the events of ``[start, end)`` in transactions of ``batch`` rows so hits
        keep flowing meanwhile; returns how many went."""

    def delete_sends_before(self, before: int) -> int:
        """Delete campaign sends recorded before ``before``."""

    # --- campaigns ---------------------------------------------------------------------
    def add_sends(self, campaign: str, list_id: str | None, count: int, now: int) -> None:
        """Record sends of a campaign."""

    def sends_of(self, campaign: str) -> int:
        """All sends recorded for a campaign."""

    def campaign_names(self) -> list[str]:
        """Every campaign name known from sends, opens or clicks."""

    def campaign_seen(self, campaign: str) -> bool:
        """Whether a campaign had sends recorded, or opens or clicks seen."""

    def email_counts(self, campaign: str, kind: str, agents: Sequence[str] | None,
                     exclude: Sequence[str] = (),
                     links: Sequence[str] | None = None) -> EmailCount:
        """Email events of a campaign and kind (``open``, ``click``) whose agent is in
        ``agents`` (any agent when None) and not in ``exclude`` (a None agent is never
        excluded), optionally only on the given link ids (``(none)`` for no link)."""

    def email_link_counts(self, campaign: str, agents: Sequence[str] | None,
                          exclude: Sequence[str] = ()) -> dict[str, EmailCount]:
        """Click counts per link id (``(none)`` for clicks without one), agents chosen as
        for :meth:`email_counts`."""

    # --- subjects ----------------------------------------------------------------------
    def subject_events(self, kind: str, subject_id: str) -> list[dict[str, Any]]:
        """The events of a ``visitor`` (with the sessions it was seen in) or a
        ``recipient``, oldest first."""

    def erase_subject_events(self, kind: str, subject_id: str, strip: bool,
                             batch: int) -> int:
        """Delete those events, or with ``strip`` keep them without their ids; in
        transactions of ``batch`` rows. Returns how many."""


class IdentityStore(Store, Protocol):
    """Receipts, suppressions, API tokens and the audit log (and the SDK's remember-me
    tables, which :class:`sdk.remember.RememberStore` owns)."""

    # --- receipts ----------------------------------------------------------------------
    def append_receipt(self, receipt_id: str, subject_id: str, created_at: int, body: str,
                       sign: ReceiptSigner) -> ReceiptRow:
        """Link a receipt to the last one and append it atomically, under the write lock."""

    def receipt_rows(self) -> Iterator[ReceiptRow]:
        """Every receipt in chain order."""

    def subject_receipts(self, subject_id: str) -> list[ReceiptRow]:
        """A subject's receipts that still have a body, oldest first."""

    def tombstone_subject(self, subject_id: str, reason: str, now: int,
                          seal: TombstoneSealer) -> int:
        """Replace a subject's receipt bodies by sealed tombstones (erasure); how many."""

    def count_expired_receipts(self, before: int) -> int:
        """Receipts with a body of the subjects whose last decision is before ``before``."""

    def tombstone_expired(self, before: int, reason: str, now: int, seal: TombstoneSealer,
                          batch: int) -> int:
        """Tombstone every receipt of up to ``batch`` such subjects (a subject is never
        left half tombstoned); returns the receipts tombstoned, 0 when none is left."""

    def oldest_live_receipt(self, unexpired_before: int | None = None) -> int | None:
        """The time of the oldest receipt with a body (of a subject whose last decision
        is not before ``unexpired_before``, when given)."""

    # --- suppressions ------------------------------------------------------------------
    def suppress(self, entries: Iterable[Suppression], now: int) -> int:
        """Add entries in one transaction (existing ones are kept as they are, so the
        first campaign stays as provenance); returns how many were new."""

    def is_suppressed(self, list_id: str, recipient: str, all_mail: str) -> bool:
        """Whether an entry for ``list_id`` or ``all_mail`` names ``recipient``."""

    def suppressions_since(self, since: int, after: tuple[int, int] | None,
                           limit: int) -> list[SuppressionRow]:
        """Entries created at or after ``since``, oldest first, after the cursor."""

    def suppressions_of(self, recipient: str) -> list[SuppressionRow]:
        """A recipient's entries, oldest first."""

    def unsubscribes_of(self, campaign: str) -> int:
        """Entries whose provenance is ``campaign``."""

    def count_suppressions_before(self, before: int) -> int:
        """Entries created before ``before``."""

    def delete_suppressions_before(self, before: int, batch: int) -> int:
        """Delete up to ``batch`` entries created before ``before``; how many."""

    def oldest_suppression(self, since: int = 0) -> int | None:
        """The creation time of the oldest entry at or after ``since``."""

    # --- API tokens --------------------------------------------------------------------
    def add_api_token(self, name: str, token_hash: str, scopes: str, now: int) -> bool:
        """Store a token unless a live one has that name; False when one has."""

    def revoke_api_tokens(self, name: str, now: int) -> int:
        """Revoke the live tokens of that name; how many."""

    def api_token(self, token_hash: str) -> TokenRow | None:
        """The live token with that hash."""

    def api_tokens(self) -> list[TokenRow]:
        """Every token, oldest first."""

    # --- the audit log -----------------------------------------------------------------
    def append_audit(self, ts: int, actor: str, action: str, subject_hmac: str | None,
                     reason: str | None, detail: str | None) -> None:
        """Append one entry."""

    def audit_rows(self, since: int | None = None, until: int | None = None,
                   subject_hmacs: Sequence[str] | None = None) -> list[AuditRow]:
        """Entries in order, from ``since`` and before ``until``, naming one of
        ``subject_hmacs`` when given (an empty list matches nothing)."""

    def count_audit_before(self, before: int) -> int:
        """Live (not tombstoned) entries before ``before``."""

    def tombstone_audit_before(self, before: int, batch: int) -> int:
        """Clear who, what and about whom of up to ``batch`` live entries before
        ``before`` (number and time stay); how many."""

    def oldest_audit(self, since: int) -> int | None:
        """The time of the oldest live entry at or after ``since``."""

    # --- remember-me (the SDK's tables) ------------------------------------------------
    def has_remember_tables(self) -> bool:
        """Whether a host app ever used remember-me here (the SDK creates its tables)."""

    def count_expired_remember(self, before: float) -> int:
        """Remember-me tokens that expired before ``before``."""

    def count_forgettable_accounts(self, changed_before: float, tokens_from: float) -> int:
        """Account epoch rows last changed before ``changed_before`` whose every token
        expires before ``tokens_from`` (what a purge would forget)."""

    def oldest_remember_token(self, expiring_from: float) -> float | None:
        """The issue time of the oldest token expiring at or after ``expiring_from``."""


def open_events(url: str, *, sync: str = "normal") -> EventStore:
    """The event store behind ``url`` (nothing is opened until first use)."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteEvents

        return SQLiteEvents(sqlite_file(url), sync=sync)
    raise ConfigError("EVENTS_URL", f"EVENTS_URL {url!r} is not supported; use sqlite:///path.")


def open_identity(url: str, *, sync: str = "normal") -> IdentityStore:
    """The identity store behind ``url`` (nothing is opened until first use)."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteIdentity

        return SQLiteIdentity(sqlite_file(url), sync=sync)
    raise ConfigError("IDENTITY_URL", f"IDENTITY_URL {url!r} is not supported; use "
                      "sqlite:///path.")


def stores_for(config: Mapping[str, Any]) -> tuple[EventStore, IdentityStore]:
    """Both stores of a validated configuration (opened on first use)."""
    return (open_events(config["EVENTS_URL"], sync=config["SYNC"]),
            open_identity(config["IDENTITY_URL"], sync=config["SYNC"]))


__all__ = ["GENESIS", "GROUPABLE", "AuditRow", "CellCounts", "CellQuery", "EmailCount",
           "EventStore", "IdentityStore", "ReceiptRow", "ReceiptSigner", "Store", "Suppression",
           "SuppressionRow", "TokenRow", "TombstoneSealer", "open_events", "open_identity",
           "stores_for"]
