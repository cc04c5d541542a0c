"""Free-text scrubbing for the few text fields an event may keep (DESIGN 1.1).

Paths, event names and ``utm_*`` values arrive from the page, and campaign, list and link
ids from email tokens; they may hold whatever a site, a sender or a visitor put in them.
Before they reach a record, everything shaped like direct or indirect identifying data
is replaced by a placeholder:

=============  ==============================================================
``:email``     email addresses (also percent-encoded, plus-addressed, quoted or
               with RFC 5322 specials in the local part, IP-literal domains)
``:ip``        IPv4 and IPv6 addresses (compressed, zoned, v4-mapped)
``:num``       runs of 9+ digits across spaces (up to 8), dots, dashes and
               Unicode hyphens and ``_ + / ( )``; card groups of four joined by
               commas or colons
``:token``     UUIDs, 16+ character letter-and-digit runs that do not read as
               words (:func:`reads_as_word`), dotted base64 (JWT, itsdangerous
               ``payload.timestamp.signature``)
=============  ==============================================================

Shapes hidden by invisible or combining characters (``jane\u034f@example.com``) or by
look-alike full stops (``example\u3002com``) are found on a *skeleton* of the text, with
those characters removed or mapped to ``.``; only the spans found there are replaced, so
ordinary text around them (Hindi or Arabic with combining marks) is kept as written.

Sites may also declare path patterns (``/users/*``) so that a segment known to hold an
identifier is recorded as ``*`` whatever it looks like.

It lives in the SDK so that senders' code refuses, when it makes a token, any id the
collector would store changed (:func:`sdk.tokens.TokenCodec`), and recipient ids of the
shapes :func:`identifying_kinds` finds (:func:`sdk.pseudonym.check_recipient`); the
collector scrubs with the same functions.

Every pattern here is linear in its input: each one either starts only at the beginning
of a run of its characters (a negative look-behind) or has bounded repetition, so a
crafted 100 KB value costs milliseconds, not minutes.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple
from urllib.parse import unquote

__all__ = [
    "EMAIL",
    "IP",
    "NUM",
    "TOKEN",
    "PathPatterns",
    "compile_path_patterns",
    "identifying_kinds",
    "reads_as_word",
    "scrub_path",
    "scrub_text",
    "skeleton",
]

EMAIL: Final = ":email"
IP: Final = ":ip"
NUM: Final = ":num"
TOKEN: Final = ":token"

#: Most rounds of percent-decoding: a value is decoded until it stops changing, so
#: ``%2540`` (two layers) and deeper nesting still read as ``@``. An ``@`` left encoded
#: after the last round is read as ``@`` by the skeleton.
_DECODE_ROUNDS: Final = 8

# C0/C1 controls and the invisible format characters that could split an address so
# that no pattern sees it whole (zero-width spaces, bidi overrides, BOM).
_CONTROL_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e"
                                "\u2060-\u2064\ufeff]")

# What a skeleton leaves out: combining marks (U+034F, U+0332, variation selectors),
# format characters (bidi isolates, U+061C, U+180E, tag characters), surrogates,
# private-use and unassigned code points, line and paragraph separators (like the
# newlines _CONTROL_RE drops) and letters that render as nothing.
_HIDDEN_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_BLANKS: Final = frozenset("\u115f\u1160\u2800\u3164\uffa0")
# Full stops of other scripts and dot look-alikes, which a skeleton reads as ".".
_DOTS: Final = frozenset("\u00b7\u0589\u06d4\u0701\u0702\u2024\u2027\u2e3c\u3002\ufe52"
                         "\uff0e\uff61")
# An "@" still percent-encoded after _DECODE_ROUNDS. "25" and "%" are disjoint, so a run
# is scanned once from the "%" before it.
_ENCODED_AT_RE: Final = re.compile(r"%(?:25)*40")

# RFC 5321 caps the local part at 64 characters and a label at 63: the bounds keep the
# pattern linear on long runs without '@' as well as matching every real address. The
# local part may be quoted or hold RFC 5322 specials ("jane.doe"@…, jane}@…), never '/',
# so a path keeps its segments. The top-level domain ends where no letter follows, so
# text glued on after it ("jane@example.org-42", "…org_2") does not shield the address.
_EMAIL_RE: Final = re.compile(
    r"""(?:"[^"\\/]{1,62}"|[\w.!#$%&'*+=?^`{|}~"\-]{1,64})@"""
    r"(?:(?:[\w\-]{1,63}\.){1,8}(?:xn--[\w\-]{1,59}|[^\W\d_]{2,63})(?![^\W\d_])"
    r"|\[(?:IPv6:)?[0-9A-Fa-f:.]{2,45}\])"
)

_UUID_RE: Final = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)

# Candidates only: ipaddress decides. Starting only where no address character
# precedes keeps "std::map" or "12:30:45" from being tried from their middles; after a
# word character ("host_fe80::1") _ipv6 asks for two groups, so "crm::42" stays.
_IPV6_RE: Final = re.compile(
    r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[0-9A-Za-z_.\-]{1,32})?(?![\w:]|\.\d)"
)

_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not inside a longer dotted number: "1.2.3.4.5" is a version, not an address; after a
# word and a dot ("host.192.168.0.1") it is one.
_IPV4_RE: Final = re.compile(rf"(?<!\d)(?<!\d\.)(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)")

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
# The separators between the pieces of a run, each piece judged by reads_as_word.
_PIECE_SPLIT_RE: Final = re.compile(r"[-_]+")
# A date of this century, whole ("2026-12-06", "2026_12", "20261206"): campaign names and
# pages carry their date, and its digits say when, not who. Bounded, and it starts only
# where no letter or digit precedes.
_DATE_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])20\d\d([-_]?)(?:0[1-9]|1[0-2])(?:\1(?:0[1-9]|[12]\d|3[01]))?"
    r"(?![A-Za-z0-9])"
)
# The letter and digit chunks of a piece, in any script.
_CHUNK_RE: Final = re.compile(r"\d+|[^\W\d_]+")
_YEAR_RE: Final = re.compile(r"(?:19|20)\d\d")
_ORDINALS: Final = frozenset({"st", "nd", "rd", "th"})

# Separators and digits are disjoint, so each repetition is decided by a bounded gap and
# the pattern cannot backtrack further. Parentheses cover "(415) 555-0132", "+" a query's
# space ("4111+1111+…"), "/" a number in free text ("0049/30/1234567"; a path is scrubbed
# segment by segment, so "/2024/05/01/123" stays). Commas and colons do not join digits:
# coordinates ("48.8566,2.3522"), times ("10:30 12:30 14:30") and event names
# ("video:progress:25:50:75") are content; only a card number's groups of four joined by
# one of them ("4111,1111,1111,1111") count.
_NUM_SEP: Final = "[ ._/+()\\-\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d]"
_NUM_RE: Final = re.compile(
    r"(?<!\d)\d{4}([,:])\d{4}(?:\1\d{4}){1,3}(?!\d)"
    rf"|\+?\(?\d(?:(?:{_NUM_SEP}{{1,3}}| {{4,8}})?\d){{8,}}"
)

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

        Literal segments compare case-insensitively and without a segment's
        ``;parameters`` (``/Users;v=1/jane`` is under ``/users/*``): servers often route
        those to the same page, so they must not escape the pattern.

        :param segments: the decoded segments of a path without dot segments, without the
            leading empty one.
        """
        width = max((len(p) for p in self.patterns), default=0)
        keys = [_segment_key(s) for s in segments[:width]]
        for pattern in self.patterns:
            if len(pattern) > len(segments):
                continue
            if all(
                (p == "*" and k != "") or p.casefold() == k
                for p, k in zip(pattern, keys, strict=False)
            ):
                return pattern
        return None


