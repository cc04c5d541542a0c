"""Remember-me tokens: the ``cg_remember`` cookie and its storage in the identity database.

This module has no Flask in it (:mod:`sdk.flask_remember` is the glue for host apps); it
turns a cookie value into an account, or into nothing, and keeps the server side of the
tokens in SQLite tables of the identity database named by ``IDENTITY_URL``.

The cookie
==========
``<selector>.<validator>.<mac>``, 110 ASCII characters:

* ``selector`` (16 random bytes) names one token: one browser's "remember me" login.
  Stored in clear; it is only a lookup key.
* ``validator`` (32 random bytes) is the secret. The database keeps only its SHA-256,
  compared with :func:`hmac.compare_digest`, so a copy of the database logs nobody in.
* ``mac`` is an HMAC-SHA256 of ``selector.validator`` under the newest of the host's
  ``SECRET_KEYS`` (every key of the list verifies, so keys rotate as everywhere else in
  cleargif). The hashed validator alone would be a sound scheme (Paragon's "split token");
  the MAC is added because it buys three things the hash does not:

  - a cookie made under another deployment's keys, or forged, or bit-flipped, is refused
    before any database work, so garbage costs a hash, not a lookup;
  - theft detection can only be triggered by a cookie this server really issued: a known
    selector paired with a made-up validator has no valid MAC, so nobody who merely
    learnt a selector can revoke someone else's logins by sending junk;
  - removing a key from ``SECRET_KEYS`` ends every cookie it signed, a global switch.

  Values over 256 characters or of any other shape are refused without a database read.

Lifetime, rotation and the grace window
=======================================
A token lives ``REMEMBER_DAYS`` from its issue, absolutely: rotation carries the expiry
over and never extends it, and ``Max-Age`` is always the whole seconds left.

Each successful recall with the *current* validator rotates it: the new validator is
``HMAC-SHA256(key=salt, msg=old validator)`` with a fresh random 32-byte ``salt`` kept in
the row; the row keeps the hash of the old validator as *previous*, valid until
``grace_seconds`` (at least 60) after the rotation. Deriving the new validator from the old
one is what makes the grace window safe for browsers: a request that presents the previous
validator inside the window (a parallel tab, or the retry of a navigation whose response
was lost) is answered with the account and **the same current cookie** recomputed from
what it presented, without rotating again. Every response of a burst therefore sets the
same value and the browser ends with a valid cookie whatever order they arrive in. Only
someone holding the old validator can compute the new one (the salt alone, e.g. from a
copy of the database, is not enough).

The previous validator stops being valid at the first of: the new one being presented
(that recall rotates again, so the row's *previous* becomes the new one) or the end of
the grace window. Presenting a validator of a known selector (with a valid MAC) that is
neither current nor previous-within-grace means two browsers hold the same token: one of
them is a thief. Every token of the account is then revoked and the account's epoch
bumped (which also ends sessions keyed by the epoch, see below); the :class:`Recall`
says ``theft=True`` and names the account so that the host can warn its owner.
The known cost: a browser that loses the rotated cookie *and* returns only after the
grace window is logged out (safely) as if stolen.

Epoch
=====
Each account has an epoch (``remember_accounts``); a token is valid only while the epoch
it was issued under is current. :meth:`RememberStore.bump_epoch` (password change) and
:meth:`RememberStore.forget_everywhere` ("log out everywhere") raise it and delete the
account's tokens. A new epoch is ``max(old + 1, now in milliseconds)``, so epochs never
repeat even after :meth:`RememberStore.erase_account` dropped the row: a host that puts
the epoch in its session ids (the Flask-Login recipe in ``docs/remember-me.md``) can
never see an ended session come back, but for one: without its row an account is back at
epoch 0, the epoch of sessions made before its first bump.

A token is valid only while its epoch *equals* the account's, and a bump deletes every
token of the account, so once an account has no token left its row protects no token:
:meth:`RememberStore.purge_accounts` then deletes it (after the retention period) without
any token coming back, since deleted tokens cannot.

Storage
=======
SQLite in WAL mode, ``busy_timeout`` 5 s, ``synchronous=NORMAL``, ``secure_delete`` on
(deleted tokens are overwritten, not left in free pages); one connection per thread,
opened lazily and again in a forked child; every write in ``BEGIN IMMEDIATE``, because
several processes (web workers, the collector's CLI) write to the same file. Only the
tables ``remember_tokens`` and ``remember_accounts`` belong to this module; the collector
keeps its own tables in the same file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .database import IDENTITY_SCHEMA, Transaction, identity_database
from .errors import ConfigError, check_utf8, describe, finite_number
from .keyring import Keyring
from .keys import key_list
from .times import DAY, iso

__all__ = [
    "COOKIE_NAME",
    "MAX_ACCOUNT_CHARS",
    "MAX_COOKIE_CHARS",
    "Issued",
    "Recall",
    "RememberStore",
    "check_account",
]

#: The name of the remember-me cookie (DESIGN 2).
COOKIE_NAME = "cg_remember"
#: Longer cookie values are refused before any parsing.
MAX_COOKIE_CHARS = 256
#: The shortest grace window the rotation scheme allows (seconds).
MIN_GRACE_SECONDS = 60
#: The longest ``REMEMBER_DAYS`` accepted (the collector accepts the same range).
MAX_REMEMBER_DAYS = 400
#: The most days :meth:`RememberStore.purge_expired` keeps tokens past their expiry
#: (the collector's longest retention, 100 years).
MAX_KEEP_DAYS = 36_500
#: The longest account id, in characters (the collector's subject tooling agrees).
MAX_ACCOUNT_CHARS = 256

_SALT = b"cleargif.remember-me.v1"  # one salt per purpose: this MAC signs nothing else
_SELECTOR_BYTES = 16
_VALIDATOR_BYTES = 32
_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")
_BATCH = 500

log = logging.getLogger("cleargif.remember")

SCHEMA = """
CREATE TABLE IF NOT EXISTS remember_accounts (
    account TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS remember_tokens (
    selector TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    validator_hash BLOB NOT NULL,
    rotation_salt BLOB,
    prev_hash BLOB,
    prev_until REAL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_used_at REAL
);
CREATE INDEX IF NOT EXISTS remember_tokens_account ON remember_tokens (account);
CREATE INDEX IF NOT EXISTS remember_tokens_expires ON remember_tokens (expires_at);
"""
#: The same tables on PostgreSQL, in the collector's identity schema.
POSTGRES_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {IDENTITY_SCHEMA}.remember_accounts (
    account TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    changed_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {IDENTITY_SCHEMA}.remember_tokens (
    selector TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    validator_hash BYTEA NOT NULL,
    rotation_salt BYTEA,
    prev_hash BYTEA,
    prev_until DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS remember_tokens_account
    ON {IDENTITY_SCHEMA}.remember_tokens (account);
CREATE INDEX IF NOT EXISTS remember_tokens_expires
    ON {IDENTITY_SCHEMA}.remember_tokens (expires_at);
"""
TABLES = ("remember_accounts", "remember_tokens")



@dataclass(frozen=True)
class Issued:
    """A freshly issued token.

    :ivar cookie_value: the value of the ``cg_remember`` cookie (secret: never log it).
    :ivar expires_at: absolute expiry, seconds since the epoch (UTC).
    :ivar max_age: whole seconds left until ``expires_at``, for ``Max-Age``.
    """

    cookie_value: str = field(repr=False)
    expires_at: float
    max_age: int


@dataclass(frozen=True)
class Recall:
    """The outcome of :meth:`RememberStore.recall`.

    :ivar account: the account to log in, or ``None``.
    :ivar new_cookie_value: the value the browser must hold from now on (set it whenever
        it is not ``None``: after a rotation, or inside the grace window).
    :ivar max_age: whole seconds left until the absolute expiry (0 without an account).
    :ivar expires_at: the absolute expiry, or ``None`` without an account.
    :ivar theft: a stale validator was replayed; every token of ``theft_account`` was
        revoked and its epoch bumped.
    :ivar theft_account: the account that was revoked, for the host's warning to its owner.
    :ivar reason: a short word for logs, free of secrets: ``rotated``, ``grace``,
        ``oversized``, ``malformed``, ``bad-signature``, ``unknown``, ``expired``,
        ``revoked``, ``stale`` or ``theft``.
    """

    account: str | None
    new_cookie_value: str | None = field(default=None, repr=False)
    max_age: int = 0
    expires_at: float | None = None
    theft: bool = False
    theft_account: str | None = None
    reason: str = ""


def check_account(account: object) -> None:
    """Refuse what cannot be an account id: anything but a non-empty string of at most
    :data:`MAX_ACCOUNT_CHARS` characters that has a UTF-8 form.

    :raises ValueError: with a sentence; the value itself is never quoted.
    """
    if not isinstance(account, str) or not account or len(account) > MAX_ACCOUNT_CHARS:
        raise ValueError(f"The account id must be a non-empty string of at most "
                         f"{MAX_ACCOUNT_CHARS} characters.")
    check_utf8(account, "The account id")


def _timestamp(value: object, what: str) -> float:
    """``value`` as a finite number of seconds since the epoch."""
    seconds = finite_number(value)
    if seconds is not None:
        return seconds
    raise ValueError(f"{what} must be a finite number of seconds since the epoch, not "
                     f"{describe(value)}.")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _hash(validator: str) -> bytes:
    return hashlib.sha256(validator.encode("ascii")).digest()


def _next_validator(salt: bytes, validator: str) -> str:
    return _b64(hmac.new(salt, validator.encode("ascii"), hashlib.sha256).digest())


def _whole_seconds_left(expires_at: float, now: float) -> int:
    # Rounded down so that Max-Age can never reach past the absolute expiry.
    return max(0, math.floor(expires_at - now))


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


class RememberStore:
    """Issue, recall, rotate and revoke remember-me tokens kept in the identity database.

    Safe to share between threads; every process opens its own connections.

    :param identity_url: ``sqlite:///path`` or ``postgresql://…`` of the identity
        database (shared with the collector, which keeps its own tables there).
    :param keys: the host's ``SECRET_KEYS``, oldest first: the newest signs cookies, all
        verify. Each is a ``str`` (used as UTF-8) or ``bytes``. May be empty for the
        privacy tooling (:meth:`export_account`, :meth:`erase_account`,
        :meth:`purge_expired`), which needs no key.
    :param days: ``REMEMBER_DAYS``, the absolute lifetime of a token (1 to 400 days).
    :param grace_seconds: how long the previous validator stays valid after a rotation
        (at least 60 seconds, at most 400 days).
    :param clock: returns the current time in seconds since the epoch; tests move it.
    :raises ConfigError: a bad URL, key, lifetime or grace.
    """

    def __init__(self, identity_url: str, *, keys: Sequence[str | bytes], days: int = 30,
                 grace_seconds: int = MIN_GRACE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = identity_database(identity_url, SCHEMA, POSTGRES_SCHEMA, TABLES)
        #: The SQLite file, or None on PostgreSQL.
        self.path: str | None = getattr(self._db, "path", None)
        raw_keys = key_list(keys, "SECRET_KEYS", allow_empty=True)
        if isinstance(days, bool) or not isinstance(days, int) \
                or not 1 <= days <= MAX_REMEMBER_DAYS:
            raise ConfigError("REMEMBER_DAYS", f"REMEMBER_DAYS must be a whole number of days "
                              f"from 1 to {MAX_REMEMBER_DAYS}, not {describe(days)}.")
        if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, int) \
                or not MIN_GRACE_SECONDS <= grace_seconds <= MAX_REMEMBER_DAYS * DAY:
            raise ConfigError("grace_seconds", f"The rotation grace window must be a whole "
                              f"number of seconds, at least {MIN_GRACE_SECONDS} (parallel "
                              f"tabs, aborted navigations) and at most a token's longest "
                              f"lifetime, not {describe(grace_seconds)}.")
        # Derived for this purpose alone, so the raw SECRET_KEYS never key this MAC.
        self._keys = Keyring(raw_keys, _SALT) if raw_keys else None
        self.days = days
        self.grace_seconds = grace_seconds
        self.clock = clock

    # --- connections ---------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened in this process."""
        self._db.close()

    def __enter__(self) -> RememberStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> Any:
        """One write transaction, serialised with every other (see :mod:`sdk.database`)."""
        return self._db.write()

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._db.read(sql, params)

    # --- cookie values -------------------------------------------------------------------

    def _require_keys(self) -> Keyring:
        if self._keys is None:
            raise ConfigError("SECRET_KEYS", "Remember-me cookies need SECRET_KEYS: set it to "
                              "a list of long random keys, oldest first.")
        return self._keys

    def _sign(self, selector: str, validator: str) -> str:
        body = f"{selector}.{validator}"
        return f"{body}.{_b64(self._require_keys().sign(body.encode())[1])}"

    def _parse(self, value: object) -> tuple[str, str] | str:
        """``(selector, validator)`` of a genuine cookie, else the reason it is refused.

        No database work happens here: refusing junk must stay cheap.
        """
        keys = self._require_keys()
        if not isinstance(value, str):
            return "malformed"
        if len(value) > MAX_COOKIE_CHARS:
            return "oversized"
        if not _SHAPE.fullmatch(value):
            return "malformed"
        body, _, mac = value.rpartition(".")
        if keys.verify(body.encode(), mac, _b64) is None:
            return "bad-signature"
        selector, _, validator = body.partition(".")
        return selector, validator

    # --- the token life cycle ------------------------------------------------------------

    def issue(self, account: str) -> Issued:
        """Issue a token for ``account`` after an explicit "remember me" login.

        :param account: the host's account id (any string up to 256 characters).
        :returns: the cookie value, its absolute expiry and ``Max-Age``.
        :raises ConfigError: no ``SECRET_KEYS``.
        :raises StorageError: the identity database cannot be written.
        """
        self._require_keys()
        check_account(account)
        selector = _b64(secrets.token_bytes(_SELECTOR_BYTES))
        validator = _b64(secrets.token_bytes(_VALIDATOR_BYTES))
        now = self.clock()
        expires_at = now + self.days * DAY
        with self._write() as conn:
            conn.execute(
                "INSERT INTO remember_tokens (selector, account, epoch, validator_hash, "
                "created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (selector, account, self._epoch(conn, account), _hash(validator), now,
                 expires_at, now))
        return Issued(self._sign(selector, validator), expires_at,
                      _whole_seconds_left(expires_at, now))

    def recall(self, cookie_value: str) -> Recall:
        """Turn a cookie value into an account, rotating the validator.

        Never raises for a bad value: tampered, truncated, oversized, foreign, expired or
        revoked cookies give ``Recall(account=None, reason=...)``. See the module docstring
        for rotation, grace and theft.

        :raises ConfigError: no ``SECRET_KEYS``.
        :raises StorageError: the identity database cannot be written.
        """
        parsed = self._parse(cookie_value)
        if isinstance(parsed, str):
            return Recall(None, reason=parsed)
        selector, validator = parsed
        presented = _hash(validator)
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(
                "SELECT account, epoch, validator_hash, rotation_salt, prev_hash, prev_until, "
                "expires_at FROM remember_tokens WHERE selector = ?", (selector,)).fetchone()
            if row is None:
                return Recall(None, reason="unknown")
            account, epoch, current, salt, prev, prev_until, expires_at = row
            max_age = _whole_seconds_left(expires_at, now)
            if max_age <= 0:
                conn.execute("DELETE FROM remember_tokens WHERE selector = ?", (selector,))
                return Recall(None, reason="expired")
            if epoch != self._epoch(conn, account):
                conn.execute("DELETE FROM remember_tokens WHERE selector = ?", (selector,))
                return Recall(None, reason="revoked")
            if hmac.compare_digest(presented, current):
                salt = secrets.token_bytes(32)
                fresh = _next_validator(salt, validator)
                conn.execute(
                    "UPDATE remember_tokens SET validator_hash = ?, rotation_salt = ?, "
                    "prev_hash = ?, prev_until = ?, last_used_at = ? WHERE selector = ?",
                    (_hash(fresh), salt, current, now + self.grace_seconds, now, selector))
                return Recall(account, self._sign(selector, fresh), max_age, expires_at,
                              reason="rotated")
            if prev is not None and hmac.compare_digest(presented, prev) and now < prev_until:
                fresh = _next_validator(salt, validator)
                if not hmac.compare_digest(_hash(fresh), current):
                    # Cannot happen unless the row was edited by hand; refuse, do not guess.
                    return Recall(None, reason="stale")
                conn.execute("UPDATE remember_tokens SET last_used_at = ? WHERE selector = ?",
                             (now, selector))
                return Recall(account, self._sign(selector, fresh), max_age, expires_at,
                              reason="grace")
            self._revoke(conn, account, now)
        log.warning("A replayed remember-me validator revoked every token of its account "
                    "(suspected cookie theft).")
        return Recall(None, theft=True, theft_account=account, reason="theft")

    def forget(self, cookie_value: str) -> bool:
        """Delete the token of this cookie ("log out" in this browser).

        The token goes whatever validator the cookie holds: a valid MAC proves the cookie
        was issued here for that selector, and ending a token its holder wants ended is
        always safe.

        :returns: whether a token was deleted. Bad values are ignored.
        :raises ConfigError: no ``SECRET_KEYS``.
        :raises StorageError: the identity database cannot be written.
        """
        parsed = self._parse(cookie_value)
        if isinstance(parsed, str):
            return False
        with self._write() as conn:
            cur = conn.execute("DELETE FROM remember_tokens WHERE selector = ?", (parsed[0],))
        return cur.rowcount > 0

    def forget_everywhere(self, account: str) -> int:
        """End every token of ``account`` ("log out everywhere") by bumping its epoch.

        :returns: the number of tokens deleted.
        :raises ValueError: ``account`` is not an account id (see :meth:`issue`).
        :raises StorageError: the identity database cannot be written.
        """
        check_account(account)
        with self._write() as conn:
            deleted, _ = self._revoke(conn, account, self.clock())
        return deleted

    def bump_epoch(self, account: str) -> int:
        """Bump the epoch of ``account`` (call it on a password change): every token issued
        before is dead and deleted, and so is every session that carries the old epoch.

        :returns: the new epoch.
        :raises ValueError: ``account`` is not an account id (see :meth:`issue`).
        :raises StorageError: the identity database cannot be written.
        """
        check_account(account)
        with self._write() as conn:
            _, epoch = self._revoke(conn, account, self.clock())
        return epoch

    def epoch(self, account: str) -> int:
        """The current epoch of ``account`` (0 until first bumped).

        Hosts put it in their session ids so that "log out everywhere" and password changes
        end sessions as well as cookies.

        :raises ValueError: ``account`` is not an account id (see :meth:`issue`).
        """
        check_account(account)
        rows = self._read("SELECT epoch FROM remember_accounts WHERE account = ?", (account,))
        return int(rows[0][0]) if rows else 0

    @staticmethod
    def _epoch(conn: Transaction, account: str) -> int:
        row = conn.execute("SELECT epoch FROM remember_accounts WHERE account = ?",
                           (account,)).fetchone()
        return int(row[0]) if row else 0

    def _revoke(self, conn: Transaction, account: str, now: float) -> tuple[int, int]:
        epoch = max(self._epoch(conn, account) + 1, int(now * 1000))
        conn.execute(
            "INSERT INTO remember_accounts (account, epoch, changed_at) VALUES (?, ?, ?) "
            "ON CONFLICT (account) DO UPDATE SET epoch = excluded.epoch, "
            "changed_at = excluded.changed_at", (account, epoch, now))
        cur = conn.execute("DELETE FROM remember_tokens WHERE account = ?", (account,))
        return cur.rowcount, epoch

    # --- privacy officer tooling ---------------------------------------------------------

    def export_account(self, account: str) -> list[dict[str, Any]]:
        """The remember-me tokens of ``account`` for a subject-access export.

        Metadata only, oldest first: ``created_at``, ``expires_at`` and ``last_used_at`` as
        UTC ISO 8601 strings (``last_used_at`` may be ``None``). Never selectors or hashes:
        they would let the reader of the export log in or revoke.
        """
        check_account(account)
        rows = self._read("SELECT created_at, expires_at, last_used_at FROM remember_tokens "
                          "WHERE account = ? ORDER BY created_at, selector", (account,))
        return [{"kind": "remember_me_token", "created_at": _iso(created),
                 "expires_at": _iso(expires), "last_used_at": _iso(used)}
                for created, expires, used in rows]

    def export_epoch(self, account: str) -> list[dict[str, Any]]:
        """The epoch row of ``account`` for a subject-access export: ``[]`` while its epoch
        was never bumped, else one entry with the epoch and the time it last changed
        (UTC ISO 8601). The epoch is a counter, not a secret: it logs nobody in.
        """
        check_account(account)
        rows = self._read("SELECT epoch, changed_at FROM remember_accounts WHERE "
                          "account = ?", (account,))
        return [{"kind": "remember_me_epoch", "epoch": int(epoch),
                 "changed_at": _iso(changed)} for epoch, changed in rows]

    def erase_account(self, account: str) -> int:
        """Erase every trace of ``account`` from the remember-me tables (tokens and epoch).

        Deleted pages are overwritten (``secure_delete``) and the WAL is checkpointed so the
        bytes leave the files too. Epochs stay unique after erasure (see the module
        docstring).

        :returns: the number of tokens deleted.
        :raises ValueError: ``account`` is not an account id (see :meth:`issue`).
        :raises StorageError: the identity database cannot be written.
        """
        check_account(account)
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM remember_tokens WHERE account = ?",
                                   (account,)).rowcount
            conn.execute("DELETE FROM remember_accounts WHERE account = ?", (account,))
        self._checkpoint("TRUNCATE")
        return deleted

    def purge_expired(self, now: float, keep_days: int = 7) -> int:
        """Delete tokens whose absolute expiry is more than ``keep_days`` days before
        ``now`` (DESIGN 1.7: their lifetime + 7 days), in transactions of 500 rows so
        that web workers are never blocked for long.

        :param now: seconds since the epoch.
        :returns: the number of tokens deleted.
        :raises ValueError: ``now`` is not a finite number, or ``keep_days`` is not a whole
            number from 0 to :data:`MAX_KEEP_DAYS`.
        :raises StorageError: the identity database cannot be written.
        """
        seconds = _timestamp(now, "The current time (now)")
        if isinstance(keep_days, bool) or not isinstance(keep_days, int) \
                or not 0 <= keep_days <= MAX_KEEP_DAYS:
            raise ValueError(f"The days to keep expired tokens (keep_days) must be a whole "
                             f"number from 0 to {MAX_KEEP_DAYS}, not {describe(keep_days)}.")
        cutoff = seconds - keep_days * DAY
        return self._delete_in_batches(
            "DELETE FROM remember_tokens WHERE selector IN (SELECT selector FROM "
            "remember_tokens WHERE expires_at < ? LIMIT ?)", cutoff)

    def purge_accounts(self, before: float) -> int:
        """Delete the epoch rows of accounts that have no token left and whose epoch last
        changed before ``before`` (seconds since the epoch), in transactions of 500 rows.

        No token can come back: a token is valid only under its account's current epoch,
        and each bump deleted the tokens of the epochs before it, so an account without
        tokens has none left to revive, and tokens issued later start from the row's
        absence (epoch 0) like any account's. Sessions that carry the epoch are another
        matter: see the module docstring.

        :returns: the number of rows deleted.
        :raises ValueError: ``before`` is not a finite number.
        :raises StorageError: the identity database cannot be written.
        """
        cutoff = _timestamp(before, "The cutoff time (before)")
        return self._delete_in_batches(
            "DELETE FROM remember_accounts WHERE account IN (SELECT a.account FROM "
            "remember_accounts a WHERE a.changed_at < ? AND NOT EXISTS (SELECT 1 "
            "FROM remember_tokens t WHERE t.account = a.account) LIMIT ?)", cutoff)

    def _delete_in_batches(self, sql: str, cutoff: float) -> int:
        """Run ``sql`` (parameters: ``cutoff``, batch size) until it deletes less than a
        batch, each run a write transaction of its own (BEGIN IMMEDIATE: no token is
        issued meanwhile, and logins wait at most one batch)."""
        total = 0
        while True:
            with self._write() as conn:
                n = conn.execute(sql, (cutoff, _BATCH)).rowcount
            total += n
            if n < _BATCH:
                break
        if total:
            self._checkpoint("PASSIVE")
        return total

    def _checkpoint(self, mode: str) -> None:
        self._db.checkpoint(mode)
