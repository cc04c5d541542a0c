"""The signed id cookies ``cg_sid`` and ``cg_vid``: ``<32 hex id>.<unix seconds>.<MAC>``.

Only the collector makes ids. Without the MAC a page script (which can write a cookie of
that name for the site's domain) or a visitor could plant an id derived from personal
data, such as a hash of an email address, or pad a small cell with made-up visitors; a
forged, unsigned or renamed value is treated as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sdk.keyring import Keyring

from .rules import is_random_id

#: The purpose the id cookies' keys are derived for (apart from every other MAC).
ID_COOKIE_PURPOSE = b"cleargif id cookies v1"
#: The MAC is cut to this many hex characters (128 bits).
MAC_HEX = 32


def _short(digest: bytes) -> str:
    return digest.hex()[:MAC_HEX]


class IdSigner:
    """Signs and checks id cookie values, the MAC over the cookie's name, id and time; the
    newest of ``SECRET_KEYS`` signs, every listed key verifies.

    :param secret_keys: ``SECRET_KEYS``, oldest first, or a function that reads them when
        an id cookie is first made or checked (hits that set no id cookie need no key).
    """

    def __init__(self, secret_keys: Sequence[str] | Callable[[], Sequence[str]]) -> None:
        self._source = secret_keys
        self._ring: Keyring | None = None
        # A browser sends the same id cookies on every hit: checked values are remembered
        # (bounded, like the consent cache), so a hit costs an HMAC only when issuing.
        self._checked: dict[tuple[str, str], tuple[str, int] | None] = {}

    @property
    def keyring(self) -> Keyring:
        """The id cookies' keys, derived on first use."""
        if self._ring is None:
            source = self._source
            self._ring = Keyring(source() if callable(source) else source, ID_COOKIE_PURPOSE)
        return self._ring

    def stamp(self, name: str, ident: str, stamp: int) -> str:
        """The cookie value for id ``ident`` of cookie ``name`` at ``stamp``."""
        _, mac = self.keyring.sign(f"{name}\n{ident}.{stamp}".encode())
        return f"{ident}.{stamp}.{_short(mac)}"

    def parse(self, name: str, value: str | None) -> tuple[str, int] | None:
        """``(id, seconds)`` of a value this collector signed for cookie ``name``; None for
        anything else (forged, unsigned, signed for another cookie, or by a dropped key)."""
        if not value or len(value) > 96:
            return None
        key = (name, value)
        if key in self._checked:
            return self._checked[key]
        result = self._check(name, value)
        if len(self._checked) >= 8192:
            self._checked.clear()  # crude but bounded; a miss costs one HMAC
        self._checked[key] = result
        return result

    def _check(self, name: str, value: str) -> tuple[str, int] | None:
        ident, _, rest = value.partition(".")
        stamp, _, mac = rest.partition(".")
        # isascii(): "²".isdigit() is true, and int() refuses it.
        if not is_random_id(ident) or not (stamp.isascii() and stamp.isdigit()) or \
                len(stamp) > 12 or len(mac) != MAC_HEX:
            return None
        number = int(stamp)
        if self.keyring.verify(f"{name}\n{ident}.{number}".encode(), mac, _short) is None:
            return None
        return ident, number