def compile_path_patterns(patterns: Iterable[str]) -> PathPatterns:
    """Validate and compile site path patterns such as ``/users/*``.

    A pattern is a path whose ``*`` segments match exactly one segment each; a path
    matching a pattern's leading segments is recorded with those segments replaced by
    the pattern (``/users/jane/settings`` under ``/users/*`` is ``/users/*/settings``).
    Literal segments match the percent-decoded path after its dot segments are resolved
    (``/users/./jane`` is ``/users/jane``), case-insensitively and ignoring a segment's
    ``;parameters``. When several match, the longest wins, then the one with more literal
    segments, then the one declared first.

    :param patterns: the patterns, for example ``["/users/*", "/orders/*/items/*"]``.
    :returns: the compiled patterns, immutable and hashable.
    :raises ValueError: for a pattern that does not start with ``/``, is empty, uses
        ``*``, ``?`` or ``#`` other than as a whole ``*`` segment, or holds a ``.``/``..``
        segment or ``;`` parameters (no path can match those).
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
            if segment in (".", "..") or ";" in segment:
                raise ValueError(f"path pattern {raw!r} holds a '.' or '..' segment or "
                                 "';' parameters, which paths are matched without; "
                                 "remove them.")
        if segments not in compiled:
            compiled.append(segments)
    order = {p: i for i, p in enumerate(compiled)}
    compiled.sort(key=lambda p: (-len(p), -sum(s != "*" for s in p), order[p]))
    return PathPatterns(tuple(compiled))


def scrub_text(value: str, max_len: int = 200) -> str:
    """Replace identifying shapes in free text by placeholders, then cap its length.

    The value is percent-decoded until it stops changing (so ``jane%40example.com`` is
    caught), normalised (NFKC, so full-width digits count as digits), stripped of control
    and invisible format characters and of surrounding white space, then scrubbed: emails
    become ``:email``; IPv4/IPv6 addresses ``:ip``; UUIDs, JWTs, itsdangerous tokens and
    runs of 16+ ``[A-Za-z0-9_-]`` mixing letters and digits ``:token``, unless every piece
    between ``-`` and ``_`` reads as a word (:func:`reads_as_word`) and letters outnumber
    digits, dates aside (``newsletter-december2026``, ``2026-12-06-weekly``); 9+ digits counted
    across spaces, dots, dashes and ``_ + / ( )``, or a card's groups of four joined by
    commas or colons, ``:num``.
    Shapes that combining or invisible characters or look-alike full stops would hide are
    found on the value's :func:`skeleton` and replaced whole. Shorter numbers (``2024``,
    ``2024-05-01``) and words stay.

    :param value: the free text (a path segment, an event name, a ``utm_*`` value).
    :param max_len: the most characters returned; the cut happens after scrubbing so it
        never leaves a fragment of an address unscrubbed.
    :returns: the scrubbed text.
    :raises ValueError: if ``max_len`` is negative.
    """
    if max_len < 0:
        raise ValueError(f"max_len must be zero or more, not {max_len}.")
    return _scrub_all(_clean(value)).strip()[:max_len]


def scrub_path(path: str, patterns: PathPatterns | None = None, max_len: int = 512) -> str:
    """Scrub a URL path for storage: patterns applied, segments scrubbed, length capped.

    Anything after ``?`` or ``#`` is dropped, also when it was percent-encoded
    (``/search%3Fname%3DJane``). The path is percent-decoded, its dot segments resolved
    (RFC 3986), the leading segments matching a site pattern are replaced by it, every
    other segment is scrubbed as by :func:`scrub_text`, repeated slashes collapse, and the
    result starts with ``/``. Digits are counted within a segment, so ``/2024/05/01/123``
    stays as it is.

    :param path: a path without query or fragment (they are dropped if present).
    :param patterns: site patterns from :func:`compile_path_patterns`.
    :param max_len: the most characters returned (at least 1).
    :returns: the scrubbed path; ``/`` for an empty one.
    :raises ValueError: if ``max_len`` is less than 1.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1 for a path, not {max_len}.")
    raw = path.split("?", 1)[0].split("#", 1)[0]
    # Decoding can reveal a query the split above could not see ("%3Fname%3DJane"): it
    # goes from its "?" or "#" on. An encoded "#" or "?" that starts no key=value pair
    # is part of the page's name ("/wiki/C%23", "/faq/why%3F") and stays.
    text = _DECODED_QUERY_RE.sub("", _clean(raw), count=1)
    segments, trailing = _path_segments(text)
    head = (patterns.match(segments) if patterns else None) or ()
    scrubbed = [*head, *(_scrub_all(s).strip() for s in segments[len(head):])]
    joined = "/" + "/".join(s for s in scrubbed if s)
    if trailing and joined != "/":
        joined += "/"
    return joined[:max_len]


