"""Bounces and complaints: which recipients not to mail again, read from the reports
mail systems send back.

Two standard reports are read, from an mbox file, a folder of ``.eml`` files or one
``.eml`` file, with nothing but the standard library's :mod:`email` and :mod:`mailbox`:

- **delivery status notifications** (RFC 3464, ``multipart/report;
  report-type=delivery-status``). ``Action: failed`` with a ``5.x.x`` ``Status`` is a
  *hard* bounce (the address does not work); ``Action: delayed``, or ``failed`` with a
  ``4.x.x`` status (a mailbox full for days) or none, is a *soft* one. ``delivered``,
  ``relayed`` and ``expanded`` are no bounce at all.
- **abuse feedback reports** (ARF, RFC 5965, ``multipart/report;
  report-type=feedback-report``). ``Feedback-Type: abuse`` (the recipient pressed "this is
  spam") and ``fraud`` (they reported it as phishing) are complaints, always hard: the
  person asked, in effect, never to get this mail again. ``virus`` is a scanner's verdict
  on the mail, ``auth-failure`` a receiver's note on SPF or DKIM, ``not-spam`` the
  opposite of a complaint, ``other`` says nothing: none of them is the recipient's wish,
  so they are counted as other reports and suppress no one.

Everything else in the mailbox (replies, auto-replies, bounces in no standard format) is
counted and skipped; a message too broken to read is counted as unreadable, never raised.

A report is mapped to the person it concerns **through what the SDK put in the original
mail**, which reports return whole (``message/rfc822``) or as headers
(``text/rfc822-headers``): the unsubscribe token in its ``List-Unsubscribe`` header
(:meth:`sdk.mail.Mailer.prepare`) names campaign, list and recipient pseudonym. Without
one, the open and click tokens in a returned body (``/o/<token>.gif``, ``/c/<token>``)
serve, but they name the recipient only for mails sent in individual mode. Tokens are
verified with ``TOKEN_KEYS``, open and click tokens as of the report's ``Date`` (they
expire after 400 days). A report whose mail carries no token that verifies, or names no
recipient, is counted as unmapped.

The bounced address itself is never returned or kept: a report's ``Final-Recipient``
serves only to tell, when a report lists several recipients, which one the original mail
was addressed to (its ``To`` and ``Cc``); when that cannot be told, the report is
unmapped.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from sdk.errors import CleargifError, InvalidToken
from sdk.pseudonym import check_recipient
from sdk.tokens import TokenCodec

__all__ = [
    "COMPLAINT_TYPES",
    "Finding",
    "MailboxError",
    "Reports",
    "Skip",
    "Source",
    "Summary",
    "read_message",
    "read_reports",
]

#: ARF feedback types that are complaints (see the module documentation).
COMPLAINT_TYPES: Final = frozenset({"abuse", "fraud"})

#: Why a message yielded no finding: not mapped to a recipient, a report that is no
#: bounce or complaint, no report at all, or too broken to read.
Skip = Literal["unmapped", "other report", "not a report", "unreadable"]

#: Called as ``progress(done, total)``: before the first message (``done`` 0) and after
#: each one.
Progress = Callable[[int, int], None]

_DSN_TYPES: Final = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ARF_TYPE: Final = "message/feedback-report"
_ORIGINAL_TYPES: Final = frozenset({
    "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
    "message/global-headers",
})
_BOUNCE_ACTIONS: Final = frozenset({"failed", "delayed"})
_STATUS_RE: Final = re.compile(r"\s*([245])\.\d{1,3}\.\d{1,3}(?!\d)")
_URI_RE: Final = re.compile(r"<([^>]*)>")
_UNSUBSCRIBE_PATH_RE: Final = re.compile(r"/u/([A-Za-z0-9_.\-]+)\Z")
# Itsdangerous tokens: "payload.timestamp.signature", a leading "." when compressed.
_TOKEN: Final = r"\.?[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+"
_OPEN_RE: Final = re.compile(rf"/o/({_TOKEN})\.gif(?![A-Za-z0-9_.\-])")
_CLICK_RE: Final = re.compile(rf"/c/({_TOKEN})(?![A-Za-z0-9_.\-])")
_BLOCK_SPLIT_RE: Final = re.compile(r"\r?\n[ \t]*\r?\n")
_PARSER: Final = BytesParser(policy=policy.default)


class MailboxError(CleargifError, ValueError):
    """The mailbox cannot be read at all; the message says how to fix it."""


@dataclass(frozen=True)
class Source:
    """Where a report was found.

    :param file: the file's name (the mbox file, or the ``.eml`` file in a folder).
    :param number: the message's position in that file, from 1.
    """

    file: str
    number: int

    def __str__(self) -> str:
        return f"{self.file}, message {self.number}"


@dataclass(frozen=True)
class Finding:
    """A bounce or complaint, mapped to the recipient it concerns.

    :param reason: ``"bounce"`` or ``"complaint"``.
    :param hard: a hard bounce (the address does not work) or a complaint: suppress the
        recipient now. A soft bounce is false: it may pass, try again later.
    :param recipient: the recipient pseudonym of the original mail, never an address.
    :param list: the list (audience) the original mail went to.
    :param campaign: the campaign of the original mail.
    :param source: where the report was found.
    :param status: the DSN status code (``"5.1.1"``; empty when the report had none), or
        the ARF feedback type (``"abuse"``).
    """

    reason: Literal["bounce", "complaint"]
    hard: bool
    recipient: str
    list: str
    campaign: str
    source: Source
    status: str


@dataclass
class Summary:
    """What a mailbox held, counted by :class:`Reports` as it reads."""

    #: Messages read, whatever they were.
    messages: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    #: Bounces and complaints about no mail of ours: no token in the returned mail
    #: verifies, or it names no recipient, or several recipients bounced and which one
    #: was ours cannot be told.
    unmapped: int = 0
    #: Reports that are no bounce or complaint: delivery successes, ARF ``not-spam``,
    #: ``virus``, ``auth-failure`` and ``other``, and other report types.
    other_reports: int = 0
    #: Ordinary mail in the mailbox: replies, auto-replies, non-standard bounces.
    not_reports: int = 0
    #: Messages too broken to read.
    unreadable: int = 0

    @property
    def findings(self) -> int:
        """Bounces and complaints mapped to a recipient."""
        return self.hard_bounces + self.soft_bounces + self.complaints

    def count(self, outcome: Finding | Skip) -> None:
        """Count one message's outcome."""
        self.messages += 1
        if isinstance(outcome, Finding):
            if outcome.reason == "complaint":
                self.complaints += 1
            elif outcome.hard:
                self.hard_bounces += 1
            else:
                self.soft_bounces += 1
        elif outcome == "unmapped":
            self.unmapped += 1
        elif outcome == "other report":
            self.other_reports += 1
        elif outcome == "not a report":
            self.not_reports += 1
        else:
            self.unreadable += 1


