"""Remember-me for host Flask apps: the ``cg_remember`` cookie wired into a request cycle.

This is the one module of :mod:`sdk` that imports Flask; ``sdk`` itself does not import it,
so senders of email never need Flask. The token logic lives in :mod:`sdk.remember`.

Wiring, with Flask-Login (see ``docs/remember-me.md`` for the whole recipe)::

    remember = Remember(
        login_loader=lambda account: log_in(account, fresh=False),
        is_logged_in=lambda: current_user.is_authenticated,
        on_theft=warn_owner,
    )
    remember.init_app(app)

    # in the login view, after checking the password:
    if form["remember"]:
        remember.remember(None, user.name)

Configuration, read at request time from ``app.config``:

``IDENTITY_URL``
    ``sqlite:///path`` of the identity database (required).
``SECRET_KEYS``
    the host's own keys, oldest first (required): a list, a JSON array or a
    comma-separated string. The newest signs cookies, all verify.
``REMEMBER_DAYS``
    absolute lifetime of a token, 30 by default.
``COOKIE_SECURE``
    send the cookie over HTTPS only; True by default (false only for plain-http development).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request, session
from werkzeug.wrappers import Response

from .errors import ConfigError, StorageError, describe, type_phrase
from .keys import key_list
from .remember import (
    COOKIE_NAME,
    MAX_REMEMBER_DAYS,
    MIN_GRACE_SECONDS,
    Issued,
    RememberStore,
    check_account,
)

__all__ = ["COOKIE_NAME", "FRESH_KEY", "Remember", "parse_secret_keys"]

log = logging.getLogger("cleargif.remember")

#: The session key that says whether the login of this session is fresh.
FRESH_KEY = "cg_fresh"
# Per-request state lives in the WSGI environ, not in ``g``: ``g`` belongs to the app
# context, which a caller may keep across requests (pytest-flask does), and a cookie meant
# for one response must never reach another.
_ENVIRON_KEY = "cleargif.remember"


@dataclass
class _Pending:
    """What the after-request hook must do to the cookie of this response."""

    value: str | None = None
    max_age: int = 0
    expires_at: float = 0.0
    expire: bool = False


class Remember:
    """The ``cg_remember`` cookie for one or more Flask apps, in the style of Flask-Login.

    Before each request that carries the cookie but has no logged-in session, it recalls
    the token, hands the account to :attr:`login_loader`, marks the login not fresh and
    sets the rotated cookie on the response. A bad cookie (tampered, truncated, oversized,
    foreign, expired, revoked) is simply expired: never an error page.

    :param app: an app to :meth:`init_app` at once.
    :param login_loader: ``login_loader(account) -> bool`` logs ``account`` into the session
        (for Flask-Login: ``login_user(user, remember=False, fresh=False)``) and returns
        whether it did; a false return (account deleted or disabled) ends the token.
    :param is_logged_in: ``is_logged_in() -> bool``, whether this request already has a
        logged-in session (for Flask-Login: ``current_user.is_authenticated``). The cookie
        is neither read nor rotated while it returns True.
    :param on_theft: ``on_theft(account)`` is called when a replayed old validator made the
        store revoke every token of ``account``; warn its owner from there.
    :param clock: the time source of the stores (tests replace :attr:`clock`).
    :param grace_seconds: see :class:`~sdk.remember.RememberStore`.
    :param secret_keys: ``secret_keys() -> keys``, where the keys come from when the app
        does not keep them in ``app.config["SECRET_KEYS"]`` (the collector reads them from
        a key file).
    """

    #: The cookie's name.
    cookie_name = COOKIE_NAME

    def __init__(self, app: Flask | None = None, *,
                 login_loader: Callable[[str], bool] | None = None,
                 is_logged_in: Callable[[], bool] | None = None,
                 on_theft: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time,
                 grace_seconds: int = MIN_GRACE_SECONDS,
                 secret_keys: Callable[[], Any] | None = None) -> None:
        #: Logs an account in; see the class docstring.
        self.login_loader = login_loader
        #: Says whether the request already has a login; see the class docstring.
        self.is_logged_in = is_logged_in
        #: Told about suspected theft; see the class docstring.
        self.on_theft = on_theft
        #: Time source of the stores, seconds since the epoch.
        self.clock = clock
        #: Seconds the previous validator stays valid after a rotation (60 or more).
        self.grace_seconds = grace_seconds
        #: Gives the key list when ``SECRET_KEYS`` is not in the app's configuration.
        self.secret_keys = secret_keys
        self._stores: dict[tuple[Any, ...], RememberStore] = {}
        self._lock = threading.Lock()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, blueprint: str | None = None) -> None:
        """Register the recall hook (before each request) and the cookie hook (after).

        :param blueprint: the name of a blueprint of ``app``: only the requests it handles
            then read, rotate or expire the cookie, and the rest of the app never touches
            it (the collector keeps it to its dashboard, away from its hit paths).
        """
        app.extensions["cg_remember"] = self
        # Flask keeps hooks by blueprint name (None: every request), as a blueprint's own
        # before_request does; registered here, they need no blueprint object.
        app.before_request_funcs.setdefault(blueprint, []).append(self._before_request)
        app.after_request_funcs.setdefault(blueprint, []).append(self._after_request)

    # --- configuration and store ---------------------------------------------------------

    @property
    def store(self) -> RememberStore:
        """The token store of the current app, built from its configuration."""
        config = current_app.config
        url = config.get("IDENTITY_URL") or ""  # RememberStore says how to set it
        keys = parse_secret_keys(self.secret_keys() if self.secret_keys is not None
                                 else config.get("SECRET_KEYS"))
        days = config.get("REMEMBER_DAYS", 30)
        if isinstance(days, str):
            text = days.strip()
            # ASCII digits only ("²".isdigit() holds too), and few: int() of thousands of
            # digits raises.
            if text.isascii() and text.isdigit() and len(text) <= 9:
                days = int(text)
        if isinstance(days, bool) or not isinstance(days, int) \
                or not 1 <= days <= MAX_REMEMBER_DAYS:
            raise ConfigError("REMEMBER_DAYS", f"REMEMBER_DAYS must be a whole number of days "
                              f"from 1 to {MAX_REMEMBER_DAYS}, not {describe(days)}.")
        cache_key = (url, tuple(keys), days)
        with self._lock:
            store = self._stores.get(cache_key)
            if store is None:
                # The lambda reads self.clock at call time, so tests can move it later.
                store = RememberStore(url, keys=keys, days=days,
                                      grace_seconds=self.grace_seconds,
                                      clock=lambda: self.clock())
                self._stores[cache_key] = store
        return store

    def _secure(self) -> bool:
        value = current_app.config.get("COOKIE_SECURE", True)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError("COOKIE_SECURE", f"COOKIE_SECURE must be true or false, not "
                          f"{describe(value)}.")

    # --- hooks ---------------------------------------------------------------------------

    def _pending(self) -> _Pending:
        pending: _Pending | None = request.environ.get(_ENVIRON_KEY)
        if pending is None:
            pending = request.environ[_ENVIRON_KEY] = _Pending()
        return pending

    def _before_request(self) -> None:
        value = request.cookies.get(COOKIE_NAME)
        # Static files (the app's or a blueprint's) never need a login; the page that loads
        # them already did the work.
        endpoint = request.endpoint or ""
        if value is None or endpoint == "static" or endpoint.endswith(".static"):
            return
        if self.is_logged_in is None or self.login_loader is None:
            raise ConfigError("login_loader", "Remember needs login_loader and is_logged_in "
                              "callbacks to restore logins; pass them to Remember(...).")
        if self.is_logged_in():
            return
        pending = self._pending()
        try:
            result = self.store.recall(value)
        except StorageError:
            # The site stays up with the visitor logged out; the cookie is kept for later.
            log.exception("Remember-me recall failed: the identity database is unavailable.")
            return
        if result.theft and result.theft_account is not None and self.on_theft is not None:
            self.on_theft(result.theft_account)
        if result.account is None:
            log.info("Remember-me cookie refused (%s); it is expired.", result.reason)
            pending.expire = True
            return
        if not self.login_loader(result.account):
            self.store.forget(result.new_cookie_value or value)
            pending.expire = True
            return
        session[FRESH_KEY] = False
        if result.new_cookie_value is not None and result.expires_at is not None:
            self._schedule(result.new_cookie_value, result.max_age, result.expires_at)

    def _after_request(self, response: Response) -> Response:
        pending: _Pending | None = request.environ.get(_ENVIRON_KEY)
        if pending is not None:
            if pending.value is not None:
                self._set_cookie(response, pending.value, pending.max_age, pending.expires_at)
            elif pending.expire:
                self._expire_cookie(response)
        return response

    def _schedule(self, value: str, max_age: int, expires_at: float) -> None:
        pending = self._pending()
        pending.value, pending.max_age, pending.expires_at = value, max_age, expires_at
        pending.expire = False

    def _set_cookie(self, response: Response, value: str, max_age: int,
                    expires_at: float) -> None:
        # Host-only (no Domain) and Path=/; Expires is the absolute expiry itself, so both
        # attributes end the cookie at the same instant and never later.
        response.set_cookie(COOKIE_NAME, value, max_age=max_age, expires=expires_at, path="/",
                            domain=None, secure=self._secure(), httponly=True, samesite="Lax")
        self._private(response)

    def _expire_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE_NAME, path="/", domain=None, secure=self._secure(),
                               httponly=True, samesite="Lax")
        self._private(response)

    @staticmethod
    def _private(response: Response) -> None:
        # A shared cache must never store a response that hands out someone's login.
        response.cache_control.public = False
        response.cache_control.private = True
        response.vary.add("Cookie")

    # --- the host's calls ----------------------------------------------------------------

    def remember(self, response: Response | None, account: str) -> Issued:
        """Issue a token for ``account`` after an explicit "remember me" login.

        A token this browser held before is ended first (one token per browser), and the
        session's login is marked fresh.

        :param response: the response to set the cookie on, or ``None`` to set it on
            whatever response this request ends with.
        :returns: the issued token (its ``cookie_value`` is secret: never log it).
        :raises ValueError: ``response`` is not a response or ``None``, or ``account`` is
            not an account id; nothing is changed then.
        """
        if response is not None and not isinstance(response, Response):
            raise ValueError(f"The response must be a Flask response object or None (to set "
                             f"the cookie on this request's response), not "
                             f"{type_phrase(response)}; the account goes second.")
        check_account(account)
        store = self.store
        old = request.cookies.get(COOKIE_NAME)
        if old is not None:
            store.forget(old)
        issued = store.issue(account)
        session[FRESH_KEY] = True
        if response is not None:
            self._set_cookie(response, issued.cookie_value, issued.max_age, issued.expires_at)
            # Done here: the after-request hook must not set or expire it a second time.
            pending = self._pending()
            pending.value, pending.expire = None, False
        else:
            self._schedule(issued.cookie_value, issued.max_age, issued.expires_at)
        return issued

    def forget(self, response: Response | None = None) -> None:
        """Log this browser out of remember-me: end its token and expire its cookie.

        A database failure is logged and the cookie still expired, so "log out" always
        works in the browser.
        """
        value = request.cookies.get(COOKIE_NAME)
        if value is not None:
            try:
                self.store.forget(value)
            except StorageError:
                log.exception("Remember-me token could not be deleted; the cookie is "
                              "expired anyway.")
        session.pop(FRESH_KEY, None)
        self._expire_here(response)

    def forget_everywhere(self, account: str, response: Response | None = None) -> int:
        """"Log out everywhere": end every token of ``account`` by bumping its epoch, and
        expire this browser's cookie.

        :returns: the number of tokens ended.
        """
        count = self.store.forget_everywhere(account)
        session.pop(FRESH_KEY, None)
        self._expire_here(response)
        return count

    def bump_epoch(self, account: str) -> int:
        """End every token of ``account`` after a password change; returns the new epoch.

        This browser's cookie dies too: call :meth:`remember` again if it should stay
        remembered (see :meth:`has_cookie`).
        """
        return self.store.bump_epoch(account)

    def epoch(self, account: str) -> int:
        """The current epoch of ``account``, for session ids that end with it."""
        return self.store.epoch(account)

    def has_cookie(self) -> bool:
        """Whether this request carries a ``cg_remember`` cookie (valid or not)."""
        return COOKIE_NAME in request.cookies

    def is_fresh(self) -> bool:
        """False when this session's login was restored from the cookie and the password
        has not been asked again since; ask for it before sensitive actions."""
        return session.get(FRESH_KEY) is not False

    def mark_fresh(self) -> None:
        """Record that the user just proved their password in this session."""
        session[FRESH_KEY] = True

    def _expire_here(self, response: Response | None) -> None:
        pending = self._pending()
        pending.value = None  # a cookie issued earlier in this request is not sent either
        pending.expire = False
        if COOKIE_NAME not in request.cookies:
            return  # nothing to expire: no needless Set-Cookie
        if response is not None:
            self._expire_cookie(response)
        else:  # on whatever response this request ends with
            pending.expire = True


def parse_secret_keys(value: Any) -> list[str | bytes]:
    """``SECRET_KEYS`` as a list, oldest first: a list or tuple, a JSON array string or a
    comma-separated string (what ``CLEARGIF_SECRET_KEYS`` can hold, as in the collector).

    :raises ConfigError: no key, an empty key, or an unreadable value.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigError("SECRET_KEYS", "SECRET_KEYS looks like a JSON array but "
                                  "does not parse; write it as a JSON array of strings.") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError("SECRET_KEYS", "SECRET_KEYS must list one or more long random keys, "
                          "oldest first (the newest signs); remember-me cookies need them.")
    key_list(value, "SECRET_KEYS")  # each a non-empty str or bytes; never converted
    return list(value)