# A "?" or "#" followed, within its segment, by a key=value pair; and all after it.
_DECODED_QUERY_RE: Final = re.compile(r"[?#][^/?#=&]{0,64}=.*\Z", re.DOTALL)


def skeleton(text: str) -> str:
    """``text`` as the scrubber's detectors see it.

    Percent-decoded and normalised as by :func:`scrub_text`, then without combining
    marks, format characters (bidi isolates, tag characters, variation selectors),
    surrogates, private-use and unassigned code points and blank letters; full stops of
    other scripts and dot look-alikes (``。``, ``｡``, ``·``) become ``.``, and an ``@``
    left percent-encoded after the last decoding round becomes ``@``.

    :param text: any text.
    :returns: the skeleton; ``text`` cleaned when nothing in it is hidden.
    """
    clean = _clean(text)
    found = _skeleton(clean)
    return clean if found is None else found.text


def identifying_kinds(text: str) -> set[str]:
    """Which directly identifying shapes the scrubber finds in ``text``.

    The same cleaning, skeleton and patterns as :func:`scrub_text`, for email addresses
    (``"email"``), IPv4/IPv6 addresses (``"ip"``) and runs of 9+ digits (``"num"``, phone,
    card and account numbers). Token shapes are not looked for: a pseudonym looks like
    one, and digits inside a token-like value still count as a number.
    :func:`sdk.pseudonym.check_recipient` and the audit log's reasons refuse text for
    which this is not empty.

    :param text: any text.
    :returns: a subset of ``{"email", "ip", "num"}``; empty when none is found.
    """
    clean = _clean(text)
    found: set[str] = set()
    _scrub(clean, _DETECT_PASSES, found)
    hidden = _skeleton(clean)
    if hidden is not None:
        _scrub(hidden.text, _DETECT_PASSES, found)
    return {placeholder.lstrip(":") for placeholder in found}


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


