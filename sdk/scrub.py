"""Free-text scrubbing for the few text fields an event may keep (DESIGN 1.1).

Paths, event names and ``utm_*`` values arrive from the page, and campaign, list and link
ids from email tokens; they may hold whatever a site, a sender or a visitor put in them.
Before they reach a record, everything shaped like direct or indirect identifying data
is replaced by a placeholder:

=============  ==============================================================
``:email``     email addresses (also percent-encoded, plus-addressed)
``:ip``        IPv4 and IPv6 addresses (compressed, zoned, v4-mapped)
``:num``       runs of 9+ digits across spaces, dots, dashes, parentheses
``:token``     UUIDs, 16+ character letter-and-digit runs, dotted base64
               (JWT, itsdangerous ``payload.timestamp.signature``)
=============  ==============================================================

Sites may also declare path patterns (``/users/*``) so that a segment known to hold an
identifier is recorded as ``*`` whatever it looks like.

It lives in the SDK so that senders' code refuses, when it makes a token, any id the
collector would store changed (:func:`sdk.tokens.TokenCodec`); the collector scrubs with
the same functions.

Every pattern here is linear in its input: each one either starts only at the beginning
of a run of its characters (a negative look-behind) or has bounded repetition, so a
crafted 100 KB value costs milliseconds, not minutes.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

__all__ = [
    "EMAIL",
    "IP",
    "NUM",
    "TOKEN",
    "PathPatterns",
    "compile_path_patterns",
    "scrub_path",
    "scrub_text",
]

EMAIL: Final = ":email"
IP: Final = ":ip"
NUM: Final = ":num"
TOKEN: Final = ":token"

#: How many times a value is percent-decoded: ``%2540`` hides ``@`` behind two layers.
_DECODE_ROUNDS: Final = 3

# C0/C1 controls and the invisible format characters that could split an address so
# that no pattern sees it whole (zero-width spaces, bidi overrides, BOM).
_CONTROL_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e"
                                "\u2060-\u2064\ufeff]")

# RFC 5321 caps the local part at 64 characters and a label at 63: the bounds keep the
# pattern linear on long runs without '@' as well as matching every real address. The
# top-level domain ends where no letter follows, so text glued on after it
# ("jane@example.org-42", "…org_2") does not shield the address.
_EMAIL_RE: Final = re.compile(
    r"[\w.+'\-]{1,64}@(?:[\w\-]{1,63}\.){1,8}(?:xn--[\w\-]{1,59}|[^\W\d_]{2,63})"
    r"(?![^\W\d_])"
)

_UUID_RE: Final = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)

# Candidates only: ipaddress decides. Starting only where no address character
# precedes keeps "std::map" or "12:30:45" from being tried from their middles.
_IPV6_RE: Final = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[0-9A-Za-z_.\-]{1,32})?(?![\w:]|\.\d)"
)

_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not inside a longer dotted number: "1.2.3.4.5" is a version, not an address.
_IPV4_RE: Final = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)")

# A dotted run whose last part is long enough to be a signature (itsdangerous signs with
# HMAC-SHA1, 27 characters; JWT HS256 gives 43). The optional leading dot is Flask's marker
# for a compressed session payload.
_DOTTED_RE: Final = re.compile(
    r"(?<![A-Za-z0-9_.\-])\.?(?:[A-Za-z0-9_\-]+\.){1,4}[A-Za-z0-9_\-]{22,}(?![A-Za-z0-9_\-])"
)
# JWTs start with base64 of '{"' whatever their signature looks like (even "alg: none").
_JWT_RE: Final = re.compile(
    r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]*){1,4}(?![A-Za-z0-9_\-.])"
)

_RUN_RE: Final = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{16,}(?![A-Za-z0-9_\-])")
# A lower-case slug of words and short numbers ("best-laptops-2024") reads as content,
# not as a credential; it is let through when letters outnumber digits.
_SLUG_RE: Final = re.compile(r"(?:[a-z]{2,}|\d{1,4})(?:[-_](?:[a-z]{2,}|\d{1,4}))*")

# Separators and digits are disjoint, so each repetition is decided by one character and
# the pattern cannot backtrack. Parentheses cover "(415) 555-0132".
_NUM_RE: Final = re.compile(r"\+?\(?\d(?:[ ._\-()]{0,3}\d){8,}")

_SEGMENT_SPLIT_RE: Final = re.compile(r"/+")


@dataclass(frozen=True, slots=True)
class PathPatterns:
    """Site-declared path patterns, compiled by :func:`compile_path_patterns`.

    Each pattern is a tuple of segments; ``"*"`` stands for exactly one segment. They are
    kept most specific first, so the first one that matches is the one to record.
    """

    patterns: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)

    def match(self, segments: list[str]) -> tuple[str, ...] | None:
        """The pattern covering a prefix of ``segments``, or None.

        :param segments: the decoded segments of a path, without the leading empty one.
        """
        for pattern in self.patterns:
            if len(pattern) > len(segments):
                continue
            if all(
                (p == "*" and s != "") or p == s
                for p, s in zip(pattern, segments, strict=False)
            ):
                return pattern
        return None


def compile_path_patterns(patterns: Iterable[str]) -> PathPatterns:
    """Validate and compile site path patterns such as ``/users/*``.

    A pattern is a path whose ``*`` segments match exactly one segment each; a path
    matching a pattern's leading segments is recorded with those segments replaced by
    the pattern (``/users/jane/settings`` under ``/users/*`` is ``/users/*/settings``).
    Literal segments match exactly, case included, against the percent-decoded path.
    When several match, the longest wins, then the one with more literal segments, then
    the one declared first.

    :param patterns: the patterns, for example ``["/users/*", "/orders/*/items/*"]``.
    :returns: the compiled patterns, immutable and hashable.
    :raises ValueError: for a pattern that does not start with ``/``, is empty, or uses
        ``*``, ``?`` or ``#`` other than as a whole ``*`` segment.
    """
    if isinstance(patterns, str):
        raise ValueError(
            f"path patterns must be a list such as [{patterns!r}], not a single string."
        )
    compiled: list[tuple[str, ...]] = []
    for raw in patterns:
        if not isinstance(raw, str):
            raise ValueError(f"path pattern {raw!r} is not text; write it as a string "
                             "such as '/users/*'.")
        text = raw.strip()
        if not text.startswith("/"):
            raise ValueError(f"path pattern {raw!r} must start with '/', "
                             f"for example '/{text.lstrip('/') or 'users/*'}'.")
        segments = tuple(text.strip("/").split("/")) if text.strip("/") else ()
        if not segments:
            raise ValueError(f"path pattern {raw!r} is empty; name at least one segment, "
                             "for example '/users/*'.")
        for segment in segments:
            if segment == "":
                raise ValueError(f"path pattern {raw!r} has an empty segment ('//'); "
                                 "remove the extra slash.")
            if "?" in segment or "#" in segment:
                raise ValueError(f"path pattern {raw!r} holds a query or fragment; "
                                 "patterns match the path only, so remove it.")
            if "*" in segment and segment != "*":
                raise ValueError(f"path pattern {raw!r} uses '*' inside a segment; "
                                 "'*' must be a whole segment, as in '/users/*'.")
        if segments not in compiled:
            compiled.append(segments)
    order = {p: i for i, p in enumerate(compiled)}
    compiled.sort(key=lambda p: (-len(p), -sum(s != "*" for s in p), order[p]))
    return PathPatterns(tuple(compiled))


def scrub_text(value: str, max_len: int = 200) -> str:
    """Replace identifying shapes in free text by placeholders, then cap its length.

    The value is percent-decoded (so ``jane%40example.com`` is caught), normalised
    (NFKC, so full-width digits count as digits), stripped of control and invisible
    format characters and of surrounding white space, then scrubbed: emails become
    ``:email``; IPv4/IPv6 addresses ``:ip``; UUIDs, JWTs, itsdangerous tokens and runs
    of 16+ ``[A-Za-z0-9_-]`` mixing letters and digits ``:token``; 9+ digits counted
    across spaces, dots, dashes and parentheses ``:num``. Shorter numbers (``2024``,
    ``2024-05-01``) and words stay.

    :param value: the free text (a path segment, an event name, a ``utm_*`` value).
    :param max_len: the most characters returned; the cut happens after scrubbing so it
        never leaves a fragment of an address unscrubbed.
    :returns: the scrubbed text.
    :raises ValueError: if ``max_len`` is negative.
    """
    if max_len < 0:
        raise ValueError(f"max_len must be zero or more, not {max_len}.")
    return _scrub(_clean(value)).strip()[:max_len]


def scrub_path(path: str, patterns: PathPatterns | None = None, max_len: int = 512) -> str:
    """Scrub a URL path for storage: patterns applied, segments scrubbed, length capped.

    Anything after ``?`` or ``#`` is dropped. The path is percent-decoded, the leading
    segments matching a site pattern are replaced by it, every other segment is scrubbed
    as by :func:`scrub_text`, repeated slashes collapse, and the result starts with ``/``.

    :param path: a path without query or fragment (they are dropped if present).
    :param patterns: site patterns from :func:`compile_path_patterns`.
    :param max_len: the most characters returned (at least 1).
    :returns: the scrubbed path; ``/`` for an empty one.
    :raises ValueError: if ``max_len`` is less than 1.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1 for a path, not {max_len}.")
    raw = path.split("?", 1)[0].split("#", 1)[0]
    text = _clean(raw)
    segments = _SEGMENT_SPLIT_RE.split(text.strip("/"))
    trailing = text.endswith("/") and segments != [""]
    head = (patterns.match(segments) if patterns else None) or ()
    segments = segments[len(head):]
    scrubbed = [*head, *(_scrub(s).strip() for s in segments)]
    joined = "/" + "/".join(s for s in scrubbed if s)
    if trailing and joined != "/":
        joined += "/"
    return joined[:max_len]


