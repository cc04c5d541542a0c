"""One keyring for every MAC made with a key list such as ``SECRET_KEYS``.

itsdangerous's rule, in one place: the list is oldest first, the newest key signs, every
listed key verifies. Each use (the id cookies, the receipt chain, the audit log's subject
names, remember-me cookies) has its own *purpose*, and the keys it uses are derived from
the listed ones for that purpose alone (``HMAC-SHA256(key, purpose)``), so that no MAC made
for one use can ever stand in for another, and no raw key keys a MAC directly.

A verification names the key that matched, by a short id that is a hash of the derived
key (never the key): the receipt chain stores it, so a key taken off the list is told
apart from an edit. Keyed HMAC objects are made once and copied for each MAC, which costs
half of keying afresh; the hit path makes one per new id cookie.

Two keyed hashes stay outside it on purpose: :func:`sdk.pseudonym.pseudonym` has one
sender key and no rotation (a new key would rename every recipient), and remember-me's
validator chain is keyed by a random salt per token, not by a listed key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from .keys import key_list

__all__ = ["Keyring", "key_id"]


def key_id(derived: bytes) -> str:
    """The short public name of a derived key: 16 hex characters of a hash of it."""
    return hashlib.sha256(b"key id\n" + derived).hexdigest()[:16]


def _hex(digest: bytes) -> str:
    return digest.hex()


class Keyring:
    """The keys of one purpose, derived from a key list.

    :param keys: the key list, oldest first; each a ``str`` (used as UTF-8) or ``bytes``.
    :param purpose: what the MACs are for, such as ``b"cleargif id cookies v1"``; a new
        purpose gives unrelated keys.
    :param setting: the name of the setting the keys come from, for error messages.
    :raises ConfigError: the list is empty, not a list, or holds a key that is not text
        or bytes (see :func:`sdk.keys.key_list`).
    """

    __slots__ = ("_keyed", "ids", "newest")

    def __init__(self, keys: Sequence[str | bytes], purpose: bytes, *,
                 setting: str = "SECRET_KEYS") -> None:
        derived = [hmac.new(raw, purpose, hashlib.sha256).digest()
                   for raw in key_list(keys, setting)]
        #: Key ids, oldest first.
        self.ids: tuple[str, ...] = tuple(key_id(d) for d in derived)
        #: The id of the key that signs.
        self.newest: str = self.ids[-1]
        self._keyed = {kid: hmac.new(d, digestmod=hashlib.sha256)
                       for kid, d in zip(self.ids, derived, strict=True)}

    def mac(self, message: bytes, key: str | None = None) -> bytes | None:
        """HMAC-SHA256 of ``message`` under key ``key`` (by id; the newest when None), or
        None when no listed key has that id."""
        keyed = self._keyed.get(self.newest if key is None else key)
        if keyed is None:
            return None
        mac = keyed.copy()
        mac.update(message)
        return mac.digest()

    def sign(self, message: bytes) -> tuple[str, bytes]:
        """``(key id, MAC)`` of ``message`` under the newest key."""
        mac = self._keyed[self.newest].copy()
        mac.update(message)
        return self.newest, mac.digest()

    def macs(self, message: bytes) -> list[bytes]:
        """The MAC of ``message`` under every listed key, oldest first: to find values
        made before a rotation (the audit log's subject names)."""
        return [self.mac(message, kid) or b"" for kid in self.ids]

    def verify(self, message: bytes, tag: str,
               encode: Callable[[bytes], str] = _hex) -> str | None:
        """The id of the listed key whose MAC of ``message``, encoded as its user stores
        it (hex by default; truncated or base64 for cookies), equals ``tag``; None when
        none does. Every key is tried, so the time taken does not tell which matched."""
        found = None
        for kid in self.ids:
            if hmac.compare_digest(encode(self.mac(message, kid) or b""), tag) and found is None:
                found = kid
        return found

    def check(self, message: bytes, tag: str, key: str,
              encode: Callable[[bytes], str] = _hex) -> bool | None:
        """Whether ``tag`` is the MAC of ``message`` under key ``key``; None when that key
        is not listed any more (a retired key, not an edit)."""
        mac = self.mac(message, key)
        if mac is None:
            return None
        return hmac.compare_digest(encode(mac), tag)
