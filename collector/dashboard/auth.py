"""Who may see the dashboard (DESIGN 10): accounts with scrypt-hashed passwords, a signed
session cookie, CSRF tokens, and cleargif's own remember-me.

Accounts live in the identity store (``cleargif user add|remove|list``). A password is
kept only as ``scrypt$N$r$p$salt$hash`` (:func:`hash_password`), its cost in the text so
that it can be raised later without breaking stored hashes. Nothing here ever writes a
password, a session or a remember-me value to a log or to the event store.

The session is Flask's signed cookie, renamed ``cg_dashboard`` and kept to ``/dashboard``
(host-only, HttpOnly, ``SameSite=Strict``, ``Secure`` unless ``COOKIE_SECURE=false``),
signed by itsdangerous with the ``SECRET_KEYS`` list (the newest signs, all verify) and a
salt of its own. It holds the account name, a fingerprint of its password hash (so
removing an account, or giving it a new password, ends its sessions), the time of the
sign-in (sessions end after :data:`SESSION_SECONDS`) and the CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

from flask import Flask, Request, current_app, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from .. import clock
from ..config import read_keys
from ..consent.registry import DASHBOARD_COOKIE
from ..errors import CleargifError
from ..storage import IdentityStore

#: The session cookie's name (declared in the cookie registry as necessary).
SESSION_COOKIE = DASHBOARD_COOKIE
#: The session cookie's path: the dashboard only.
SESSION_PATH = "/dashboard"
#: A sign-in lasts this long (a remember-me cookie then signs in again).
SESSION_SECONDS = 12 * 3600
#: itsdangerous's salt for the session: no other signature made with SECRET_KEYS fits it.
SESSION_SALT = "cleargif.dashboard.session"
#: Remember-me accounts of the dashboard carry this prefix in the shared token tables, so
#: a host app's account of the same name can never sign in here.
REMEMBER_PREFIX = "dashboard:"

#: scrypt's cost: 32 MiB and about 0.1 s a hash on a small server (OWASP's minimum is
#: N=2**17 with r=8 for 128 MiB; this is the smallest setting that still costs a GPU).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 256 * 1024 * 1024
_SALT_BYTES = 16
_HASH_BYTES = 32
#: Passwords shorter than this are refused; longer than the maximum too (bounded work).
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}", re.ASCII)


class AccountError(CleargifError):
    """A bad account name or password; the message says what to change."""


def check_name(name: str) -> str:
    """An account name: 1 to 64 letters, digits and ``. _ @ + -``, starting with a letter or
    digit (it appears in URLs of no kind and in logs of none, but in ``user list``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError("A user name is 1 to 64 letters, digits and . _ @ + -, starting "
                           "with a letter or digit, such as alice.")
    return name


def check_password(password: str) -> str:
    """A new password: 10 to 1024 characters, not all spaces."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD \
            or not password.strip():
        raise AccountError(f"Choose a password of {MIN_PASSWORD} to {MAX_PASSWORD} "
                           "characters; a few unrelated words make a good one.")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        # Bytes a terminal could not decode: no browser could ever type them back.
        raise AccountError("The password holds bytes that are not UTF-8 text; type it in a "
                           "UTF-8 terminal, or pass it with --password-stdin.") from None
    return password


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int | None = None, r: int | None = None,
                  p: int | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` of a password (salt and hash URL-safe base64), at the
    module's cost unless told otherwise."""
    n, r, p = n or SCRYPT_N, r or SCRYPT_R, p or SCRYPT_P
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                            maxmem=_SCRYPT_MAXMEM, dklen=_HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


#: Checked when the account does not exist, so that the time taken does not tell which
#: names exist. Made once per process, on the first such sign-in.
_decoy: str | None = None


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash; False for no hash or a malformed one,
    after the same work as a real check."""
    global _decoy
    if stored is None:
        if _decoy is None:
            _decoy = hash_password(secrets.token_urlsafe(16))
        stored = _decoy
        known = False
    else:
        known = True
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = _unb64(digest)
        found = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt),
                               n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM,
                               dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected) and known


def fingerprint(stored: str) -> str:
    """What a session keeps of the password hash it was made under: enough to see that
    the hash changed, useless for guessing the password."""
    return hashlib.sha256(b"cleargif dashboard session\n" + stored.encode()).hexdigest()[:32]


# --- accounts, for the command line --------------------------------------------------------

def add_user(identity: IdentityStore, name: str, password: str) -> None:
    """Add an account.

    :raises AccountError: a bad name or password, or the name is taken.
    """
    check_name(name)
    check_password(password)
    if not identity.add_user(name, hash_password(password), int(clock.now())):
        raise AccountError(f"There is already a user named {name}; remove it first "
                           f"(cleargif user remove {name}) to give it a new password.")


def remove_user(identity: IdentityStore, name: str) -> bool:
    """Remove an account; its sessions end at their next request. False when there was
    none of that name."""
    return identity.remove_user(name)


# --- the session ---------------------------------------------------------------------------

class DashboardSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, for the dashboard alone.

    Requests outside ``/dashboard`` get Flask's null session: the hit paths, the consent
    endpoints and the API never read or write it, and a collector without keys still
    answers them.
    """

    salt = SESSION_SALT

    def __init__(self, keys: Any) -> None:
        #: ``keys() -> list``: ``SECRET_KEYS`` of the app (read when first needed).
        self.keys = keys
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """itsdangerous with the key list (oldest first: the newest signs, all verify)."""
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(
                list(self.keys()), salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})
        return self._serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The session of a dashboard request; Flask's null session elsewhere."""
        if request.path != SESSION_PATH and not request.path.startswith(SESSION_PATH + "/"):
            return None
        return super().open_session(app, request)

    def get_cookie_name(self, app: Flask) -> str:
        """``cg_dashboard``."""
        return SESSION_COOKIE

    def get_cookie_domain(self, app: Flask) -> str | None:
        """Host-only: never ``COOKIE_DOMAIN``, which the site's pages share."""
        return None

    def get_cookie_path(self, app: Flask) -> str:
        """``/dashboard``."""
        return SESSION_PATH

    def get_cookie_httponly(self, app: Flask) -> bool:
        """Always HttpOnly."""
        return True

    def get_cookie_secure(self, app: Flask) -> bool:
        """``Secure`` unless ``COOKIE_SECURE=false``."""
        return bool(app.config["COOKIE_SECURE"])

    def get_cookie_samesite(self, app: Flask) -> str:
        """``Strict``: no other site can make a signed-in request."""
        return "Strict"


