"""The PII-access audit log (DESIGN 6, issue "subject rights"): who read or erased what,
when and why.

Every access to personal data through the CLI or the API (subject export and erasure,
a receipt view, a suppression read) appends one row to the identity store's ``audit``
table. The subject is named only by ``HMAC-SHA256(key, "kind:id")``, under a key derived
from the newest of ``SECRET_KEYS`` for this purpose alone: the log proves that a subject
was accessed and lets the officer find those entries again when given the id, but a copy
of the log names nobody. After a key rotation, entries made under older keys are still
found (:func:`subject_hmacs` derives one HMAC per key).

The actor is ``token:<name>`` for the admin API (the token's name says who holds it) or
``os-user:<login>`` for the command line. Retention tombstones old entries in place
(``action = 'tombstone'``): :func:`read` returns them like any other row and
:func:`format_text` shows them as tombstones.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sdk.keyring import Keyring
from sdk.scrub import identifying_kinds
from sdk.times import iso

from ..config import read_keys
from ..errors import CleargifError
from ..storage import IdentityStore

#: Actions written by cleargif itself.
EXPORT = "subject.export"
ERASE = "subject.erase"
CONSENT_SHOW = "consent.show"
SUPPRESSIONS_READ = "suppressions.read"
#: The action of an entry that retention emptied (its number and time stay).
TOMBSTONE = "tombstone"

#: Longest reason kept; a reason is a few words, not a case file.
MAX_REASON = 200
FORMATS = ("text", "json", "csv")
COLUMNS = ("seq", "time", "actor", "action", "subject_hmac", "reason", "detail")

_PURPOSE = b"cleargif.audit.subject.v1"  # one derived key per purpose, like every MAC here
_ACTION_RE = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)*")


class AuditError(CleargifError):
    """A reason or action the audit log refuses; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit row as read back (``detail`` parsed from its JSON when possible)."""

    seq: int
    time: str
    actor: str
    action: str
    subject_hmac: str | None
    reason: str | None
    detail: Any

    @property
    def is_tombstone(self) -> bool:
        """Retention emptied this entry: only its number and time are left."""
        return self.action == TOMBSTONE


def subject_keyring(config: Mapping[str, Any]) -> Keyring:
    """The keys that name subjects, derived from ``SECRET_KEYS`` for this purpose alone:
    the newest names subjects in new entries, every one finds older entries.

    :raises ConfigError: no SECRET_KEYS configured or in their file.
    """
    return Keyring(read_keys(config, "SECRET_KEYS"), _PURPOSE)


def subject_hmac(keys: Keyring, kind: str, subject_id: str) -> str:
    """``HMAC-SHA256(key, "kind:id")`` under the newest key, as hex: how the log names a
    subject."""
    return keys.sign(f"{kind}:{subject_id}".encode())[1].hex()


def subject_hmacs(config: Mapping[str, Any], kind: str, subject_id: str) -> list[str]:
    """The subject's name under every key of SECRET_KEYS, to find entries made before a
    rotation."""
    return [mac.hex() for mac in
            subject_keyring(config).macs(f"{kind}:{subject_id}".encode())]


def cli_actor() -> str:
    """``os-user:<login>`` of whoever runs the command."""
    try:
        return f"os-user:{getpass.getuser()}"
    except (OSError, KeyError):
        # No login name in the environment nor in the password database (containers).
        return f"os-user:uid-{os.getuid()}" if hasattr(os, "getuid") else "os-user:unknown"


def token_actor(name: str) -> str:
    """``token:<name>`` of an admin API token."""
    return f"token:{name}"


def check_reason(reason: str | None, *, required: bool = False,
                 subject_id: str | None = None) -> str | None:
    """A reason as stored: stripped, one line, at most :data:`MAX_REASON` characters, and
    never holding the subject's id nor anything the event scrubber takes for an email
    address, an IP address or a phone, card or account number
    (:func:`sdk.scrub.identifying_kinds`): the log must not name anyone in clear.

    :raises AuditError: with a sentence saying what to change.
    """
    text = (reason or "").strip()
    if not text:
        if required:
            raise AuditError("Say why: give a reason such as 'request', 'child' or a few "
                             "words.")
        return None
    if len(text) > MAX_REASON or not text.isprintable():
        raise AuditError(f"The reason must be one line of at most {MAX_REASON} characters.")
    # Case-insensitive: anywhere for ids long enough to be told from ordinary words, as a
    # word of its own for short ones (an account named "e" must not forbid "request").
    if subject_id and (subject_id.lower() in text.lower() if len(subject_id) >= 6 else
                       re.search(rf"(?<![^\W_]){re.escape(subject_id)}(?![^\W_])", text,
                                 re.IGNORECASE)):
        raise AuditError("The reason must not contain the subject's id: the audit log names "
                         "subjects only by an HMAC.")
    if identifying_kinds(text):
        raise AuditError("The reason must not hold personal data such as an email address, "
                         "an IP address or a phone, card or account number: the audit log "
                         "names subjects only by an HMAC. Say why in a few words, such as "
                         "'request' or 'child'.")
    return text


def record(identity: IdentityStore, *, actor: str, action: str, subject_kind: str | None,
           subject_id: str | None, reason: str | None, detail: Mapping[str, Any] | None,
           now: float, keys: Keyring) -> None:
    """Append one entry to the audit log.

    :param actor: ``token:<name>`` or ``os-user:<login>`` (see :func:`token_actor`,
        :func:`cli_actor`).
    :param action: such as :data:`EXPORT`, :data:`ERASE`, :data:`CONSENT_SHOW`,
        :data:`SUPPRESSIONS_READ`.
    :param subject_kind: ``account``, ``recipient``, ``visitor`` or ``consent``; None
        (with ``subject_id`` None) when no one subject was accessed, such as a listing.
    :param subject_id: the subject's id; only its HMAC under ``keys`` is stored.
    :param detail: counts and flags, stored as JSON; never ids.
    :param keys: from :func:`subject_keyring`.
    :raises AuditError: a malformed action or reason.
    :raises StorageError: the identity store cannot be written.
    """
    if not _ACTION_RE.fullmatch(action) or action == TOMBSTONE:
        raise AuditError(f"{action!r} is not an audit action; use words such as "
                         "'subject.export'.")
    if (subject_kind is None) != (subject_id is None):
        raise AuditError("Give both the subject's kind and id, or neither.")
    name = subject_hmac(keys, subject_kind, subject_id) \
        if subject_kind is not None and subject_id is not None else None
    identity.append_audit(int(now), actor, action, name,
                          check_reason(reason, subject_id=subject_id),
                          json.dumps(dict(detail), sort_keys=True) if detail else None)


def log_access(action: str, *, subject_kind: str | None = None,
               subject_id: str | None = None, reason: str | None = None,
               detail: Mapping[str, Any] | None = None, actor: str | None = None) -> None:
    """:func:`record` for the current Flask app, with its store, key and clock. For views
    and commands.

    :param actor: who; by default the request's API token (``g.api_token``, set by
        :func:`collector.web.views.admin.require`) inside a request, else the OS user.
        Commands pass :func:`cli_actor` explicitly.
    :raises AuditError: a malformed action or reason.
    :raises StorageError: the identity store cannot be written.
    :raises ConfigError: no SECRET_KEYS.
    """
    from flask import current_app, g, has_request_context

    from .. import clock
    from ..extension import ext

    if actor is None:
        token = g.get("api_token") if has_request_context() else None
        actor = token_actor(token.name) if token is not None else cli_actor()
    record(ext().identity, actor=actor, action=action, subject_kind=subject_kind,
           subject_id=subject_id, reason=reason, detail=detail, now=clock.now(),
           keys=subject_keyring(current_app.config))


def read(identity: IdentityStore, *, since: int | None = None, until: int | None = None,
         subject_hmacs: Iterable[str] | None = None) -> list[Entry]:
    """Entries in order, optionally from ``since`` and before ``until`` (Unix seconds),
    optionally only those naming one of ``subject_hmacs`` (an empty list matches
    nothing). Tombstones included."""
    rows = identity.audit_rows(since, until,
                               None if subject_hmacs is None else list(subject_hmacs))
    return [Entry(row.seq, iso(row.ts), row.actor or "-", row.action or TOMBSTONE,
                  row.subject_hmac, row.reason, _detail(row.detail)) for row in rows]


def _detail(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # written by hand or by an older release: show it as it is


def _detail_text(detail: Any) -> str:
    if detail is None:
        return ""
    if isinstance(detail, dict):
        return ", ".join(f"{k}={v}" for k, v in detail.items())
    return str(detail)


def format_text(entries: Iterable[Entry]) -> str:
    """One line per entry for a terminal; tombstones say so."""
    lines = []
    for e in entries:
        if e.is_tombstone:
            lines.append(f"{e.seq:>6}  {e.time}  tombstone ({e.reason or 'no reason'}): "
                         "who, what and about whom were cleared")
            continue
        parts = [f"{e.seq:>6}", e.time, e.action, e.actor,
                 f"subject {e.subject_hmac[:16]}" if e.subject_hmac else "no subject"]
        if e.reason:
            parts.append(f"why: {e.reason}")
        if e.detail is not None:
            parts.append(_detail_text(e.detail))
        lines.append("  ".join(parts))
    return "".join(line + "\n" for line in lines)


def format_json(entries: Iterable[Entry]) -> str:
    """``{"entries": [...]}``, one object per entry (tombstones with ``"tombstone": true``)."""
    rows = [{**asdict(e), "tombstone": e.is_tombstone} for e in entries]
    return json.dumps({"entries": rows, "count": len(rows)}, indent=2, ensure_ascii=False) \
        + "\n"


def format_csv(entries: Iterable[Entry]) -> str:
    """CSV with a header row; ``detail`` as JSON text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        detail = "" if e.detail is None else json.dumps(e.detail, sort_keys=True) \
            if not isinstance(e.detail, str) else e.detail
        writer.writerow([e.seq, e.time, e.actor, e.action, e.subject_hmac or "",
                         e.reason or "", detail])
    return out.getvalue()


def render(entries: Iterable[Entry], fmt: str) -> str:
    """Entries in one of :data:`FORMATS`."""
    return {"text": format_text, "json": format_json, "csv": format_csv}[fmt](entries)


__all__ = ["CONSENT_SHOW", "ERASE", "EXPORT", "FORMATS", "SUPPRESSIONS_READ", "TOMBSTONE",
           "AuditError", "Entry", "check_reason", "cli_actor", "log_access",
           "read", "record", "render", "subject_hmac", "subject_hmacs", "subject_keyring",
           "token_actor"]