class _Skeleton(NamedTuple):
    """A skeleton and, for each of its characters, the span of the text it comes from."""

    text: str
    starts: list[int]
    ends: list[int]


def _skeleton(text: str) -> _Skeleton | None:
    """The skeleton of cleaned ``text`` (see :func:`skeleton`); None when it is ``text``."""
    dropped: set[str] = set()
    dots: set[str] = set()
    if not text.isascii():
        for char in set(text):
            if char in _DOTS:
                dots.add(char)
            elif char in _BLANKS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
                dropped.add(char)
    encoded_at = "%" in text and _ENCODED_AT_RE.search(text) is not None
    if not dropped and not dots and not encoded_at:
        return None
    if dropped:
        starts = [i for i, char in enumerate(text) if char not in dropped]
    else:
        starts = list(range(len(text)))
    ends = [i + 1 for i in starts]
    table: dict[int, str | None] = {ord(c): None for c in dropped}
    table.update((ord(c), ".") for c in dots)
    result = text.translate(table)
    if encoded_at and "%" in result:
        pieces: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        last = 0
        for match in _ENCODED_AT_RE.finditer(result):
            a, b = match.span()
            pieces += (result[last:a], "@")
            new_starts += [*starts[last:a], starts[a]]
            new_ends += [*ends[last:a], ends[b - 1]]
            last = b
        result = "".join(pieces) + result[last:]
        starts = new_starts + starts[last:]
        ends = new_ends + ends[last:]
    return _Skeleton(result, starts, ends)


def _scrub_all(text: str) -> str:
    """:func:`_scrub` ``text`` after replacing, whole, the shapes its skeleton shows.

    Only the spans found on the skeleton are replaced in ``text``, with the characters
    hidden inside them; the rest keeps its combining marks. The plain passes then run on
    the result too, for shapes only the characters left out of the skeleton delimit.
    """
    hidden = _skeleton(text)
    if hidden is not None:
        pieces: list[str] = []
        last = 0
        for start, end, placeholder in _placeholder_spans(hidden.text):
            pieces += (text[last:hidden.starts[start]], placeholder)
            last = hidden.ends[end - 1]
        if pieces:
            text = "".join(pieces) + text[last:]
    return _scrub(text)


class _Pass(NamedTuple):
    """One scrubbing pass: it runs only on text holding ``trigger`` ("" for any)."""

    trigger: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]
    placeholder: str


def _scrub(text: str, passes: tuple[_Pass, ...] | None = None,
           found: set[str] | None = None) -> str:
    """Apply the placeholders, most specific shape first (see :data:`_PASSES`).

    :param found: when given, receives the placeholder of every pass that changed the text.
    """
    for trigger, pattern, replace, placeholder in _PASSES if passes is None else passes:
        if trigger in text:
            scrubbed = pattern.sub(replace, text)
            if found is not None and scrubbed != text:
                found.add(placeholder)
            text = scrubbed
    return text


