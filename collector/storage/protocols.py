"""What a store is, as the rest of the collector sees it: the event and identity store
protocols, in the domain's words, and the plain rows they answer with. Each backend
(:mod:`collector.storage.sqlite`) implements them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

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

    :ivar by: the columns to group by, from :data:`GROUPABLE`; ``day`` groups by local day
        (labelled ``YYYY-MM-DD``).
    :ivar ranges: the ``[start, end)`` stretches of time to read, in Unix seconds.
    :ivar offsets: ``(from, utc_offset)`` pairs, in order: from each instant on, local time
        is UTC plus that many seconds (one pair for a zone without DST changes in the
        ranges). A row's local day is ``(ts + offset) // 86400`` days after 1970-01-01,
        computed by the database row by row, so local days need no join.
    :ivar kinds: event kinds to read (``pageview``, ``event``).
    :ivar where: equality filters ``(column, value)`` (a None value matches NULL).
    :ivar revision: only events under this policy revision.
    :ivar include_bots: also events whose device is ``bot``.
    """

    by: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]
    offsets: tuple[tuple[int, int], ...] = ((-(2**62), 0),)
    kinds: tuple[str, ...] = ("pageview", "event")
    where: tuple[tuple[str, Any], ...] = ()
    revision: int | None = None
    include_bots: bool = False


@lru_cache(maxsize=4096)
def day_label(number: int) -> str:
    """The ISO date of a day number (days since 1970-01-01)."""
    return (_EPOCH + timedelta(days=int(number))).isoformat()


def day_number(label: str) -> int:
    """The day number of an ISO date."""
    return (date.fromisoformat(label) - _EPOCH).days


_EPOCH = date(1970, 1, 1)


#: The columns a cell may be grouped or filtered by (``day`` is computed, see
#: :class:`CellQuery`).
GROUPABLE = ("day", "site", "path", "referrer_host", "browser", "os", "device", "lang",
             "utm_source", "utm_medium", "utm_campaign", "name", "kind")


#: The dimensions summarised by day (:meth:`EventStore.summarise_day`); ``""`` stands for
#: a day's totals, whose value is NULL.
DAILY_DIMENSIONS = ("", "path", "referrer_host", "browser", "os", "device", "lang",
                    "utm_source", "utm_medium", "utm_campaign", "name")
#: What every daily row has besides its dimension's value, and may be grouped or filtered
#: by: its day, site and kind of event.
DAILY_COLUMNS = ("day", "site", "kind")


class CellIds(NamedTuple):
    """The distinct ids of a cell of raw events, listed only for a cell too small to show
    (:meth:`EventStore.cells`): several such cells fold into one ``(other)`` row, whose
    people are counted by uniting their ids (a visitor in two of them counts once)."""

    sessions: tuple[str, ...]
    visitors: tuple[str, ...]
    #: The sessions of the cell's hits that carry no visitor id.
    lone_sessions: tuple[str, ...]


class CellCounts(NamedTuple):
    """What one cell holds (DESIGN 1.6).

    ``identified`` counts distinct visitor ids plus distinct session ids of the hits that
    carry no visitor id; ``anonymous`` counts the hits that carry no id at all. The
    cell's *size*, the people it may hold, is their sum. On roll-ups ``visits``,
    ``visitors`` and ``identified`` are sums of daily counts and ``most_identified`` the
    largest single roll-up row's ``identified``: a lower bound of the distinct people.
    ``ids`` are the ids of a small cell of raw events, else None.
    """

    key: tuple[Any, ...]
    hits: int
    visits: int
    visitors: int
    identified: int
    anonymous: int
    most_identified: int
    ids: CellIds | None = None


class EmailCount(NamedTuple):
    """Email events of one kind: how many, from how many distinct recipients, and how
    many carried a recipient at all (per-recipient tracking)."""

    events: int
    recipients: int
    with_recipient: int


class Burst(NamedTuple):
    """How reports tell a scanner's burst (:meth:`EventStore.email_counts`): fetches of
    one message (campaign, list and recipient) that reach ``targets`` different things of
    it (its open pixel, each link id, its unsubscribe page) within ``seconds`` seconds,
    first to last (``ts`` are whole seconds: ``last - first <= seconds``). Every fetch of
    such a group counts under the verdict ``burst``, whatever its stored agent. Fetches
    that name no recipient cannot be grouped by message and are never in a burst."""

    seconds: int
    targets: int


class SuppressionRow(NamedTuple):
    """One suppression entry; ``cursor`` orders entries for paging; ``reason`` is why it
    was made (``unsubscribe``, ``bounce``, ``complaint``, ``manual``)."""

    list: str
    recipient: str
    campaign: str | None
    created_at: int
    cursor: tuple[int, int]
    reason: str = "unsubscribe"


