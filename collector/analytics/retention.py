"""Retention (DESIGN 1.7): each data class is kept for its ``RETENTION_DAYS_<CLASS>``.

What "past its period" means, class by class (``now`` is the purge's clock):

* **events**: a raw event is kept while its local day (in ``TIMEZONE``) is at most
  ``RETENTION_DAYS_EVENTS`` days before today. Older days are rolled up first
  (:mod:`collector.analytics.rollups`), then their events deleted, one day at a time, so at every
  moment a day is either raw or rolled up and exports stay whole.
* **rollups**: a roll-up row is kept while its day is at most ``RETENTION_DAYS_ROLLUPS``
  days before today; so are the daily totals (:mod:`collector.analytics.daily`), which the
  purge first makes for every complete day not summarised yet.
* **receipts**: a subject's receipts are kept until ``RETENTION_DAYS_RECEIPTS`` days after
  its *last* decision; then every one of them becomes a tombstone (id, hash, reason,
  time), so the hash chain still verifies and nothing goes missing silently.
* **suppressions**: kept without limit unless ``RETENTION_DAYS_SUPPRESSIONS`` gives days
  (an unsubscribe must outlive the erasure of everything else).
* **remember**: a remember-me token is deleted ``RETENTION_DAYS_REMEMBER`` days after it
  was issued, i.e. that many days minus ``REMEMBER_DAYS`` after its absolute expiry. An
  account's epoch row (account id, epoch, time of the last "log out everywhere") is
  deleted once the account has no token left and the row is older than
  ``RETENTION_DAYS_REMEMBER`` days (:meth:`sdk.remember.RememberStore.purge_accounts`).
* **audit**: an audit entry older than ``RETENTION_DAYS_AUDIT`` days is tombstoned in
  place (who, what and about whom are cleared; its number and time stay), so the log
  keeps no gaps.

Deletes run in transactions of :data:`BATCH` rows, each short, so hits keep flowing.
Every function takes ``dry_run``: it then counts what would go and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sdk.remember import RememberStore
from sdk.times import DAY

from ..consent.receipts import sealer
from ..extension import Collector
from ..storage import EventStore, IdentityStore, TombstoneSealer
from . import daily, rollups

#: Rows per delete transaction.
BATCH = 500
#: The data classes, in the order they are purged (events before the roll-ups they feed).
CLASSES = ("events", "rollups", "receipts", "suppressions", "remember", "audit")

#: ``progress(class, done, total)``, called as work advances (for a progress bar).
Progress = Callable[[str, int, int], None]

log = logging.getLogger("cleargif")


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What the purge of one data class did (or would do, in a dry run)."""

    name: str  #: the data class, one of :data:`CLASSES`
    count: int  #: entries deleted or tombstoned (or that would be)
    oldest_kept: str | None  #: ISO date of the oldest entry kept, None when none is left
    period_days: int | None  #: the retention period; None means unlimited
    dry_run: bool = False
    action: str = "delete"  #: ``delete`` or ``tombstone``
    detail: str = ""  #: anything else worth a word, such as the days rolled up

    def line(self) -> str:
        """One line for the terminal: ``events: would delete 1234 (oldest kept 2025-11-02)``."""
        if self.period_days is None:
            head = f"{self.name}: kept, unlimited"
        else:
            past = "deleted" if self.action == "delete" else "tombstoned"
            head = f"{self.name}: {'would ' + self.action if self.dry_run else past} " \
                   f"{self.count}"
        kept = f"oldest kept {self.oldest_kept}" if self.oldest_kept else "nothing left"
        return f"{head} ({kept})" + (f"; {self.detail}" if self.detail else "")


def _local_date(ts: float | None, tz: ZoneInfo) -> str | None:
    return None if ts is None else rollups.local_day(ts, tz).isoformat()


def _today(now: float, tz: ZoneInfo) -> date:
    return rollups.local_day(now, tz)


def _tick(progress: Progress | None, name: str, done: int, total: int) -> None:
    if progress is not None:
        progress(name, min(done, total), total)


def _in_batches(run: Callable[[], int], name: str, total: int,
                progress: Progress | None, batch: int) -> int:
    """Run a one-batch delete until it touches fewer than ``batch`` rows."""
    done = 0
    while True:
        n = run()
        done += n
        _tick(progress, name, done, total)
        if n < batch:
            return done


