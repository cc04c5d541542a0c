"""The exceptions cleargif raises: one small tree under :class:`CleargifError`.

They live in ``sdk`` because the collector imports the SDK and not the other way round;
``collector.errors`` re-exports them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the token types import this module
    from .tokens import ClickToken, OpenToken


class CleargifError(Exception):
    """Base of every error cleargif raises on purpose.

    The message is a sentence that says what is wrong and how to fix it.
    """


class ConfigError(CleargifError):
    """A configuration value is missing or invalid; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class StorageError(CleargifError):
    """A store could not be opened, read or written."""


class InvalidToken(CleargifError):
    """A signed token or cookie failed verification (forged, mangled or expired)."""


class ExpiredToken(InvalidToken):
    """An open or click token whose signature verifies, sent longer ago than tokens are
    counted for (:data:`sdk.tokens.TRACKING_MAX_AGE`).

    Its content is genuine, so ``token`` holds it: a tracked link still leads where its
    signature says (the collector redirects without counting the click).
    """

    def __init__(self, message: str, token: OpenToken | ClickToken) -> None:
        super().__init__(message)
        self.token = token


class InvalidRecipient(CleargifError):
    """A recipient id was refused because it could identify a person directly.

    ``reason`` is a short code (``missing``, ``empty``, ``too-long``, ``whitespace``,
    ``email``, ``ip``, ``digits``). The refused value is deliberately kept out of the
    exception and its message: it may be an email address or a phone number, and
    exception messages end up in logs.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ApiError(CleargifError):
    """The collector's admin API answered with a status other than 2xx.

    ``status`` is the HTTP status code and ``message`` the server's ``{"error": …}``
    text (or a short excerpt of the body when the answer was not JSON).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"The collector answered HTTP {status}: {message}")
        self.status = status
        self.message = message


def describe(value: object) -> str:
    """Name a bad argument in an error message: the ``repr`` of ``None``, a bool, a float,
    an int of up to 18 digits or a string of up to 40 characters, else what it is.

    Never more: the ``repr`` of a long string would flood the log, and that of an int of
    over 4,300 digits raises. Keys are never described this way (see
    :func:`type_phrase`).
    """
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**18 else "an integer of more than 18 digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a string of {len(value)} characters"
    return type_phrase(value)


def type_phrase(value: object) -> str:
    """Name the type of ``value`` for a message ("None", "bytes", "an int", "a list"),
    never the value itself, which may be a secret given in the wrong place."""
    if value is None:
        return "None"
    if isinstance(value, bytes):
        return "bytes"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def finite_number(value: object) -> float | None:
    """``value`` as a float if it is a finite int or float (not a bool), else ``None``:
    the check behind every time and timeout argument of the SDK."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond a float's range
        return None
    return seconds if math.isfinite(seconds) else None


def check_utf8(text: str, what: str) -> None:
    """Refuse ``text`` holding a lone surrogate (how Python keeps bytes that were not
    UTF-8): it has no UTF-8 form, so it can be neither hashed, stored nor sent.

    :param what: how the message names the value, such as ``"The account id"``.
    :raises ValueError: with a sentence that never quotes the value.
    """
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        raise ValueError(f"{what} is not valid text: it holds a lone surrogate, a character"
                         " with no UTF-8 form; decode it from its bytes properly.")