@dataclass
class Reports(Iterable[Finding]):
    """The findings of one mailbox, read as they are iterated (see :func:`read_reports`).

    Each iteration reads the mailbox from the start and fills :attr:`summary` afresh;
    it is complete once the iteration ends.
    """

    path: Path
    codec: TokenCodec = field(repr=False)
    progress: Progress | None = field(default=None, repr=False)
    summary: Summary = field(default_factory=Summary)

    def __iter__(self) -> Iterator[Finding]:
        self.summary = Summary()
        total, messages = _open(self.path)
        if self.progress is not None:
            self.progress(0, total)
        for done, (source, raw) in enumerate(messages, start=1):
            outcome = read_message(raw, self.codec, source)
            self.summary.count(outcome)
            if self.progress is not None:
                self.progress(done, total)
            if isinstance(outcome, Finding):
                yield outcome


def read_reports(
    path: str | Path, codec: TokenCodec, *, progress: Progress | None = None
) -> Reports:
    """Read the bounces and complaints in a mailbox (see the module documentation).

    The path is checked now; messages are read as the result is iterated, one at a time,
    and the mailbox is never written::

        reports = read_reports("bounces.mbox", TokenCodec(token_keys))
        for finding in reports:
            ...
        print(reports.summary)

    :param path: an mbox file, a folder of ``.eml`` files (not its subfolders), or one
        ``.eml`` file.
    :param codec: the codec of ``TOKEN_KEYS``, to verify the tokens of original mails.
    :param progress: called as ``progress(done, total)`` for a progress bar.
    :raises MailboxError: the path does not exist, cannot be read, is a folder with no
        ``.eml`` file, or a file that is neither an mbox file nor an ``.eml`` file.
    """
    where = Path(path)
    _check(where)
    return Reports(where, codec, progress)


def read_message(raw: bytes, codec: TokenCodec, source: Source) -> Finding | Skip:
    """Judge one message: a :class:`Finding`, or why it yields none.

    :param raw: the message as it was received, headers and body.
    :param codec: the codec of ``TOKEN_KEYS``.
    :param source: where the message was found, for the finding.
    """
    try:
        message = _PARSER.parsebytes(raw)
        return _judge(message, codec, source)
    except Exception:
        # The email package raises many kinds of errors on broken input, deep inside
        # header and content parsing; one bad message must not stop an import, and a
        # traceback could carry its addresses into a log.
        return "unreadable"


# -- judging one message -------------------------------------------------------------------