def purge_events(events: EventStore, *, now: float, days: int, tz: ZoneInfo,
                 dry_run: bool = False, rollups_from: date | None = None,
                 progress: Progress | None = None, batch: int = BATCH) -> PurgeResult:
    """Roll up the local days past ``days``, then delete their raw events.

    :param rollups_from: days before it are deleted without a roll-up (its own period
        would delete the roll-up right away); None rolls up every day.
    :raises ConfigError: the roll-ups are filed in another time zone than ``tz``
        (a day must never be split between raw events and roll-ups).
    """
    cutoff = rollups.day_bounds(_today(now, tz) - timedelta(days=days), tz)[0]
    rollups.check_purge_timezone(events, tz)
    if dry_run:
        count = events.count_events_before(cutoff)
        pages = [d for d in rollups.days_with_events(events, cutoff, tz, pages_only=True)
                 if rollups_from is None or d >= rollups_from]
        done = set(rollups.rolled_up_days(events, pages[0], pages[-1])) if pages else set()
        rolled = len([d for d in pages if d not in done])
    else:
        count = rolled = 0
        todo = rollups.days_with_events(events, cutoff, tz)
        if todo:
            rollups.claim_timezone(events, tz)
        for step, day in enumerate(todo, 1):
            if (rollups_from is None or day >= rollups_from) and \
                    rollups.roll_up_day(events, day, tz) > 0:
                rolled += 1
            _tick(progress, "events", step, len(todo))
        # Every day before the cutoff is rolled up now, and a rolled-up day is read from
        # its roll-ups only: its raw events can go in one sweep, which lets a backend drop
        # whole month partitions (and delete in batches at the edges). The sweep also
        # takes events stored after the walk began (only an import could do that).
        count = events.delete_events_between(-(2**62), cutoff, batch)
        # Sends go with the opens and clicks they are the denominator of, so an old
        # campaign's report never shows sends against opens that are gone.
        events.delete_sends_before(cutoff)
    oldest = events.earliest_event(cutoff, 2**62)
    verb = "would roll up" if dry_run else "rolled up"
    return PurgeResult("events", int(count), _local_date(oldest, tz), days, dry_run,
                       detail=f"{verb} {rolled} day{'s' if rolled != 1 else ''}")


def purge_rollups(events: EventStore, *, now: float, days: int, tz: ZoneInfo,
                  dry_run: bool = False, events_days: int | None = None,
                  progress: Progress | None = None, batch: int = BATCH) -> PurgeResult:
    """Delete the roll-up rows of the local days past ``days``.

    :param events_days: the events period; a dry run then counts in the days that the
        events purge (which runs first) is about to roll up.
    """
    first_kept = (_today(now, tz) - timedelta(days=days)).isoformat()
    total = events.count_rollups_before(first_kept)
    count = total if dry_run else _in_batches(
        lambda: events.delete_rollups_before(first_kept, batch), "rollups", total, progress,
        batch)
    oldest = events.oldest_rollup_day(first_kept)
    if dry_run and events_days is not None:
        cutoff = rollups.day_bounds(_today(now, tz) - timedelta(days=events_days), tz)[0]
        pending = [d.isoformat() for d in rollups.days_with_events(events, cutoff, tz,
                                                                   pages_only=True)
                   if d.isoformat() >= first_kept]
        oldest = min([*pending, *([oldest] if oldest else [])], default=None)
    return PurgeResult("rollups", int(count), oldest, days, dry_run)


