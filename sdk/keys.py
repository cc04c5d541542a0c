"""Secret keys as the SDK takes them: the one place a key becomes bytes.

A key is a ``str`` (used as its UTF-8 bytes) or ``bytes``, and nothing else. Anything
else is refused rather than converted: ``bytes(32)`` is 32 zero bytes, so an integer
slipped into a key list would silently become a key that everybody knows. Messages name
the setting and never quote a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Final

from .errors import ConfigError, type_phrase

#: How to make a good key, per setting; the default suits keys the SDK user keeps.
_HOW_TO_MAKE: Final = {
    "TOKEN_KEYS": "make one with `cleargif keys new`",
    "SECRET_KEYS": "make one with `cleargif keys new`",
}
_GENERATE: Final = (
    'generate one with python -c "import secrets; print(secrets.token_urlsafe(32))"'
)


def key_bytes(key: object, setting: str, *, min_length: int = 1, label: str | None = None) -> bytes:
    """Return ``key`` as bytes: a ``str`` encoded as UTF-8, ``bytes`` as they are.

    :param setting: the name of the setting the key comes from (``TOKEN_KEYS``,
        ``pseudonym_key``…), the :attr:`~sdk.errors.ConfigError.key` of any error.
    :param min_length: the fewest bytes accepted (at least 1: a key is never empty).
    :param label: how messages name the key; ``The <setting> key`` if not given.
    :raises ConfigError: the key is not a ``str`` or ``bytes``, is not valid text (a
        lone surrogate), is empty, or is shorter than ``min_length`` bytes.
    """
    name = label or f"The {setting} key"
    how = _HOW_TO_MAKE.get(setting, _GENERATE)
    if isinstance(key, str):
        try:
            raw = key.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(setting, f"{name} is not valid text (it holds a lone surrogate,"
                              f" which has no UTF-8 form); {how}.") from None
    elif isinstance(key, bytes):
        raw = key
    else:
        raise ConfigError(setting, f"{name} must be a string or bytes, not {type_phrase(key)};"
                          f" {how}.")
    if not raw:
        raise ConfigError(setting, f"{name} is empty; {how}.")
    if len(raw) < min_length:
        raise ConfigError(setting, f"{name} must be at least {min_length} bytes long, since a"
                          f" short key can be guessed; {how}.")
    return raw


def key_list(keys: object, setting: str, *, min_length: int = 1,
             allow_empty: bool = False) -> list[bytes]:
    """Return a key list, oldest first, as bytes (see :func:`key_bytes`).

    :param allow_empty: accept a list without keys (for tools that sign nothing).
    :raises ConfigError: ``keys`` is a single key, not a list, an unordered collection
        (the newest key signs, so order matters), empty when that is not allowed, or
        holds a key that :func:`key_bytes` refuses.
    """
    if isinstance(keys, str | bytes | bytearray):
        raise ConfigError(setting, f"{setting} must be a list of keys, oldest first, not a"
                          " single key.")
    if isinstance(keys, Set | Mapping) or not isinstance(keys, Iterable):
        raise ConfigError(setting, f"{setting} must be a list of keys, oldest first (the"
                          f" newest signs), not {type_phrase(keys)}.")
    result = [key_bytes(key, setting, min_length=min_length, label=f"A key in {setting}")
              for key in keys]
    if not result and not allow_empty:
        raise ConfigError(setting, f"{setting} is empty; give at least one key"
                          f" ({_HOW_TO_MAKE.get(setting, _GENERATE)}).")
    return result