def _placeholder_spans(text: str) -> list[tuple[int, int, str]]:
    """Where :func:`_scrub` puts placeholders in ``text``: ``(start, end, replacement)``.

    The passes run as in :func:`_scrub`, on the text as it changes; every character
    remembers the span of ``text`` it stands for, so a later match that takes in a
    placeholder (``::token``) covers the span of both. The spans are disjoint and sorted.
    """
    current = text
    starts = list(range(len(text)))
    ends = list(range(1, len(text) + 1))
    made = bytearray(len(text))  # 1 for the characters of a placeholder
    for trigger, pattern, replace, _ in _PASSES:
        if trigger not in current:
            continue
        pieces: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        new_made = bytearray()
        last = 0
        for match in pattern.finditer(current):
            replacement = replace(match)
            if replacement == match.group(0):
                continue
            a, b = match.span()
            pieces += (current[last:a], replacement)
            new_starts += starts[last:a]
            new_ends += ends[last:a]
            new_made += made[last:a]
            # Starts and ends only grow along the text: the first and last characters
            # bound the span.
            new_starts += [starts[a]] * len(replacement)
            new_ends += [ends[b - 1]] * len(replacement)
            new_made += b"\x01" * len(replacement)
            last = b
        if pieces:
            current = "".join(pieces) + current[last:]
            starts = new_starts + starts[last:]
            ends = new_ends + ends[last:]
            made = new_made + made[last:]
    spans = []
    i = made.find(1)
    while i != -1:
        j = i + 1
        while j < len(current) and made[j] and starts[j] == starts[i]:
            j += 1
        spans.append((starts[i], ends[i], current[i:j]))
        i = made.find(1, j)
    return spans


def _path_segments(text: str) -> tuple[list[str], bool]:
    """The segments of a decoded path with dot segments resolved (RFC 3986, 5.2.4), and
    whether the path ends in a directory (``/a/b/``, ``/a/b/.``)."""
    segments: list[str] = []
    last = ""
    for segment in _SEGMENT_SPLIT_RE.split(text):
        last = segment
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in (".", ""):
            segments.append(segment)
    return segments, last in ("", ".", "..")


def _segment_key(segment: str) -> str:
    """A path segment as patterns compare it: skeleton, no parameters, case folded."""
    hidden = _skeleton(segment)
    text = segment if hidden is None else hidden.text
    return text.split(";", 1)[0].strip().casefold()