def purge_daily(events: EventStore, *, now: float, days: int, tz: ZoneInfo,
                dry_run: bool = False, progress: Progress | None = None,
                batch: int = BATCH) -> PurgeResult:
    """Summarise the complete days not summarised yet (:mod:`collector.analytics.daily`),
    then delete the daily totals of the local days past ``days`` (the roll-ups' period).
    Runs before the events purge, so a day about to lose its raw events is summarised
    from all of them."""
    first_kept = _today(now, tz) - timedelta(days=days)
    if dry_run:
        today = _today(now, tz)
        pages = [d for d in rollups.days_with_events(events, rollups.day_bounds(today, tz)[0],
                                                     tz, pages_only=True) if d >= first_kept]
        done = set(events.summarised_days(pages[0].isoformat(),
                                          pages[-1].isoformat())) if pages else set()
        made = len([d for d in pages if d.isoformat() not in done])
    else:
        made = daily.summarise(events, tz, now, since=first_kept,
                               progress=lambda done, total: _tick(progress, "summarise",
                                                                  done, total))
    total = events.count_daily_before(first_kept.isoformat())
    count = total if dry_run else _in_batches(
        lambda: events.delete_daily_before(first_kept.isoformat(), batch), "daily", total,
        progress, batch)
    kept = events.summarised_days(first_kept.isoformat(), "9999-12-31")
    verb = "would summarise" if dry_run else "summarised"
    return PurgeResult("daily", int(count), kept[0] if kept else None, days, dry_run,
                       detail=f"{verb} {made} day{'s' if made != 1 else ''}")


def purge_receipts(identity: IdentityStore, *, now: float, days: int, tz: ZoneInfo,
                   dry_run: bool = False, progress: Progress | None = None,
                   batch: int = BATCH,
                   seal: Callable[[], TombstoneSealer] | None = None) -> PurgeResult:
    """Tombstone every receipt of the subjects whose last decision is past ``days``.

    :param seal: makes the tombstones' sealer (from ``SECRET_KEYS``); called only when a
        receipt is due, so a purge of a fresh folder needs no key.
    """
    cutoff = int(now) - days * DAY
    total = identity.count_expired_receipts(cutoff)
    count = 0
    if dry_run:
        count = total
        oldest = identity.oldest_live_receipt(unexpired_before=cutoff)
    else:
        if total:
            if seal is None:
                raise ValueError("Receipts are due for tombstones, and tombstones are "
                                 "sealed: pass seal.")
            sealer = seal()
            # Whole subjects per batch: a subject is never left half tombstoned.
            while n := identity.tombstone_expired(cutoff, "retention", int(now), sealer,
                                                  batch):
                count += n
                _tick(progress, "receipts", count, total)
        oldest = identity.oldest_live_receipt()
    return PurgeResult("receipts", count, _local_date(oldest, tz), days, dry_run,
                       action="tombstone")


def purge_suppressions(identity: IdentityStore, *, now: float, days: int | None,
                       tz: ZoneInfo, dry_run: bool = False, progress: Progress | None = None,
                       batch: int = BATCH) -> PurgeResult:
    """Delete suppressions older than ``days``; with None (the default) keep them all."""
    if days is None:
        return PurgeResult("suppressions", 0, _local_date(identity.oldest_suppression(), tz),
                           None, dry_run)
    cutoff = int(now) - days * DAY
    total = identity.count_suppressions_before(cutoff)
    count = total if dry_run else _in_batches(
        lambda: identity.delete_suppressions_before(cutoff, batch), "suppressions", total,
        progress, batch)
    oldest = identity.oldest_suppression(cutoff)
    return PurgeResult("suppressions", int(count), _local_date(oldest, tz), days, dry_run)


def purge_remember(identity: IdentityStore, identity_url: str, *, now: float, days: int,
                   remember_days: int, tz: ZoneInfo, dry_run: bool = False) -> PurgeResult:
    """Delete remember-me tokens ``days - remember_days`` days past their absolute expiry
    (with the defaults: their lifetime of 30 days + 7), then the epoch rows of accounts
    left without a token whose epoch last changed more than ``days`` days ago."""
    keep_days = days - remember_days  # config guarantees days >= remember_days
    cutoff = now - keep_days * DAY
    accounts_cutoff = now - days * DAY
    # The tables exist once a host app used remember-me; the SDK creates them (both).
    if not identity.has_remember_tables():
        return PurgeResult("remember", 0, None, days, dry_run)
    if dry_run:
        count = identity.count_expired_remember(cutoff)
        # The tokens this purge is about to delete count as gone.
        accounts = identity.count_forgettable_accounts(accounts_cutoff, cutoff)
    else:
        # No keys: purging signs and verifies nothing.
        with RememberStore(identity_url, keys=(), days=remember_days) as store:
            count = store.purge_expired(now, keep_days=keep_days)
            accounts = store.purge_accounts(accounts_cutoff)
    oldest = identity.oldest_remember_token(cutoff)
    verb = "would forget" if dry_run else "forgot"
    detail = f"{verb} {accounts} account epoch{'s' if accounts != 1 else ''}" \
        if accounts else ""
    return PurgeResult("remember", int(count), _local_date(oldest, tz), days, dry_run,
                       detail=detail)


