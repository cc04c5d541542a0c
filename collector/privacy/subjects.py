"""Subject rights (GDPR Art. 15 and 17): everything held about one subject, and its
erasure.

A subject is named by one id of one kind:

* ``account``: a host app's account id, known only to the remember-me tables;
* ``recipient``: an email sender's recipient pseudonym (``events.recipient`` and the
  suppression list);
* ``visitor``: the 32-hex visitor id of the ``cg_vid`` cookie (``events.visitor_id``);
* ``consent``: the 32-hex subject id of the ``cg_consent`` cookie (``receipts.subject_id``).

No store links one kind to another (that is the point of pseudonyms), so a request that
brings several ids is answered one id at a time.

A visitor's events include the events of every session in which the visitor id was seen:
the same browser sent them, before its visitor cookie existed or while personalization
was off, and the session id links them to the rest.

Erasure deletes or tombstones everything but the suppression entries, which must outlive
it (DESIGN 1.7: a recipient who unsubscribed must never be mailed again). Every store
connection runs with ``secure_delete`` (see :mod:`collector.storage.sqlite`) and the WAL is
truncated afterwards, so the erased bytes leave the files. This module does no auditing
and knows nothing of Flask: the CLI and the API call :func:`collector.privacy.audit.log_access`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sdk.remember import RememberStore
from sdk.times import iso

from ..consent.rules import is_random_id
from ..errors import CleargifError
from ..mail.campaigns import ALL_MAIL
from ..storage import EventStore, IdentityStore, TombstoneSealer
from .audit import Entry, check_reason

KINDS = ("account", "recipient", "visitor", "consent")
#: The CLI option of each kind.
OPTIONS = {"account": "--account", "recipient": "--recipient", "visitor": "--visitor",
           "consent": "--consent-subject"}
#: Words for the reason of an erasure; any other short text is accepted too.
REASONS = ("request", "child")
#: The longest account id (the remember-me limit) and recipient id (the SDK's limit).
MAX_ACCOUNT = 256
MAX_RECIPIENT = 128
BATCH = 500
#: What the export says beside the data, so the reader knows what is and is not in it.
NOTES = (
    "Suppression entries are kept after an erasure so that no mail is sent again to an "
    "address that asked for none.",
    "The ids of other kinds (visitor, consent subject, account, recipient) are not linked "
    "to each other in cleargif's stores; each is exported on its own.",
    "A visitor's events include the events of the sessions in which the visitor id was "
    "seen.",
)


class SubjectError(CleargifError):
    """A subject kind or id that cannot be looked up; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One subject: its kind (one of :data:`KINDS`) and its id."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class Stores:
    """The stores an export or an erasure works on."""

    events: EventStore
    identity: IdentityStore
    identity_url: str  #: for the remember-me tables (:class:`sdk.remember.RememberStore`)
    #: Seals the tombstones of an erasure; called only when a receipt is erased (an
    #: export needs no key).
    sealer: Callable[[], TombstoneSealer]


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did."""

    subject: Subject
    reason: str
    events_deleted: int = 0
    events_stripped: int = 0
    receipts_tombstoned: int = 0
    remember_tokens_deleted: int = 0
    suppressions_kept: int = 0
    wal_truncated: bool = True

    def counts(self) -> dict[str, Any]:
        """The numbers, for the audit entry and the API answer (no ids)."""
        return {"events_deleted": self.events_deleted,
                "events_stripped": self.events_stripped,
                "receipts_tombstoned": self.receipts_tombstoned,
                "remember_tokens_deleted": self.remember_tokens_deleted,
                "suppressions_kept": self.suppressions_kept,
                "wal_truncated": self.wal_truncated}

    def lines(self) -> list[str]:
        """A few lines for the terminal."""
        out = [f"Erased {self.subject.kind} subject (reason: {self.reason}):"]
        if self.events_stripped:
            out.append(f"  events: ids removed from {self.events_stripped} (the events stay "
                       "as anonymous counts)")
        else:
            out.append(f"  events deleted: {self.events_deleted}")
        out.append(f"  consent receipts tombstoned: {self.receipts_tombstoned}")
        out.append(f"  remember-me tokens deleted: {self.remember_tokens_deleted}")
        out.append(f"  suppression entries kept: {self.suppressions_kept}")
        return out

    def warning(self) -> str | None:
        """A sentence when the erased bytes may still be on disk, else None."""
        if self.wal_truncated:
            return None
        return ("A reader kept a write-ahead log busy, so old copies of the erased rows may "
                "stay in it until the next checkpoint; run the erasure again when the "
                "collector is quiet.")


def parse_subject(kind: str, value: str) -> Subject:
    """Check a kind and an id.

    :raises SubjectError: an unknown kind or an id of the wrong shape, with a sentence.
    """
    if kind not in KINDS:
        raise SubjectError(f"Unknown subject kind {kind[:40]!r}; use account, recipient, "
                           "visitor or consent.")
    if not isinstance(value, str) or not value:
        raise SubjectError(f"The {kind} id is empty; give the id to look up.")
    if kind in ("visitor", "consent"):
        if not is_random_id(value):
            where = ("the part of the cg_vid cookie before the first dot" if kind == "visitor"
                     else "the subject id of the cg_consent cookie or of a receipt")
            raise SubjectError(f"A {kind} id is 32 lowercase hexadecimal characters "
                               f"({where}).")
        return Subject(kind, value)
    limit = MAX_ACCOUNT if kind == "account" else MAX_RECIPIENT
    if len(value) > limit or not value.isprintable():
        # isprintable() also refuses the lone surrogates Python makes of bytes that are not
        # UTF-8 (a command-line argument), which no store could write.
        raise SubjectError(f"A {kind} id is 1 to {limit} printable characters (UTF-8).")
    return Subject(kind, value)


def erasure_reason(reason: str | None, subject: Subject) -> str:
    """The reason of an erasure as recorded: ``request``, ``child`` (data of a child
    under 13) or a short text that does not contain the subject's id.

    :raises AuditError: no reason, or one that is too long or names the subject.
    """
    text = check_reason(reason, required=True, subject_id=subject.id) or ""
    return text.lower() if text.lower() in REASONS else text


# --- reading ---------------------------------------------------------------------------

def receipts_of(identity: IdentityStore, subject_id: str) -> list[dict[str, Any]]:
    """A consent subject's receipts with their place in the chain, oldest first:
    ``{"seq", "hash", "prev_hash", "receipt"}`` (tombstones hold no subject id)."""
    return [{"seq": row.seq, "hash": row.hash, "prev_hash": row.prev_hash,
             "receipt": _body(row.body or "")}
            for row in identity.subject_receipts(subject_id)]


def _body(text: str) -> dict[str, Any]:
    # A body edited by hand may not be a JSON object any more; show it, do not fail.
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"unreadable_body": text}


def suppressions_of(identity: IdentityStore, recipient: str) -> list[dict[str, Any]]:
    """A recipient's suppression entries, oldest first."""
    return [{"list": row.list, "recipient": row.recipient, "all_mail": row.list == ALL_MAIL,
             "campaign": row.campaign, "reason": row.reason, "created_at": iso(row.created_at)}
            for row in identity.suppressions_of(recipient)]


