"""Campaign, list and link names: readable, and never a way to single out a person.

Campaign, list and link ids travel in every open and click token and are stored with
every open and click (DESIGN 1.1 and 5); the collector's API takes campaign names from
senders' systems too. :func:`campaign_name_problem` is the one rule for all of them:
:class:`~sdk.tokens.TokenCodec` refuses to sign a token field it finds a problem in, and
the collector's API answers such a name with a 400 and the same sentence.

Accepted: words in any script and case, numbers of up to 8 digits, dates, versions and
the short codes campaigns are named with, joined by any punctuation or spaces::

    newsletter-december2026   bf2026-early-access   2026-12-06-weekly
    product-update-v2-3-1     de-DE-spring           Q4 2026 webinar (variant B)

Refused, with a sentence saying why and how to fix it:

- what identifies a person: an email address, also disguised (``jane%40example.com``,
  ``jane﹫example.com``, ``jane(at)example.com``, ``jane-at-example-dot-com``), an IP
  address, 9 or more digits counted across separators (phone, card and account numbers);
- opaque ids, which may well be a person's: UUIDs, signed tokens and JWTs, hex and
  base64 strings (a mail service's 10-hex subscriber id, a hash), any piece that mixes
  letters and digits in a way no word does (see :func:`sdk.scrub.reads_as_word`), and
  runs of 12 or more letters switching case at random (a pseudonym);
- what the collector would not store as written (:func:`sdk.scrub.scrub_text`): percent
  escapes, surrounding spaces, invisible or compatibility characters.

A name accepted here is stored unchanged by the collector: the rule ends by asking the
collector's scrubber itself. It is stricter than the scrubber, which only sees runs of
16 or more characters: ``nl-b03bfc3ed7`` is stored as it is, but refused here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import unquote

from .pseudonym import identifying_shape
from .scrub import EMAIL, IP, NUM, TOKEN, reads_as_word, scrub_text

__all__ = ["MAX_NAME_LENGTH", "campaign_name_problem", "check_campaign_name"]

#: Longest campaign, list or link id, in characters.
MAX_NAME_LENGTH: Final = 128

_SHAPE_TEXT: Final = {
    "email": "looks like it holds an email address",
    "ip": "looks like it holds an IP address",
    "digits": "holds a run of 9 or more digits, which may be a phone, card or account number",
}
_IDENTIFYING_FIX: Final = (
    "; campaign, list and link ids are stored with every open and click, and the event"
    " store must hold no personal data. Use a plain name such as 'spring-2026', and keep"
    " who the mail went to in the recipient pseudonym"
)
_TOKEN_LIKE: Final = (
    "looks like a token or random id (a UUID, a signed value, or 16 or more letters and"
    " digits mixed), which the collector stores as ':token'; use a readable name such as"
    " 'spring-2026'"
)
_RANDOM_CODE: Final = (
    "holds a code that mixes letters and digits as no word does (such as a hex or base64"
    " id), which may single out a person; write words and numbers apart, as in"
    " 'spring-2026', 'bf2026' or 'v2-3-1'"
)
_RANDOM_LETTERS: Final = (
    "holds a run of letters that switches case at random (such as a recipient pseudonym),"
    " which may single out a person; use a readable name such as 'spring-2026', and keep"
    " who the mail went to in the recipient pseudonym"
)

# Pieces of a name: runs of letters and digits, in any script; and runs of pieces joined
# by "-" and "_", as ids are.
_PIECE_RE: Final = re.compile(r"[^\W_]+")
_RUN_RE: Final = re.compile(r"[\w\-]+")
# Letters that are no word are judged by their case from this many on; fewer are too few
# to tell a code from a brand name ("LinkedIn").
_MIN_RANDOM_LETTERS: Final = 12
_MIN_CASE_SWITCHES: Final = 4
# An address written out: "(at)", "[dot]", "-at-", "-dot-" and the like.
_BRACKETED_AT: Final = re.compile(r"[^\W_]\s*[\[({<]\s*at\s*[\])}>]\s*[^\W_]")
_BRACKETED_DOT: Final = re.compile(r"[\[({<]\s*dot\s*[\])}>]")
_SPELLED_WORDS: Final = re.compile(r"[^\W_]+|\.")
_TLD: Final = re.compile(r"[^\W\d_]{2,6}")


def campaign_name_problem(value: object, field: str = "campaign") -> str | None:
    """Say why ``value`` may not be a campaign, list or link id, or return ``None``.

    The rule is described in the module documentation. It is pure and cheap (a name has
    at most :data:`MAX_NAME_LENGTH` characters), so the collector's API can answer with
    it as it is.

    :param value: the proposed name; anything, so that a JSON body can be checked as sent.
    :param field: what the name is, as the sentence should call it: ``"campaign"``,
        ``"list"``, ``"link id"``.
    :returns: a sentence starting with ``"The <field> "`` that says what is wrong and how
        to fix it, or ``None`` when the name is acceptable. It never quotes the value,
        which may be the personal data.
    """
    problem = _shape_problem(value)
    if problem is None and isinstance(value, str):
        problem = (_identifying_problem(value) or _form_problem(value)
                   or _scrub_problem(value) or _opaque_problem(value))
    return None if problem is None else f"The {field} {problem}."


def check_campaign_name(value: str, field: str = "campaign") -> str:
    """Return ``value`` unchanged if it may be a campaign, list or link id.

    :param field: as for :func:`campaign_name_problem`.
    :raises ValueError: with the sentence of :func:`campaign_name_problem`.
    """
    problem = campaign_name_problem(value, field)
    if problem is not None:
        raise ValueError(problem)
    return value


def _identifying_problem(value: str) -> str | None:
    """Personal data in the name, as the collector's scrubber finds it, or written out."""
    shape = identifying_shape(value) or ("email" if _spelled_email(value) else None)
    return None if shape is None else _SHAPE_TEXT[shape] + _IDENTIFYING_FIX