def purge_audit(identity: IdentityStore, *, now: float, days: int, tz: ZoneInfo,
                dry_run: bool = False, progress: Progress | None = None,
                batch: int = BATCH) -> PurgeResult:
    """Tombstone audit entries older than ``days``: numbers and times stay, no gaps."""
    cutoff = int(now) - days * DAY
    total = identity.count_audit_before(cutoff)
    count = total if dry_run else _in_batches(
        lambda: identity.tombstone_audit_before(cutoff, batch), "audit", total, progress,
        batch)
    oldest = identity.oldest_audit(cutoff)
    return PurgeResult("audit", int(count), _local_date(oldest, tz), days, dry_run,
                       action="tombstone")


def purge(col: Collector, now: float, dry_run: bool = False,
          progress: Progress | None = None) -> list[PurgeResult]:
    """Summarise the complete days (daily totals), then purge every data class past its
    period; one :class:`PurgeResult` for the daily totals, then one per class, in
    :data:`CLASSES` order.

    :param col: the collector: its configuration, stores and receipt keys.
    :param now: the purge's clock, seconds since the epoch.
    :raises StorageError: a store cannot be read or written; classes already purged stay
        purged, and the next run carries on.
    :raises ConfigError: ``TIMEZONE`` is not the zone the roll-ups are filed in; nothing
        was purged.
    """
    config = col.config
    events, identity = col.events, col.identity
    tz = ZoneInfo(config["TIMEZONE"])
    days = {cls: config[f"RETENTION_DAYS_{cls.upper()}"] for cls in CLASSES}
    common: dict[str, Any] = {"now": now, "tz": tz, "dry_run": dry_run}
    # Checked before any class is purged: a refusal changes nothing.
    rollups.check_purge_timezone(events, tz)
    rollups_from = _today(now, tz) - timedelta(days=days["rollups"])
    reports = [
        purge_daily(events, days=days["rollups"], progress=progress, **common),
        purge_events(events, days=days["events"], rollups_from=rollups_from,
                     progress=progress, **common),
        purge_rollups(events, days=days["rollups"], events_days=days["events"],
                      progress=progress, **common),
        purge_receipts(identity, days=days["receipts"], progress=progress,
                       seal=lambda: sealer(col.receipt_keys), **common),
        purge_suppressions(identity, days=days["suppressions"], progress=progress,
                           **common),
        purge_remember(identity, config["IDENTITY_URL"], days=days["remember"],
                       remember_days=config["REMEMBER_DAYS"], **common),
        purge_audit(identity, days=days["audit"], progress=progress, **common),
    ]
    if not dry_run:
        # Deleted and tombstoned rows are zeroed in the files (secure_delete), but their
        # old pages may linger in a write-ahead log until a checkpoint: end it now.
        for store in (events, identity):
            if not store.flush_deleted():
                log.warning("%s: readers kept the write-ahead log busy; the next "
                            "checkpoint finishes the purge", store.location)
    return reports


#: ``cleargif purge`` exits with this status (EX_TEMPFAIL) when another purge holds the lock.
PURGE_BUSY = 75


def purge_lock(col: Collector) -> AbstractContextManager[bool]:
    """The purge's lock, held by one purge at a time among every collector sharing the
    event store (a file beside a SQLite store, an advisory lock on PostgreSQL): ``with
    purge_lock(col) as held:``, ``held`` False at once when another purge holds it."""
    return col.events.exclusive("purge")


__all__ = [
    "BATCH",
    "CLASSES",
    "PURGE_BUSY",
    "Progress",
    "PurgeResult",
    "purge",
    "purge_audit",
    "purge_daily",
    "purge_events",
    "purge_lock",
    "purge_receipts",
    "purge_remember",
    "purge_rollups",
    "purge_suppressions",
]
