"""Signed tokens carried by email pixels (``/o/…``), tracked links (``/c/…``) and
unsubscribe links (``/u/…``): the one place their format and salts are defined, shared by
senders (:mod:`sdk.mail`) and the collector.

Format: an itsdangerous :class:`~itsdangerous.URLSafeTimedSerializer` token,
``payload.timestamp.signature``, HMAC-SHA256 under the newest of ``TOKEN_KEYS`` and a
salt per kind (:data:`OPEN_SALT`, :data:`CLICK_SALT`, :data:`UNSUBSCRIBE_SALT`), so a
token of one kind never verifies as another. The timestamp is the send time. The
payload is compact JSON (zlib-compressed when that is shorter) with one-letter keys:

=====  ==========================================  ==================
key    meaning                                     kinds
=====  ==========================================  ==================
``c``  campaign                                    all
``l``  list (the sender's audience)                all
``r``  recipient pseudonym, absent when aggregate  all (optional)
``k``  link id                                     click
``u``  target, an absolute http(s) URL             click
=====  ==========================================  ==================

Nothing else is accepted in a payload, so a token can carry nothing the event store must
not hold. Open and click tokens count for :data:`TRACKING_MAX_AGE` (400 days) after the
send: an older one raises :class:`~sdk.errors.ExpiredToken`, which still carries its
verified content (the collector follows an old link's target without counting the
click); unsubscribe tokens never expire (an old mail's unsubscribe link must keep
working).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from itsdangerous import BadData, BadPayload, TimestampSigner, URLSafeTimedSerializer

from .errors import ConfigError, ExpiredToken, InvalidRecipient, InvalidToken, finite_number
from .keys import key_list
from .naming import MAX_NAME_LENGTH, _shape_problem, check_campaign_name
from .pseudonym import MAX_RECIPIENT_LENGTH, check_recipient

#: Salt of email-open tokens (``/o/<token>.gif``).
OPEN_SALT: Final = "cleargif.open"
#: Salt of link-click tokens (``/c/<token>``).
CLICK_SALT: Final = "cleargif.click"
#: Salt of unsubscribe tokens (``/u/<token>``).
UNSUBSCRIBE_SALT: Final = "cleargif.unsubscribe"

#: Open and click tokens count this many seconds after the send time (400 days); older
#: ones raise :class:`~sdk.errors.ExpiredToken`.
TRACKING_MAX_AGE: Final = 400 * 24 * 60 * 60
#: How far, in seconds, a send time may lie ahead of the verifier's clock.
MAX_CLOCK_SKEW: Final = 15 * 60
#: Longest token accepted, in characters; longer input is refused before any decoding.
MAX_TOKEN_LENGTH: Final = 2048
#: Shortest key accepted in ``TOKEN_KEYS``, in bytes (UTF-8 for a ``str``).
MIN_KEY_LENGTH: Final = 16
#: Longest campaign, list or link id, in characters (:data:`sdk.naming.MAX_NAME_LENGTH`).
MAX_FIELD_LENGTH: Final = MAX_NAME_LENGTH

_KINDS: Final = {OPEN_SALT: "open", CLICK_SALT: "click", UNSUBSCRIBE_SALT: "unsubscribe"}
_EXPIRED: Final = ("The {kind} token has expired: it was sent more than 400 days ago, and "
                   "is no longer counted.")
_BASE_KEYS: Final = frozenset({"c", "l"})
_TOKEN_CHARS: Final = re.compile(r"[A-Za-z0-9_\-.]+")
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# WHATWG "forbidden domain code points": a host holding one of them is not what it
# seems to at least one URL parser.
_FORBIDDEN_HOST_CHARS: Final = frozenset("\x00\t\n\r #%/:<>?@[\\]^|\x7f")


def check_target(url: str) -> str:
    """Return ``url`` unchanged if it may be the target of a tracked link.

    A target is an absolute ``http`` or ``https`` URL with a host: no other scheme
    (``javascript:``, ``data:``…), no scheme-relative ``//host``, no user name or
    password, no backslash (browsers read it as a slash, ``http:/\\\\evil``), no
    whitespace or control characters (browsers drop tabs and newlines inside URLs).
    The collector redirects to it, so this is what keeps ``/c/…`` from being an open
    redirect even if a sender's template is fed hostile input.

    :raises ValueError: with a sentence saying what is wrong.
    """
    problem = _target_problem(url)
    if problem:
        raise ValueError(f"The link target {problem}.")
    return url


def check_base_url(base_url: str) -> str:
    """Return the collector's public base URL, without a trailing slash.

    It is an absolute http(s) URL with a host and no query or fragment, like
    ``https://stats.example.com`` (a path prefix is kept); the scheme is lower-cased.

    :raises ConfigError: keyed ``base_url``, with a sentence saying what is wrong.
    """
    problem = None
    if not isinstance(base_url, str) or not base_url:
        problem = "is empty"
    elif "?" in base_url or "#" in base_url:
        problem = "must not have a query or fragment"
    else:
        problem = _target_problem(base_url)
    if problem:
        raise ConfigError(
            "base_url",
            f"The collector base URL {problem}; give the public URL the collector is served"
            " at, such as https://stats.example.com.",
        )
    return f"{urlsplit(base_url).scheme.lower()}:{base_url.split(':', 1)[1].rstrip('/')}"


@dataclass(frozen=True)
class OpenToken:
    """An email open: the payload of ``/o/<token>.gif``.

    :param campaign: the sender's campaign name.
    :param list: the sender's audience the mail went to.
    :param recipient: the recipient pseudonym, ``None`` for aggregate tracking.
    :param sent_at: the send time, an aware UTC datetime in whole seconds.
    """

    campaign: str
    list: str
    recipient: str | None
    sent_at: datetime


@dataclass(frozen=True)
class ClickToken:
    """A tracked link: the payload of ``/c/<token>``.

    :param campaign: the sender's campaign name.
    :param list: the sender's audience the mail went to.
    :param recipient: the recipient pseudonym, ``None`` for aggregate tracking.
    :param link: the link id (``data-link-id``, else ``link-<n>``).
    :param target: where the collector redirects, checked by :func:`check_target`.
    :param sent_at: the send time, an aware UTC datetime in whole seconds.
    """

    campaign: str
    list: str
    recipient: str | None
    link: str
    target: str
    sent_at: datetime


@dataclass(frozen=True)
class UnsubscribeToken:
    """An unsubscribe link: the payload of ``/u/<token>``.

    :param campaign: the campaign the mail belonged to (provenance of the suppression).
    :param list: the audience to leave.
    :param recipient: who leaves it; ``None`` when the mail was sent without one.
    :param sent_at: the send time, an aware UTC datetime in whole seconds.
    """

    campaign: str
    list: str
    recipient: str | None
    sent_at: datetime


class _SendTimeSigner(TimestampSigner):
    """A timestamp signer whose timestamp is the given send time instead of now."""

    def __init__(
        self,
        secret_key: str | bytes | Iterable[str] | Iterable[bytes],
        salt: str | bytes | None = None,
        *,
        sent_at: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(secret_key, salt=salt, **kwargs)
        self._sent_at = sent_at

    def get_timestamp(self) -> int:
        if self._sent_at is None:
            return super().get_timestamp()
        return self._sent_at


class TokenCodec:
    """Make and verify the three kinds of email token under ``TOKEN_KEYS``.

    :param keys: the key list, oldest first: the last key signs, every key verifies.
        Rotate by appending a new key, and drop an old one once the tokens it signed may
        go (open and click tokens after 400 days; unsubscribe links in old mails stop
        working when their key goes).
    :raises ConfigError: (key ``TOKEN_KEYS``) the list is empty, is a bare string or
        not a list, or holds a key that is not a ``str`` or ``bytes`` (an integer would
        become zero bytes) or is shorter than 16 bytes.
    """

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        self._keys = key_list(keys, "TOKEN_KEYS", min_length=MIN_KEY_LENGTH)
        # Verification needs no clock override, so one serializer per kind is reused.
        self._verifiers = {salt: self._serializer(salt) for salt in _KINDS}

    # -- making ---------------------------------------------------------------------

    def dump_open(
        self,
        campaign: str,
        list: str,
        *,
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return an open token.

        :param recipient: a recipient id (checked by
            :func:`~sdk.pseudonym.check_recipient`), or ``None``.
        :param sent_at: the send time (an aware datetime or a POSIX timestamp); now if
            ``None``. Kept in whole seconds.
        :raises ValueError: a field is empty, too long or holds control characters.
        :raises InvalidRecipient: the recipient id could identify a person.
        """
        payload = _payload(campaign, list, recipient)
        return self._dump(OPEN_SALT, payload, sent_at)

    def dump_click(
        self,
        campaign: str,
        list: str,
        link: str,
        target: str,
        *,
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return a click token for ``target``, a link identified by ``link``.

        :raises ValueError: ``target`` fails :func:`check_target`, or a field is empty,
            too long or holds control characters.
        :raises InvalidRecipient: the recipient id could identify a person.
        """
        payload = _payload(campaign, list, recipient)
        payload["k"] = _check_field("link id", link)
        payload["u"] = check_target(target)
        return self._dump(CLICK_SALT, payload, sent_at)

    def dump_unsubscribe(
        self,
        campaign: str,
        list: str,
        *,
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return an unsubscribe token (it never expires).

        :raises ValueError: a field is empty, too long or holds control characters.
        :raises InvalidRecipient: the recipient id could identify a person.
        """
        payload = _payload(campaign, list, recipient)
        return self._dump(UNSUBSCRIBE_SALT, payload, sent_at)

    # -- verifying ------------------------------------------------------------------

    def load_open(self, token: str, *, now: float | None = None) -> OpenToken:
        """Verify an open token and return its content.

        :param now: the POSIX time to check expiry against; the current time if ``None``.
        :raises ExpiredToken: (an :class:`InvalidToken`) the token was sent more than
            :data:`TRACKING_MAX_AGE` before ``now``; it carries the content.
        :raises InvalidToken: the token is empty, too long, altered, signed with a key
            no longer listed or for another kind, dated in the future, or carries a
            payload of the wrong shape.
        :raises ValueError: ``now`` is not a finite number or ``None``.
        """
        payload, sent_at, expired = self._load(OPEN_SALT, token, now)
        _check_shape(payload, required=_BASE_KEYS, kind="open")
        opened = OpenToken(payload["c"], payload["l"], _storable(payload.get("r")), sent_at)
        if expired:
            raise ExpiredToken(_EXPIRED.format(kind="open"), opened)
        return opened

    def load_click(self, token: str, *, now: float | None = None) -> ClickToken:
        """Verify a click token and return its content; see :meth:`load_open`.

        :raises ExpiredToken: as :meth:`load_open`; its ``token`` is the
            :class:`ClickToken`, whose target the signature still vouches for.
        :raises InvalidToken: as :meth:`load_open`, and when the target is not an
            absolute http(s) URL.
        """
        payload, sent_at, expired = self._load(CLICK_SALT, token, now)
        _check_shape(payload, required=_BASE_KEYS | {"k", "u"}, kind="click")
        problem = _target_problem(payload["u"])
        if problem:
            raise InvalidToken(f"The click token is not valid: its target {problem}.")
        clicked = ClickToken(
            payload["c"], payload["l"], _storable(payload.get("r")), payload["k"], payload["u"],
            sent_at,
        )
        if expired:
            raise ExpiredToken(_EXPIRED.format(kind="click"), clicked)
        return clicked

    def load_unsubscribe(self, token: str, *, now: float | None = None) -> UnsubscribeToken:
        """Verify an unsubscribe token and return its content. It never expires.

        :param now: accepted (and checked) for symmetry with the other loaders; not used.
        :raises InvalidToken: as :meth:`load_open`, except expiry.
        """
        _check_now(now)
        payload, sent_at, _ = self._load(UNSUBSCRIBE_SALT, token, None)
        _check_shape(payload, required=_BASE_KEYS, kind="unsubscribe")
        return UnsubscribeToken(payload["c"], payload["l"], payload.get("r"), sent_at)

    # -- internals ------------------------------------------------------------------

    def _serializer(self, salt: str, sent_at: int | None = None) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._keys,
            salt=salt,
            signer=_SendTimeSigner,
            signer_kwargs={"digest_method": hashlib.sha256, "sent_at": sent_at},
        )

    def _dump(self, salt: str, payload: dict[str, str], sent_at: datetime | float | None) -> str:
        dumped = self._serializer(salt, _send_timestamp(sent_at)).dumps(payload)
        # URL-safe serializers make text; itsdangerous before 2.2 types it as str | bytes.
        token = dumped.decode("ascii") if isinstance(dumped, bytes) else dumped
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError(
                f"The token would be {len(token)} characters long, over the"
                f" {MAX_TOKEN_LENGTH} the collector accepts; shorten the link target or ids."
            )
        return token

    def _load(self, salt: str, token: str,
              now: float | None) -> tuple[dict[str, Any], datetime, bool]:
        """The verified payload, the send time, and whether it is past
        :data:`TRACKING_MAX_AGE` (open and click tokens; the caller raises once it has
        checked the payload, so that an expired token carries genuine content)."""
        kind = _KINDS[salt]
        clock = _check_now(now)
        if not isinstance(token, str) or not token:
            raise InvalidToken(f"The {kind} token is empty.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken(f"The {kind} token is longer than {MAX_TOKEN_LENGTH} characters.")
        if not _TOKEN_CHARS.fullmatch(token):
            raise InvalidToken(f"The {kind} token contains characters tokens never hold.")
        try:
            payload, signed_at = self._verifiers[salt].loads(token, return_timestamp=True)
        except BadPayload as exc:
            raise InvalidToken(f"The {kind} token's payload cannot be read.") from exc
        except BadData as exc:
            raise InvalidToken(
                f"The {kind} token's signature does not match: it was altered, made for"
                " another kind of link, or signed with a key no longer in TOKEN_KEYS."
            ) from exc
        except (ValueError, OverflowError, OSError) as exc:
            # Only a validly signed token with an absurd timestamp gets here (itsdangerous
            # converts it to a datetime after checking the signature).
            raise InvalidToken(f"The {kind} token's send time cannot be read.") from exc
        expired = False
        if salt != UNSUBSCRIBE_SALT:
            # The age is checked here rather than with itsdangerous's max_age, which also
            # refuses a send time even a second ahead of this clock: a sender whose clock
            # runs slightly fast would lose the first opens of every campaign.
            age = (time.time() if clock is None else clock) - signed_at.timestamp()
            expired = age > TRACKING_MAX_AGE
            if age < -MAX_CLOCK_SKEW:
                raise InvalidToken(f"The {kind} token's send time lies in the future.")
        return payload, signed_at, expired


def _check_now(now: object) -> float | None:
    """Return the ``now`` of a loader as a float, or ``None`` for the current time."""
    if now is None:
        return None
    value = finite_number(now)
    if value is not None:
        return value
    raise ValueError("The time to check a token against (now) must be a finite POSIX"
                     " timestamp in seconds, or None for the current time.")


def _send_timestamp(sent_at: datetime | float | None) -> int:
    if sent_at is None:
        return int(time.time())
    if isinstance(sent_at, datetime):
        if sent_at.tzinfo is None or sent_at.utcoffset() is None:
            raise ValueError(
                "The send time is a naive datetime; pass an aware one, such as"
                " datetime.now(timezone.utc)."
            )
        seconds = sent_at.timestamp()
    elif isinstance(sent_at, int | float) and not isinstance(sent_at, bool):
        number = finite_number(sent_at)
        # NaN, infinities and ints past a float's range are refused as past 9999.
        seconds = math.inf if number is None else number
    else:
        raise ValueError("The send time must be an aware datetime, a POSIX timestamp or None.")
    # The upper bound keeps datetime.fromtimestamp working on every platform.
    if not 0 <= seconds < 253402300800:
        raise ValueError("The send time must lie between 1970 and 9999.")
    return int(seconds)


def _check_field(name: str, value: str) -> str:
    """Return a campaign, list or link id unchanged if a new token may carry it.

    The rule is :func:`sdk.naming.campaign_name_problem`: a readable name that the
    collector's scrubber (:mod:`sdk.scrub`, DESIGN 1.1) stores as it is, never personal
    data or an opaque id (a report would mix unrelated campaigns under ``:token``, or
    single a person out). Tokens already sent are not checked again when loaded. The
    messages never quote the value: it may be the personal data.
    """
    return check_campaign_name(value, name)


def _payload(campaign: str, list: str, recipient: str | None) -> dict[str, str]:
    payload = {"c": _check_field("campaign", campaign), "l": _check_field("list", list)}
    if recipient is not None:
        payload["r"] = check_recipient(recipient)
    return payload


def _check_shape(payload: Any, *, required: Collection[str], kind: str) -> None:
    """Refuse a payload that is not exactly what :class:`TokenCodec` makes.

    Signed payloads come from holders of a token key, and senders may run another
    version of this SDK or their own code: the collector must still store nothing but
    these fields.
    """
    wrong = InvalidToken(f"The {kind} token's payload does not have the expected fields.")
    if not isinstance(payload, dict):
        raise wrong
    keys = set(payload)
    if not set(required) <= keys or not keys <= set(required) | {"r"}:
        raise wrong
    for key in keys - {"r", "u"}:
        if _shape_problem(payload[key]):
            raise wrong
    if "u" in payload and not isinstance(payload["u"], str):
        raise wrong
    if "r" in payload:
        recipient = payload["r"]
        # Only the shape every id has: a signed token stays good whatever the SDK's
        # rules for new ids become (an unsubscribe link must keep working for ever).
        if not isinstance(recipient, str) or not recipient or \
                len(recipient) > MAX_RECIPIENT_LENGTH or \
                any(unicodedata.category(ch)[0] in "CZ" for ch in recipient):
            raise InvalidToken(f"The {kind} token's recipient id is not a plain id.")


def _storable(recipient: str | None) -> str | None:
    """The recipient an open or click may record: ``None`` when it looks like personal
    data (a token made by other code, or under older rules), so the event is kept
    without it rather than lost or stored with it."""
    if recipient is None:
        return None
    try:
        return check_recipient(recipient)
    except InvalidRecipient:
        return None


def _target_problem(url: object) -> str | None:
    """Say what keeps ``url`` from being a link target, or return ``None``."""
    if not isinstance(url, str) or not url:
        return "is empty"
    if any(unicodedata.category(char) == "Cs" for char in url):
        return ("is not valid text: it holds a lone surrogate, a character with no UTF-8"
                " form; decode the URL from its bytes properly")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp") for char in url):
        return "contains whitespace or control characters; percent-encode them"
    if "\\" in url:
        return "contains a backslash, which browsers read as a slash; percent-encode it"
    scheme = _SCHEME.match(url)
    if not scheme or scheme.group(1).lower() not in ("http", "https"):
        return "is not an absolute http or https URL"
    if not url[scheme.end() :].startswith("//"):
        return "needs // after its scheme, as in https://example.com/"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" in the host
        return "has an invalid host"
    if "@" in parts.netloc:
        return "carries a user name or password; remove them"
    host = parts.hostname
    if not host:
        return "has no host"
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily, on access
    except ValueError:
        return "has an invalid port"
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "has an invalid IPv6 host"
    elif _FORBIDDEN_HOST_CHARS.intersection(host):
        return "has a host with characters that are not allowed there"
    return None