def export_subject(subject: Subject, stores: Stores, *, now: float,
                   history: Sequence[Entry] = ()) -> dict[str, Any]:
    """Everything held about ``subject`` as one JSON-ready document.

    Sections are always present, empty when nothing is held (an unknown subject is not
    an error): ``receipts``, ``suppressions``, ``remember_me_tokens`` (metadata, never
    secrets), ``remember_me_epoch`` (the account's epoch and when it last changed, kept
    after a "log out everywhere"), ``events`` (raw records) and ``access_log`` (earlier
    exports and erasures of this subject, from the audit log, without who did them).

    :param history: the audit entries naming this subject (:func:`collector.privacy.audit.read`).
    :raises StorageError: a store cannot be read.
    """
    receipts: list[dict[str, Any]] = []
    suppressions: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    epoch: list[dict[str, Any]] = []
    if subject.kind == "consent":
        receipts = receipts_of(stores.identity, subject.id)
    elif subject.kind == "recipient":
        suppressions = suppressions_of(stores.identity, subject.id)
    elif subject.kind == "account" and stores.identity.has_remember_tables():
        with RememberStore(stores.identity_url, keys=()) as remember:
            tokens = remember.export_account(subject.id)
            epoch = remember.export_epoch(subject.id)
    events = stores.events.subject_events(subject.kind, subject.id) \
        if subject.kind in ("visitor", "recipient") else []
    return {
        "subject": {"kind": subject.kind, "id": subject.id},
        "exported_at": iso(now),
        "receipts": receipts,
        "suppressions": suppressions,
        "remember_me_tokens": tokens,
        "remember_me_epoch": epoch,
        "events": events,
        "access_log": [{"time": e.time, "action": e.action, "reason": e.reason,
                        "detail": e.detail} for e in history if not e.is_tombstone],
        "notes": list(NOTES),
    }


