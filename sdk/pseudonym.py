"""Recipient ids for per-recipient email tracking: keyed pseudonyms and the check that
refuses ids which could identify a person directly (DESIGN 1.2).

The collector stores the recipient id of an open or click as it is, so the id must mean
nothing outside the sender's own systems. :func:`pseudonym` derives such an id from an
account id under a key the sender keeps to itself (never one of ``TOKEN_KEYS``, which the
collector holds too); :func:`check_recipient` refuses ids that look like an email
address, an IP address or a phone or card number, as the collector's scrubber
(:func:`sdk.scrub.identifying_kinds`) finds them, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import string
import unicodedata
from typing import Final

from .errors import InvalidRecipient, check_utf8
from .keys import key_bytes
from .scrub import identifying_kinds, skeleton

#: Length of a :func:`pseudonym`: 24 letters carry about 137 bits.
PSEUDONYM_LENGTH: Final = 24
#: Shortest pseudonym key accepted, in bytes (UTF-8 for a ``str``).
MIN_KEY_LENGTH: Final = 16
#: Longest recipient id accepted.
MAX_RECIPIENT_LENGTH: Final = 128

# Letters only: a pseudonym can then never contain a run of digits (nor a dash), so it
# always passes check_recipient. Base64 would, about once in a million ids.
_ALPHABET: Final = string.ascii_letters
# Domain separation, so the same key used for something else never yields these values.
_CONTEXT: Final = b"cleargif.pseudonym\x00"

_USE_PSEUDONYM: Final = "pass pseudonym(account_id, key) instead"
#: How each shape found by identifying_shape() is named in error messages.
_SHAPE_TEXT: Final = {
    "email": "looks like an email address, which the event store must never hold",
    "ip": "contains an IP address, which the event store must never hold",
    "digits": "contains a run of 9 or more digits, which may be a phone or card number",
}


def pseudonym(account_id: str, key: str | bytes) -> str:
    """Return the pseudonym of ``account_id`` under the sender's ``key``.

    The value is HMAC-SHA256 over ``b"cleargif.pseudonym\\x00" + account_id`` (UTF-8),
    written as 24 ASCII letters (the digest read as a big-endian integer, least
    significant base-52 digit first, alphabet ``A-Za-z`` in :data:`string.ascii_letters`
    order). It is stable for a given key, safe in URLs, and never refused by
    :func:`check_recipient`.

    Pass a canonical account id (a database key rather than a spelling of an email
    address): ``"Ann@Example.com"`` and ``"ann@example.com"`` give different pseudonyms.
    Keep ``key`` out of ``TOKEN_KEYS``: whoever holds the key can test guesses of
    account ids against a pseudonym.

    :param account_id: the sender's own id for the person; any non-empty string.
    :param key: a secret of at least 16 bytes (a ``str``, used as UTF-8, or ``bytes``),
        known only to the sender.
    :raises ConfigError: (key ``pseudonym_key``) the key is not a ``str`` or ``bytes``,
        or is shorter than 16 bytes.
    :raises ValueError: ``account_id`` is empty, not a string or not valid text.
    """
    raw_key = key_bytes(key, "pseudonym_key", min_length=MIN_KEY_LENGTH,
                        label="The pseudonym key")
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("The account id to pseudonymise must be a non-empty string.")
    check_utf8(account_id, "The account id to pseudonymise")
    digest = hmac.new(raw_key, _CONTEXT + account_id.encode("utf-8"), hashlib.sha256)
    number = int.from_bytes(digest.digest(), "big")
    letters = []
    for _ in range(PSEUDONYM_LENGTH):
        number, index = divmod(number, len(_ALPHABET))
        letters.append(_ALPHABET[index])
    return "".join(letters)


def check_recipient(recipient: str) -> str:
    """Return ``recipient`` unchanged if it is acceptable as a stored recipient id.

    Refused: a non-string, an empty id, one over 128 characters, one holding whitespace
    or control or invisible formatting characters, and anything that looks like an email
    address (an ``@``, also percent-encoded or a look-alike), an IPv4 or IPv6 address, or
    a run of 9 or more digits (phone and card numbers), as :func:`identifying_shape`
    finds them.

    :raises InvalidRecipient: with a ``reason`` code and a sentence suggesting
        :func:`pseudonym`; the refused value is never part of the message.
    """
    if not isinstance(recipient, str) or not recipient:
        raise InvalidRecipient("empty", "The recipient id is empty; pass a non-empty string.")
    if len(recipient) > MAX_RECIPIENT_LENGTH:
        raise InvalidRecipient(
            "too-long",
            f"The recipient id is longer than {MAX_RECIPIENT_LENGTH} characters; {_USE_PSEUDONYM}.",
        )
    if any(unicodedata.category(char)[0] in "CZ" for char in recipient):
        raise InvalidRecipient(
            "whitespace",
            "The recipient id contains whitespace, control or invisible characters;"
            f" {_USE_PSEUDONYM}.",
        )
    shape = identifying_shape(recipient)
    if shape is not None:
        raise InvalidRecipient(
            shape, f"The recipient id {_SHAPE_TEXT[shape]}; {_USE_PSEUDONYM}."
        )
    return recipient


def identifying_shape(text: str) -> str | None:
    """Say which directly identifying shape ``text`` holds, or return ``None``.

    The answer is ``"email"`` (an email address, or any ``@`` at all), ``"ip"`` (an IPv4 or
    IPv6 address) or ``"digits"`` (9 or more digits counted across the separators of phone
    and card numbers: spaces, dots, dashes and Unicode hyphens, ``_ + / ( )``, and a card's
    groups of four across commas or colons), checked in that order. The shapes are found by
    the collector's scrubber (:func:`sdk.scrub.identifying_kinds`), on the same decoded,
    normalised text and its skeleton, so full-width or circled digits, an ``@`` written as
    U+FE6B or percent-encoded, and characters hidden inside the id count as well.
    :func:`check_recipient` refuses recipient ids on these grounds, and
    :class:`~sdk.tokens.TokenCodec` campaign, list and link ids.
    """
    kinds = identifying_kinds(text)
    # Stricter than the scrubber for ids: an "@" with no address around it ("@ann") is a
    # handle, which names a person as well.
    if "email" in kinds or "@" in skeleton(text):
        return "email"
    if "ip" in kinds:
        return "ip"
    if "num" in kinds:
        return "digits"
    return None