def _judge(message: Message, codec: TokenCodec, source: Source) -> Finding | Skip:
    if message.get_content_type() != "multipart/report":
        return "not a report"
    payload = message.get_payload()
    parts = [part for part in payload if isinstance(part, Message)] \
        if isinstance(payload, list) else []
    types = {part.get_content_type() for part in parts}
    report_type = str(message.get_param("report-type") or "").lower()
    if report_type == "delivery-status" or types & _DSN_TYPES:
        return _judge_dsn(message, parts, codec, source)
    if report_type == "feedback-report" or _ARF_TYPE in types:
        return _judge_arf(message, parts, codec, source)
    if not parts:
        return "unreadable"  # a report whose parts cannot be found (no boundary)
    return "other report"  # read receipts (RFC 8098), TLS reports and the like


def _judge_dsn(message: Message, parts: list[Message], codec: TokenCodec,
               source: Source) -> Finding | Skip:
    status_part = next((p for p in parts if p.get_content_type() in _DSN_TYPES), None)
    if status_part is None:
        return "unreadable"
    recipients = [block for block in _field_blocks(status_part)
                  if "Action" in block or "Final-Recipient" in block]
    if not recipients:
        return "unreadable"
    if not any(_field(block, "Action").lower() in _BOUNCE_ACTIONS for block in recipients):
        return "other report"
    original = _original(parts)
    block = _concerning(recipients, original)
    if block is None:
        return "unmapped"
    action = _field(block, "Action").lower()
    if action not in _BOUNCE_ACTIONS:
        return "other report"  # others bounced; the mail reached its own addressee
    mapped = _mapping(original, codec, _report_time(message))
    if mapped is None:
        return "unmapped"
    status = _STATUS_RE.match(_field(block, "Status"))
    code = status.group(0).strip() if status else ""
    hard = action == "failed" and code.startswith("5")
    campaign, list_, recipient = mapped
    return Finding("bounce", hard, recipient, list_, campaign, source, code)


def _judge_arf(message: Message, parts: list[Message], codec: TokenCodec,
               source: Source) -> Finding | Skip:
    report = next((p for p in parts if p.get_content_type() == _ARF_TYPE), None)
    blocks = _field_blocks(report) if report is not None else []
    if not blocks:
        return "unreadable"
    feedback_type = _field(blocks[0], "Feedback-Type").lower()
    if feedback_type not in COMPLAINT_TYPES:
        return "other report"
    mapped = _mapping(_original(parts), codec, _report_time(message))
    if mapped is None:
        return "unmapped"
    campaign, list_, recipient = mapped
    return Finding("complaint", True, recipient, list_, campaign, source, feedback_type)


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a ``message/delivery-status`` or ``feedback-report`` part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Parsed as text: an encoded part, or a type the email package does not split.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return [_PARSER.parsebytes(block.encode("utf-8"), headersonly=True)
            for block in _BLOCK_SPLIT_RE.split(text.strip()) if block.strip()]


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return "" if value is None else " ".join(str(value).split())


def _original(parts: list[Message]) -> Message | None:
    """The returned original mail, whole or its headers only."""
    part = next((p for p in parts if p.get_content_type() in _ORIGINAL_TYPES), None)
    if part is None:
        return None
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload[0] if payload and isinstance(payload[0], Message) else None
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return None
    return _PARSER.parsebytes(raw, headersonly=True)


def _concerning(blocks: list[Message], original: Message | None) -> Message | None:
    """The recipient block of the report that concerns the original mail's addressee:
    the only one, or the one whose address the mail was addressed to; ``None`` when that
    cannot be told.

    The addresses are compared here and go nowhere else.
    """
    if len(blocks) == 1:
        return blocks[0]
    if original is None:
        return None
    headers = [str(value) for name in ("To", "Cc") for value in original.get_all(name, [])]
    addressed = {address.lower() for _, address in getaddresses(headers) if address}
    matching = [block for block in blocks if _block_addresses(block) & addressed]
    return matching[0] if len(matching) == 1 else None


def _block_addresses(block: Message) -> set[str]:
    found = set()
    for name in ("Final-Recipient", "Original-Recipient"):
        value = _field(block, name)
        address = value.split(";", 1)[-1].strip().strip("<>").lower()
        if address:
            found.add(address)
    return found


def _report_time(message: Message) -> float | None:
    """When the report was written, to check open and click tokens against."""
    try:
        return parsedate_to_datetime(str(message["Date"])).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None


# -- mapping to a recipient ----------------------------------------------------------------


def _mapping(original: Message | None, codec: TokenCodec,
             report_time: float | None) -> tuple[str, str, str] | None:
    """(campaign, list, recipient) of the original mail, from its tokens, or ``None``."""
    if original is None:
        return None
    return _from_unsubscribe(original, codec) or _from_body(original, codec, report_time)