def _clean(value: str) -> str:
    """Decode, normalise and strip invisible characters, before any pattern runs."""
    text = _nfkc(value)
    for _ in range(_DECODE_ROUNDS):
        if "%" not in text:
            break
        decoded = _nfkc(unquote(text, errors="replace"))
        if decoded == text:
            break
        text = decoded
    return _CONTROL_RE.sub("", text)


def _nfkc(text: str) -> str:
    # Full-width "＠" and "４" would otherwise hide an address from ASCII patterns.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _scrub(text: str) -> str:
    """Apply the placeholders, most specific shape first.

    Order matters: an email or a UUID holds digits the number rule would take, an IPv4
    address can reach 12 digits, and a JWT's parts are themselves long tokens.
    """
    if "@" in text:
        text = _EMAIL_RE.sub(EMAIL, text)
    if "-" in text:
        text = _UUID_RE.sub(TOKEN, text)
    if "." in text:
        text = _JWT_RE.sub(TOKEN, text)
        text = _DOTTED_RE.sub(_dotted_token, text)
    if ":" in text:
        text = _IPV6_RE.sub(_ipv6, text)
    if "." in text:
        text = _IPV4_RE.sub(IP, text)
    text = _RUN_RE.sub(_run_token, text)
    return _NUM_RE.sub(NUM, text)


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return candidate
    return IP


def _mixes(text: str) -> bool:
    """True when ``text`` holds at least one letter and one digit."""
    has_digit = has_alpha = False
    for ch in text:
        if ch.isdigit():
            has_digit = True
        elif ch.isalpha():
            has_alpha = True
        if has_digit and has_alpha:
            return True
    return False


def _dotted_token(match: re.Match[str]) -> str:
    text = match.group(0)
    signature = text.rsplit(".", 1)[1]
    return TOKEN if _mixes(signature) else text


def _run_token(match: re.Match[str]) -> str:
    run = match.group(0)
    if not _mixes(run):
        return run
    if _SLUG_RE.fullmatch(run):
        digits = sum(ch.isdigit() for ch in run)
        if len(run) - digits - run.count("-") - run.count("_") > digits:
            return run
    return TOKEN