class Suppression(NamedTuple):
    """A suppression to add: ``list`` (``*`` for all mail), recipient, campaign (the
    provenance), and why: ``unsubscribe`` (unless said), ``bounce``, ``complaint`` or
    ``manual``."""

    list: str
    recipient: str
    campaign: str | None
    reason: str = "unsubscribe"


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


class UserRow(NamedTuple):
    """A dashboard account as listed (never its password hash)."""

    name: str
    created_at: int
    last_login_at: int | None


class ConsentCounts(NamedTuple):
    """Consent decisions (receipts that still have a body) of one local day.

    :ivar key: the day's label.
    :ivar decisions: receipts, one per decision.
    :ivar subjects: distinct subject ids among them (browsers that decided): the people the
        day's counts may single out.
    :ivar granted: per purpose asked for, in that order, the decisions that granted it.
    :ivar gpc: decisions made while the browser sent Global Privacy Control.
    :ivar dnt: decisions made while the browser sent Do Not Track.
    """

    key: str
    decisions: int
    subjects: int
    granted: tuple[int, ...]
    gpc: int
    dnt: int


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

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """Hold the lock ``name``, shared by every collector using this store, while the
        block runs (``with store.exclusive("purge") as held:``); ``held`` is False at once,
        holding nothing, when another process holds it.

        :raises StorageError: the lock cannot be taken or made.
        """

    # --- moving between backends (``cleargif copy``) ----------------------------------
    def copy_tables(self) -> list[str]:
        """The tables ``cleargif copy`` moves, in order, those that exist here."""

    def table_columns(self, table: str) -> list[str]:
        """The columns of a table."""

    def count_rows(self, table: str) -> int:
        """How many rows a table holds."""

    def last_id(self, table: str) -> int | None:
        """The largest id of an append-only table (events, receipts, audit…), so that a
        copy interrupted half way resumes after it; None for the other tables."""

    def read_rows(self, table: str, columns: Sequence[str], after: Any, limit: int,
                  from_id: int | None = None) -> tuple[list[tuple[Any, ...]], Any]:
        """Up to ``limit`` rows in a stable order, after the opaque cursor ``after`` (None
        to start), or after id ``from_id`` for an append-only table: ``(rows, cursor)``,
        the cursor None when no row is left."""

    def write_rows(self, table: str, columns: Sequence[str],
                   rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert rows as they are, in one transaction; a row whose key is here already is
        left alone (so a copy can run again). Returns the rows added."""

    def after_copy(self) -> None:
        """Bring what rows were written around (id sequences past the largest id)."""


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

    def cells(self, query: CellQuery, ids_below: int = 0) -> Iterator[CellCounts]:
        """The raw events of ``query`` grouped by ``query.by``: one row per cell, counted
        by the database (``most_identified`` equals ``identified``). A cell whose size
        is under ``ids_below`` also lists its distinct ids (``ids``), from the same
        pass."""

    def rollup_cells(self, query: CellQuery, since: str, until: str) -> Iterator[CellCounts]:
        """Roll-up rows of the days ``since`` to ``until`` (ISO, inclusive), filtered as
        ``query`` says and grouped by ``query.by`` (its ``ranges`` are not used: a roll-up
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

    # --- daily totals ------------------------------------------------------------------
    def summarise_day(self, day: str, start: int, end: int, now: int) -> int:
        """Summarise the page events of ``[start, end)`` as local day ``day`` by every
        dimension of :data:`DAILY_DIMENSIONS`, and mark the day
        summarised, in one transaction; returns the rows added (0 for a day summarised
        already: it is never summarised twice)."""

    def summarised_days(self, since: str, until: str) -> list[str]:
        """The days from ``since`` to ``until`` (inclusive) that are summarised."""

    def daily_cells(self, query: CellQuery, dimension: str, since: str,
                    until: str) -> Iterator[CellCounts]:
        """The daily rows of ``dimension`` on the days ``since`` to ``until``, grouped by
        ``query.by`` and filtered by ``query.where`` (which may name only ``day``,
        ``site``, ``kind`` and ``dimension``; ``ranges`` are not used): sums, and the
        largest row's ``identified`` as ``most_identified``."""

    def count_daily_before(self, day: str) -> int:
        """Daily rows of days before ``day``."""

    def delete_daily_before(self, day: str, batch: int) -> int:
        """Delete up to ``batch`` daily rows of days before ``day`` (their days' marks go
        with the last of them); how many rows went."""

    def forget_daily(self) -> int:
        """Delete every daily row and mark (when ``TIMEZONE`` changed); how many rows."""

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
    def add_sends(self, campaign: str, list_id: str | None, count: int, now: int,
                  mode: str | None = None) -> None:
        """Record sends of a campaign, made in tracking ``mode`` (``individual``,
        ``aggregate``, ``none``; None when the sender did not say)."""

    def sends_of(self, campaign: str) -> int:
        """All sends recorded for a campaign."""

    def sends_by_mode(self, campaign: str) -> dict[str | None, int]:
        """A campaign's sends summed by tracking mode (None: recorded without one); modes
        without sends are left out."""

    def campaign_names(self) -> list[str]:
        """Every campaign name known from sends, opens or clicks."""

    def campaign_seen(self, campaign: str) -> bool:
        """Whether a campaign had sends recorded, or opens or clicks seen."""

    def email_counts(self, campaign: str, kind: str, agents: Sequence[str] | None,
                     exclude: Sequence[str] = (),
                     links: Sequence[str] | None = None,
                     burst: Burst | None = None) -> EmailCount:
        """Email events of a campaign and kind (``open``, ``click``: events whose name is
        the kind, so a click is not an unsubscribe page fetch) whose agent is in
        ``agents`` (any agent when None) and not in ``exclude`` (a None agent is never
        excluded), optionally only on the given link ids (``(none)`` for no link).

        With ``burst``, an event in a burst (see :class:`Burst`; the groups are found
        among all the campaign's opens, clicks and unsubscribe page fetches) has the
        agent ``burst`` for this count instead of its own."""

    def email_link_counts(self, campaign: str, agents: Sequence[str] | None,
                          exclude: Sequence[str] = (),
                          burst: Burst | None = None) -> dict[str, EmailCount]:
        """Click counts per link id (``(none)`` for clicks without one), agents chosen as
        for :meth:`email_counts`."""

    def campaign_state(self, campaign: str) -> tuple[Any, ...]:
        """A fingerprint of what a campaign's report reads from this store: it changes
        whenever an open, click or send of the campaign is added, deleted (purge) or
        stripped of its recipient (erasure)."""

    def recipient_tracked(self, campaign: str, list_id: str, recipient: str) -> bool:
        """Whether an open or click of ``campaign`` and ``list_id`` names ``recipient``:
        the recipient's mail was sent with per-recipient tracking."""

    def active_campaigns(self, start: int, end: int, limit: int) -> list[str]:
        """The campaigns with opens or clicks stamped in ``[start, end)``, those with the
        most such events first (ties by name), at most ``limit`` of them."""

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
        first campaign and reason stay as provenance); returns how many were new."""

    def is_suppressed(self, list_id: str, recipient: str, all_mail: str) -> bool:
        """Whether an entry for ``list_id`` or ``all_mail`` names ``recipient``."""

    def suppressions_since(self, since: int, after: tuple[int, int] | None,
                           limit: int) -> list[SuppressionRow]:
        """Entries created at or after ``since``, oldest first, after the cursor."""

    def suppressions_of(self, recipient: str) -> list[SuppressionRow]:
        """A recipient's entries, oldest first."""

    def unsubscribes_of(self, campaign: str) -> int:
        """Entries whose provenance is ``campaign`` and whose reason is ``unsubscribe``."""

    def suppressions_by_reason(self, campaign: str) -> dict[str, int]:
        """Entries whose provenance is ``campaign``, counted by reason (reasons without
        entries left out)."""

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

    # --- consent decisions, counted ----------------------------------------------------
    def consent_decisions(self, days: Sequence[tuple[str, int, int]],
                          purposes: Sequence[str]) -> list[ConsentCounts]:
        """Count the receipts with a body made in each of the given local days: one row per
        day that has any, in day order.

        :param days: ``(label, start, end)`` of each day, ``[start, end)`` in Unix seconds
            of ``created_at``, as :class:`CellQuery` has them.
        :param purposes: the purposes to count grants of (a receipt grants a purpose when
            its body's ``granted`` list names it).
        """

    def deciding_subjects(self, days: Sequence[tuple[str, int, int]]) -> int:
        """The distinct subject ids of the receipts with a body made in the given days,
        counted once across them (days are given as for :meth:`consent_decisions`)."""

    # --- dashboard accounts ------------------------------------------------------------
    def add_user(self, name: str, password_hash: str, now: int) -> bool:
        """Add an account; False (and nothing changed) when the name is taken."""

    def remove_user(self, name: str) -> bool:
        """Remove an account; False when there was none of that name."""

    def user_password_hash(self, name: str) -> str | None:
        """The stored password hash of an account, or None when there is no such account."""

    def users(self) -> list[UserRow]:
        """Every account, by name."""

    def record_login(self, name: str, now: int) -> None:
        """Note the time of an account's latest sign-in."""

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