def _from_unsubscribe(original: Message, codec: TokenCodec) -> tuple[str, str, str] | None:
    for value in original.get_all("List-Unsubscribe", []):
        for uri in _URI_RE.findall(str(value)):
            # A relay may have folded the header inside a URL.
            url = "".join(uri.split())
            if not url.lower().startswith(("https://", "http://")):
                continue
            try:
                token = _UNSUBSCRIBE_PATH_RE.search(urlsplit(url).path)
            except ValueError:  # a mangled host ("https://[x/u/…")
                continue
            if token is None:
                continue
            try:
                found = codec.load_unsubscribe(token.group(1))
            except InvalidToken:
                continue
            recipient = _storable(found.recipient)
            if recipient is not None:
                return found.campaign, found.list, recipient
    return None


def _from_body(original: Message, codec: TokenCodec,
               report_time: float | None) -> tuple[str, str, str] | None:
    """The one recipient named by the open and click tokens of the returned body."""
    named: set[tuple[str, str, str]] = set()
    for part in original.walk():
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        text = _text(part)
        for match in _OPEN_RE.finditer(text):
            try:
                opened = codec.load_open(match.group(1), now=report_time)
            except InvalidToken:
                continue
            if opened.recipient is not None:
                named.add((opened.campaign, opened.list, opened.recipient))
        for match in _CLICK_RE.finditer(text):
            try:
                clicked = codec.load_click(match.group(1), now=report_time)
            except InvalidToken:
                continue
            if clicked.recipient is not None:
                named.add((clicked.campaign, clicked.list, clicked.recipient))
    return named.pop() if len(named) == 1 else None


def _text(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:  # a charset Python does not know; tokens are ASCII anyway
        return raw.decode("ascii", "replace")


def _storable(recipient: str | None) -> str | None:
    """The recipient id, unless it looks like personal data (a token made by other code
    may carry an address): a suppression is then not worth storing it."""
    if recipient is None:
        return None
    try:
        return check_recipient(recipient)
    except CleargifError:
        return None


# -- opening the mailbox -------------------------------------------------------------------


def _check(path: Path) -> None:
    """Refuse, with a sentence saying how to fix it, a path that cannot be read."""
    try:
        if not path.exists():
            raise MailboxError(
                f"The mailbox {path} does not exist; give the path of an mbox file, of a"
                " folder of .eml files, or of one .eml file."
            )
        if path.is_dir():
            if not _eml_files(path):
                raise MailboxError(
                    f"The folder {path} holds no .eml files; save the bounces and complaints"
                    " into it as .eml files (one message each), or give an mbox file."
                )
        elif path.is_file():
            if path.suffix.lower() != ".eml":
                with path.open("rb") as file:
                    start = file.read(5)
                if start and start != b"From ":
                    raise MailboxError(
                        f"The file {path} is not an mbox file: it does not start with a"
                        " 'From ' line. Give an mbox file, a folder of .eml files, or name"
                        " a single message with the .eml extension."
                    )
        else:
            raise MailboxError(
                f"The mailbox {path} is neither a file nor a folder; give the path of an mbox"
                " file or of a folder of .eml files."
            )
    except PermissionError:
        raise MailboxError(
            f"The mailbox {path} cannot be read (permission denied); make it readable by the"
            " user running this command."
        ) from None
    except OSError as exc:
        raise MailboxError(
            f"The mailbox {path} cannot be read ({exc.strerror or 'input/output error'});"
            " check the path and the disk, then try again."
        ) from None


def _eml_files(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir()
                  if entry.suffix.lower() == ".eml" and entry.is_file())


def _open(path: Path) -> tuple[int, Iterator[tuple[Source, bytes]]]:
    """The number of messages at ``path`` and an iterator over them."""
    _check(path)
    try:
        if path.is_dir():
            files = _eml_files(path)
            return len(files), ((Source(file.name, 1), _read(file)) for file in files)
        if path.suffix.lower() == ".eml":
            return 1, iter([(Source(path.name, 1), _read(path))])
        box = mailbox.mbox(path, create=False)
        keys = box.keys()
    except OSError as exc:
        raise MailboxError(
            f"The mailbox {path} cannot be read ({exc.strerror or 'input/output error'});"
            " check the path and the disk, then try again."
        ) from None
    return len(keys), _mbox_messages(box, keys, path.name)


def _mbox_messages(box: mailbox.mbox, keys: list[str],
                   name: str) -> Iterator[tuple[Source, bytes]]:
    try:
        for number, key in enumerate(keys, start=1):
            yield Source(name, number), box.get_bytes(key)
    finally:
        box.close()


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise MailboxError(
            f"The message {file} cannot be read ({exc.strerror or 'input/output error'});"
            " make it readable, or move it out of the folder."
        ) from None