def export_counts(document: dict[str, Any]) -> dict[str, int]:
    """How many entries each section of an export holds (for the audit entry)."""
    return {section: len(document[section]) for section in
            ("receipts", "suppressions", "remember_me_tokens", "remember_me_epoch",
             "events")}


def summary(document: dict[str, Any]) -> str:
    """``2 receipts, 1 suppression entry, 0 remember-me tokens, 5 events``, with
    ``1 remember-me epoch`` after the tokens when an account has one."""
    def n(count: int, one: str, many: str) -> str:
        return f"{count} {one if count == 1 else many}"

    epoch = document.get("remember_me_epoch") or []
    return ", ".join([
        n(len(document["receipts"]), "receipt", "receipts"),
        n(len(document["suppressions"]), "suppression entry", "suppression entries"),
        n(len(document["remember_me_tokens"]), "remember-me token", "remember-me tokens"),
        *([n(len(epoch), "remember-me epoch", "remember-me epochs")] if epoch else []),
        n(len(document["events"]), "event", "events"),
    ])


# --- erasure ----------------------------------------------------------------------------

def erase_subject(subject: Subject, stores: Stores, *, reason: str, now: float,
                  strip_events: bool = False) -> Erasure:
    """Erase everything held about ``subject`` but its suppression entries.

    Remember-me tokens (and the account's epoch row) are deleted, consent receipts become
    tombstones with reason ``erasure:<reason>`` (the chain still verifies), events are
    deleted in batches, or with ``strip_events`` kept without their ids (campaign and
    page counts stay). Both write-ahead logs are then truncated. Erasing an unknown
    subject does nothing and is not an error; erasing twice is harmless.

    :param reason: from :func:`erasure_reason`.
    :raises StorageError: a store cannot be written; what was erased stays erased, and
        running the erasure again finishes it.
    """
    tokens = receipts = suppressions = n = 0
    if subject.kind == "account" and stores.identity.has_remember_tables():
        with RememberStore(stores.identity_url, keys=()) as remember:
            tokens = remember.erase_account(subject.id)
    elif subject.kind == "consent":
        if stores.identity.subject_receipts(subject.id):  # no key needed for none
            receipts = stores.identity.tombstone_subject(subject.id, f"erasure:{reason}",
                                                         int(now), stores.sealer())
    elif subject.kind == "recipient":
        suppressions = len(stores.identity.suppressions_of(subject.id))
    if subject.kind in ("visitor", "recipient"):
        n = stores.events.erase_subject_events(subject.kind, subject.id, strip_events, BATCH)
    events_truncated = stores.events.flush_deleted()
    identity_truncated = stores.identity.flush_deleted()
    return Erasure(subject, reason, events_deleted=0 if strip_events else n,
                   events_stripped=n if strip_events else 0, receipts_tombstoned=receipts,
                   remember_tokens_deleted=tokens, suppressions_kept=suppressions,
                   wal_truncated=events_truncated and identity_truncated)


__all__ = ["KINDS", "NOTES", "OPTIONS", "REASONS", "Erasure", "Stores", "Subject",
           "SubjectError", "erase_subject", "erasure_reason", "export_counts", "export_subject",
           "parse_subject", "receipts_of", "summary", "suppressions_of"]