def _always(placeholder: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: placeholder


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    start = match.start()
    if start and (match.string[start - 1].isalnum() or match.string[start - 1] == "_"):
        # Inside a word, "::" followed by one group is a namespace ("crm::42").
        groups = candidate.split("%", 1)[0].split(":")
        if sum(1 for group in groups if group) < 2:
            return candidate
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
    if _case_noise(signature) or (_mixes(signature) and not _reads_as_words(signature)):
        return TOKEN
    return text


_UPPER_PAIR_RE: Final = re.compile(r"[A-Z]{2,}")


def _case_noise(text: str) -> bool:
    """True when ``text`` reads as base64 of random bytes though it holds no digit (1 in
    100 itsdangerous signatures): it switches case at least 6 times, and holds at least
    two runs of capitals, which CamelCase words ("AVeryLongPageName") rarely do."""
    switches, previous = 0, None
    for ch in text:
        upper = ch.isupper() if ch.isalpha() else None
        if upper is not None:
            if previous is not None and upper != previous:
                switches += 1
            previous = upper
    return switches >= 6 and len(_UPPER_PAIR_RE.findall(text)) >= 2


def _run_token(match: re.Match[str]) -> str:
    run = match.group(0)
    return run if not _mixes(run) or _reads_as_words(run) else TOKEN


def reads_as_word(piece: str) -> bool:
    """Tell whether ``piece``, letters and digits with no separator, reads as a word.

    Readable pieces are:

    - a word, in one case (``spring``, ``DE``, ``été``) or CamelCase, each capital starting
      a run of small letters (``Friday``, ``EarlyAccess``, ``iPhone``, ``LinkedIn``);
    - a number of at most 4 digits (``2026``, ``06``);
    - a word of two or more letters and a year (``december2026``, ``bf2026``);
    - a letter and one or two digits (``v2``, ``q4``, ``s10``), two letters in one case
      and a digit (``mp3``), a year, ``q``, ``h`` or ``w`` and a number (``2026q4``);
    - an ordinal (``1st``, ``22nd``), a number of up to 3 digits and a letter (``4k``,
      ``10x``), a digit and two letters (``2fa``), ``b2b`` and ``4x4``.

    No other piece mixes letters and digits. The shapes are narrow on purpose: random ids
    (``8f14e45f``, ``Xk9pQ2mN``, a licence key's ``U2XF``) almost never take them, where a
    looser rule such as "letters, then digits" would let many through.

    :param piece: a run of letters and digits (any script).
    :returns: whether it reads as described; ``False`` for an empty piece or one holding
        anything but letters and digits.
    """
    chunks = _CHUNK_RE.findall(piece)
    if not chunks or sum(map(len, chunks)) != len(piece):
        return False
    shape = "".join("n" if chunk[0].isdigit() else "w" for chunk in chunks)
    words = [chunk for chunk in chunks if not chunk[0].isdigit()]
    if not all(map(_one_word, words)):
        return False
    if shape == "w":
        return True
    if shape == "n":
        return len(piece) <= 4
    if shape == "wn":
        word, number = chunks
        if len(word) >= 2 and _YEAR_RE.fullmatch(number):
            return True
        return (len(word) == 1 and len(number) <= 2) or (len(word) == 2 == len(piece) - 1)
    if shape == "nw":
        number, word = chunks
        if word.lower() in _ORDINALS:
            return len(number) <= 4
        return (len(word) == 1 and len(number) <= 3) or (len(word) == 2 and len(number) == 1)
    if shape == "nwn":
        first, letter, last = chunks
        if len(letter) != 1:
            return False
        if _YEAR_RE.fullmatch(first) and letter.lower() in "qhw":
            return len(last) <= 2
        return len(first) == 1 == len(last)
    if shape == "wnw":
        return len(piece) == 3
    return False


def _one_word(letters: str) -> bool:
    """True when ``letters`` is in one case, or CamelCase: every capital followed by a
    small letter, and by two or more but once (``EarlyAccess``, ``iPhone``, ``LinkedIn``),
    where random letters keep putting single small letters between capitals
    (``aNvGpCai``). Scripts without case pass."""
    if letters.islower() or letters.isupper():
        return True
    short = 0
    for i, char in enumerate(letters):
        if char.isupper():
            following = letters[i + 1:i + 3]
            if not following[:1].islower():
                return False
            if len(following) < 2 or not following.islower():
                short += 1
    return short <= 1


def _reads_as_words(run: str) -> bool:
    """True when, dates set aside, every piece of ``run`` between ``-`` and ``_`` reads as
    a word (:func:`reads_as_word`) and letters outnumber digits: ``newsletter-december2026``,
    ``2026-12-06-weekly`` and ``product-update-v2-3-1`` read as names; a licence key
    ``ABCD-1234-EFGH-5678`` does not."""
    letters = digits = 0
    for piece in _PIECE_SPLIT_RE.split(_DATE_RE.sub("_", run)):
        if not piece:
            continue
        if not reads_as_word(piece):
            return False
        count = sum(ch.isdigit() for ch in piece)
        digits += count
        letters += len(piece) - count
    return letters > digits


# Order matters: an email or a UUID holds digits the number rule would take, an IPv4
# address can reach 12 digits, and a JWT's parts are themselves long tokens.
_PASSES: Final = (
    _Pass("@", _EMAIL_RE, _always(EMAIL), EMAIL),
    _Pass("-", _UUID_RE, _always(TOKEN), TOKEN),
    _Pass(".", _JWT_RE, _always(TOKEN), TOKEN),
    _Pass(".", _DOTTED_RE, _dotted_token, TOKEN),
    _Pass(":", _IPV6_RE, _ipv6, IP),
    _Pass(".", _IPV4_RE, _always(IP), IP),
    _Pass("", _RUN_RE, _run_token, TOKEN),
    _Pass("", _NUM_RE, _always(NUM), NUM),
)
# What identifying_kinds() looks for: the passes without the token rules.
_DETECT_PASSES: Final = tuple(p for p in _PASSES if p.placeholder != TOKEN)
