"""The exceptions cleargif raises: one small tree under :class:`CleargifError`.

They live in ``sdk`` because the collector imports the SDK and not the other way round;
``collector.errors`` re-exports them.
"""

from __future__ import annotations


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