def _shape_problem(value: object) -> str | None:
    """What keeps ``value`` from being a token field at all (also checked when a token
    is loaded), as the end of a sentence, or ``None``."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters; shorten it"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return "contains control characters; remove them"
    return None


def _form_problem(value: str) -> str | None:
    """Writing the collector would change before its scrubber even looks."""
    if value != value.strip():
        return "starts or ends with whitespace; remove it"
    if any(unicodedata.category(char)[0] == "C" for char in value):
        return "contains invisible formatting characters; remove them"
    if unicodedata.normalize("NFKC", value) != value:
        return ("contains compatibility characters (such as full-width letters or"
                " ligatures); write them in their plain form")
    if unquote(value, errors="replace") != value:
        return "contains percent-escapes; write the characters themselves"
    return None


def _scrub_problem(value: str) -> str | None:
    """Why the collector's scrubber would not store ``value`` as it is."""
    scrubbed = scrub_text(value, max_len=MAX_NAME_LENGTH)
    if scrubbed == value:
        return None
    if scrubbed.count(TOKEN) > value.count(TOKEN):
        return _TOKEN_LIKE
    # identifying_shape() finds these first, with the same patterns; asked again so that
    # the two can never drift apart unnoticed.
    for placeholder, shape in ((EMAIL, "email"), (IP, "ip"), (NUM, "digits")):
        if scrubbed.count(placeholder) > value.count(placeholder):
            return _SHAPE_TEXT[shape] + _IDENTIFYING_FIX
    return "would not be stored as written; use a plain name such as 'spring-2026'"


def _opaque_problem(value: str) -> str | None:
    """Codes the scrubber lets through because they are short, refused all the same."""
    for run in _RUN_RE.findall(value):
        random_letters = switches = 0
        for piece in _PIECE_RE.findall(run):
            if reads_as_word(piece) or piece.isdigit():
                continue
            if any(char.isdigit() for char in piece):
                return _RANDOM_CODE
            # Letters that are no word, summed over a run: base64 split by its own "-" and
            # "_" ("KqTnz_EMusVfz_HmvxXHxg") shows in no single piece.
            random_letters += len(piece)
            switches += _case_switches(piece)
        if random_letters >= _MIN_RANDOM_LETTERS and switches >= _MIN_CASE_SWITCHES:
            return _RANDOM_LETTERS
    return None


def _case_switches(letters: str) -> int:
    switches, previous = 0, None
    for char in letters:
        upper = char.isupper() if char.islower() or char.isupper() else None
        if upper is not None:
            if previous is not None and upper != previous:
                switches += 1
            previous = upper
    return switches


def _spelled_email(value: str) -> bool:
    """True when ``value`` writes out an address: ``jane(at)example.com``, ``jane at
    example dot com``, ``jane-at-example-dot-com``.

    A bracketed "at" between two words is enough; a bare one needs a domain after it,
    down to a top-level domain of 2 to 6 letters, so "meet-at-berlin-2026" passes.
    """
    folded = value.casefold()
    if _BRACKETED_AT.search(folded):
        return True
    words = _SPELLED_WORDS.findall(_BRACKETED_DOT.sub(" dot ", folded))
    for at, word in enumerate(words):
        if word != "at" or at == 0 or words[at - 1] == ".":
            continue
        position = at + 1
        while position + 2 < len(words) and words[position] not in (".", "dot"):
            separator, part = words[position + 1], words[position + 2]
            if separator not in (".", "dot") or part in (".", "dot"):
                break
            if _TLD.fullmatch(part):
                return True
            position += 2
    return False
