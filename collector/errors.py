"""The exception tree, re-exported from :mod:`sdk.errors` (one definition for both packages)."""

from sdk.errors import CleargifError, ConfigError, ExpiredToken, InvalidToken, StorageError

__all__ = ["CleargifError", "ConfigError", "ExpiredToken", "InvalidToken", "StorageError"]
