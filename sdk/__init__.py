"""cleargif's SDK: email tokens and instrumenting for senders, an admin API client, and
remember-me login for host Flask apps.

It imports neither Flask nor the collector (``sdk.flask_remember`` is the one module that
imports Flask, and is not imported here).
"""

from .client import AdminClient
from .errors import (
    ApiError,
    CleargifError,
    ConfigError,
    ExpiredToken,
    InvalidRecipient,
    InvalidToken,
    StorageError,
)
from .mail import Mailer
from .pseudonym import check_recipient, pseudonym
from .remember import RememberStore
from .tokens import ClickToken, OpenToken, TokenCodec, UnsubscribeToken, check_target

__all__ = [
    "AdminClient",
    "ApiError",
    "CleargifError",
    "ClickToken",
    "ConfigError",
    "ExpiredToken",
    "InvalidRecipient",
    "InvalidToken",
    "Mailer",
    "OpenToken",
    "RememberStore",
    "StorageError",
    "TokenCodec",
    "UnsubscribeToken",
    "check_recipient",
    "check_target",
    "pseudonym",
]