def session_keys() -> list[str]:
    """``SECRET_KEYS`` of the current app (configuration, else the key file)."""
    return read_keys(current_app.config, "SECRET_KEYS")


_USER = "cleargif.dashboard.user"
_UNSET = object()


def current_user(identity: IdentityStore) -> str | None:
    """The signed-in account of this request, or None: the session names an account that
    still exists with the same password, signed in less than :data:`SESSION_SECONDS` ago.

    Kept in the WSGI environ for the rest of the request (not in ``g``, which a test
    client's app context may share between requests).
    """
    known = request.environ.get(_USER, _UNSET)
    if known is not _UNSET:
        return known if isinstance(known, str) else None
    name, stamp, at = session.get("user"), session.get("v"), session.get("at")
    user = None
    if isinstance(name, str) and isinstance(stamp, str) and isinstance(at, int) and \
            0 <= clock.now() - at < SESSION_SECONDS:
        stored = identity.user_password_hash(name)
        if stored is not None and hmac.compare_digest(stamp, fingerprint(stored)):
            user = name
    request.environ[_USER] = user
    return user


def start_session(name: str, stored: str) -> None:
    """Sign ``name`` in: a new session (nothing of the one before is kept, against session
    fixation) with a new CSRF token."""
    session.clear()
    session.update(user=name, v=fingerprint(stored), at=int(clock.now()),
                   csrf=secrets.token_urlsafe(32))
    request.environ[_USER] = name


def end_session() -> None:
    """Sign out: the session keeps only a new CSRF token, for the sign-in form."""
    session.clear()
    session["csrf"] = secrets.token_urlsafe(32)
    request.environ[_USER] = None


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(sent: str | None) -> bool:
    """Whether a form's ``csrf_token`` is this session's."""
    token = session.get("csrf")
    return isinstance(token, str) and isinstance(sent, str) and bool(sent) and \
        hmac.compare_digest(sent.encode(), token.encode())


def remember_account(name: str) -> str:
    """The remember-me account id of a dashboard account."""
    return REMEMBER_PREFIX + name


def account_of(remembered: str) -> str | None:
    """The dashboard account of a remember-me account id, or None for another app's."""
    if remembered.startswith(REMEMBER_PREFIX):
        return remembered[len(REMEMBER_PREFIX):]
    return None
