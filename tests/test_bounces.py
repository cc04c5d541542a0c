"""Bounces and complaints (collector.mail.bounces): RFC 3464 delivery status notifications
and RFC 5965 abuse reports, mapped to recipients through the tokens of the original mail."""

from __future__ import annotations

import mailbox
import os
import random
from dataclasses import asdict
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from collector.mail.bounces import (
    Finding,
    MailboxError,
    Source,
    Summary,
    read_message,
    read_reports,
)
from sdk.mail import Mailer
from sdk.pseudonym import pseudonym
from sdk.tokens import TokenCodec
from tests.conftest import TOKEN

DATA = Path(__file__).parent / "data" / "mail"
BASE = "https://stats.example.com"
SENDER_KEY = "test-sender-pseudonym-key-0123456789"
SENT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SOURCE = Source("sample.eml", 1)


def who(account: str) -> str:
    """The recipient pseudonym the samples' mails were sent to."""
    return pseudonym(account, SENDER_KEY)


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec([TOKEN])


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def edited(name: str, *changes: tuple[str, str]) -> bytes:
    """A sample with some text replaced, each replacement made exactly once."""
    text = sample(name).decode("ascii")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode("ascii")


# (sample, expected finding as (reason, hard, status, account, campaign), or why none)
SAMPLES = [
    ("dsn-several-recipients.eml",
     ("bounce", True, "5.1.1", "account-1001", "newsletter-december2026")),
    ("dsn-mailbox-full.eml",
     ("bounce", False, "4.2.2", "account-1002", "newsletter-december2026")),
    ("dsn-gave-up.eml", ("bounce", False, "4.0.0", "account-1003", "2026-12-06-weekly")),
    ("arf-abuse.eml", ("complaint", True, "abuse", "account-1004", "bf2026-early-access")),
    ("dsn-not-ours.eml", "unmapped"),
    ("ordinary-reply.eml", "not a report"),
    ("malformed-report.eml", "unreadable"),
]


def expected_finding(expected: tuple[str, bool, str, str, str], source: Source) -> Finding:
    reason, hard, status, account, campaign = expected
    return Finding(reason, hard, who(account), "news", campaign, source, status)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "expected"), SAMPLES)
def test_each_sample_is_read(codec: TokenCodec, name: str, expected: Any) -> None:
    outcome = read_message(sample(name), codec, SOURCE)
    if isinstance(expected, str):
        assert outcome == expected
    else:
        assert outcome == expected_finding(expected, SOURCE)


@pytest.mark.parametrize(
    ("name", "account", "campaign"),
    [
        ("dsn-several-recipients.eml", "account-1001", "newsletter-december2026"),
        ("dsn-mailbox-full.eml", "account-1002", "newsletter-december2026"),
        ("arf-abuse.eml", "account-1004", "bf2026-early-access"),
    ],
)
def test_samples_hold_what_a_mailer_makes(name: str, account: str, campaign: str) -> None:
    """The List-Unsubscribe of each sample is the one a Mailer makes with the test key."""
    mailer = Mailer(BASE, [TOKEN])
    headers = mailer.unsubscribe_headers(
        campaign, "news", recipient=who(account), mailto="unsubscribe@shop.example.com",
        sent_at=SENT,
    )
    url = headers["List-Unsubscribe"].split(">", 1)[0] + ">"
    assert f"List-Unsubscribe: {url}," in sample(name).decode("ascii")


# Variants of the samples: (name, what is changed, expected outcome).
VARIANTS = [
    # Of several recipients, the one the original mail was addressed to decides.
    ("dsn-several-recipients.eml",
     [("To: wsnell@sdcc13.example.edu", "To: johnh@hpnjld.example.net")],
     ("bounce", False, "4.0.0", "account-1001", "newsletter-december2026")),
    ("dsn-several-recipients.eml",
     [("To: wsnell@sdcc13.example.edu", "To: Arathi B <ARATHIB@vnet.example.com>")],
     ("bounce", True, "5.0.0", "account-1001", "newsletter-december2026")),
    ("dsn-several-recipients.eml",
     [("To: wsnell@sdcc13.example.edu", "Cc: wsnell@sdcc13.example.edu")],
     ("bounce", True, "5.1.1", "account-1001", "newsletter-december2026")),
    ("dsn-several-recipients.eml",
     [("To: wsnell@sdcc13.example.edu", "To: someone.else@example.org")], "unmapped"),
    ("dsn-several-recipients.eml", [("To: wsnell@sdcc13.example.edu\n", "")], "unmapped"),
    # Others bounced, but the mail reached the recipient it was addressed to.
    ("dsn-several-recipients.eml", [("Action: failed\nStatus: 5.1.1",
                                     "Action: delivered\nStatus: 2.0.0")], "other report"),
    # Hard needs "failed" and a 5.x.x status; anything less may pass.
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: failed")],
     ("bounce", False, "4.2.2", "account-1002", "newsletter-december2026")),
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: failed"),
                              ("Status: 4.2.2", "Status: 5.2.2 (mailbox full for good)")],
     ("bounce", True, "5.2.2", "account-1002", "newsletter-december2026")),
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: failed"), ("Status: 4.2.2\n", "")],
     ("bounce", False, "", "account-1002", "newsletter-december2026")),
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: FAILED"),
                              ("Status: 4.2.2", "Status: 5.1.1")],
     ("bounce", True, "5.1.1", "account-1002", "newsletter-december2026")),
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: delivered"),
                              ("Status: 4.2.2", "Status: 2.0.0")], "other report"),
    ("dsn-mailbox-full.eml", [("Action: delayed", "Action: relayed")], "other report"),
    # A token that does not verify maps to no one.
    ("dsn-mailbox-full.eml", [("List-Unsubscribe: <https://stats.example.com/u/eyJ",
                               "List-Unsubscribe: <https://stats.example.com/u/eyX")],
     "unmapped"),
    ("dsn-mailbox-full.eml", [("List-Unsubscribe: ", "X-List-Unsubscribe: ")], "unmapped"),
    ("dsn-mailbox-full.eml", [("Content-Type: text/rfc822-headers",
                               "Content-Type: text/plain")], "unmapped"),
    # A report type the parser does not know, or a report part that is missing.
    ("dsn-mailbox-full.eml", [("report-type=delivery-status",
                               "report-type=disposition-notification"),
                              ("Content-Type: message/delivery-status",
                               "Content-Type: message/disposition-notification")],
     "other report"),
    ("dsn-mailbox-full.eml", [("Content-Type: message/delivery-status",
                               "Content-Type: text/plain")], "unreadable"),
    # ARF: abuse and fraud are complaints; the other feedback types are no one's wish.
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: fraud")],
     ("complaint", True, "fraud", "account-1004", "bf2026-early-access")),
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: ABUSE")],
     ("complaint", True, "abuse", "account-1004", "bf2026-early-access")),
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: virus")], "other report"),
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: not-spam")], "other report"),
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: auth-failure")],
     "other report"),
    ("arf-abuse.eml", [("Feedback-Type: abuse", "Feedback-Type: other")], "other report"),
    ("arf-abuse.eml", [("Content-Type: message/rfc822\n", "Content-Type: text/plain\n")],
     "unmapped"),
    # The body's tokens, when the header is gone: they must agree on one recipient.
    ("dsn-gave-up.eml", [("/o/eyJ", "/o/eyX")],
     ("bounce", False, "4.0.0", "account-1003", "2026-12-06-weekly")),
    ("dsn-gave-up.eml", [("/o/eyJ", "/o/eyX"), ("/c/.eJy", "/c/.eXy")], "unmapped"),
    # The open and click tokens are checked as of the report's date: a year later they
    # have expired, and a report written before the mail was sent is not believed.
    ("dsn-gave-up.eml", [("Date: Sun, 6 Dec 2026 17:16:05 -0400",
                          "Date: Sun, 6 Feb 2028 17:16:05 -0400")], "unmapped"),
    ("dsn-gave-up.eml", [("Date: Sun, 6 Dec 2026 17:16:05 -0400",
                          "Date: Sun, 1 Nov 2026 17:16:05 -0400")], "unmapped"),
]


@pytest.mark.parametrize(("name", "changes", "expected"), VARIANTS)
def test_variants(codec: TokenCodec, name: str, changes: list[tuple[str, str]],
                  expected: Any) -> None:
    outcome = read_message(edited(name, *changes), codec, SOURCE)
    if isinstance(expected, str):
        assert outcome == expected
    else:
        assert outcome == expected_finding(expected, SOURCE)


@pytest.mark.parametrize("name", [name for name, _ in SAMPLES])
def test_crlf_line_endings_read_the_same(codec: TokenCodec, name: str) -> None:
    raw = sample(name)
    assert read_message(raw.replace(b"\n", b"\r\n"), codec, SOURCE) == \
        read_message(raw, codec, SOURCE)


def test_a_token_signed_with_another_key_maps_to_no_one() -> None:
    other = TokenCodec(["another-token-key-0123456789abcdef"])
    assert read_message(sample("dsn-mailbox-full.eml"), other, SOURCE) == "unmapped"
    rotated = TokenCodec(["another-token-key-0123456789abcdef", TOKEN])
    assert isinstance(read_message(sample("dsn-mailbox-full.eml"), rotated, SOURCE), Finding)


def test_aggregate_mails_name_no_recipient_in_their_body(codec: TokenCodec) -> None:
    """Open and click tokens carry a recipient only in individual mode; an aggregate mail
    without its List-Unsubscribe cannot be mapped."""
    mail = EmailMessage()
    mail["To"] = "louisl@larry.example.edu"
    mail.set_content('<html><body><a href="https://shop.example.com/">Shop</a></body></html>',
                     subtype="html")
    Mailer(BASE, [TOKEN]).prepare(mail, "spring-2026", "news", unsubscribe=False,
                                  sent_at=SENT)
    raw = edited("dsn-gave-up.eml").decode("ascii")
    start = raw.index("content-type: message/rfc822\n\n") + len("content-type: message/rfc822\n\n")
    end = raw.index("\n--RAA14128.773615765/mail.example.net--")
    returned = mail.as_string(policy=policy.SMTP.clone(linesep="\n"))
    assert read_message((raw[:start] + returned + raw[end:]).encode(), codec, SOURCE) == \
        "unmapped"


@pytest.mark.parametrize("raw", [b"", b"\x00\xff" * 500, b"Subject: hi\n\nno body",
                                 b"Content-Type: multipart/report\n\n--x--"])
def test_odd_messages_are_counted_not_raised(codec: TokenCodec, raw: bytes) -> None:
    assert read_message(raw, codec, SOURCE) in ("not a report", "unreadable")


def test_damaged_reports_never_raise(codec: TokenCodec) -> None:
    """Cut, spliced and bit-flipped copies of every sample: each is judged, none raises,
    and none is mapped to a recipient the mail was not sent to."""
    rng = random.Random(3464)
    recipients = {who(f"account-100{n}") for n in range(1, 5)}
    for path in sorted(DATA.glob("*.eml")):
        raw = path.read_bytes()
        for _ in range(150):
            damaged = bytearray(raw)
            choice = rng.random()
            if choice < 0.4:
                damaged = damaged[: rng.randrange(len(damaged))]
            elif choice < 0.8:
                for _ in range(rng.randint(1, 20)):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            else:
                at = rng.randrange(len(damaged))
                damaged = damaged[:at] + damaged[at + rng.randint(1, 200):]
            outcome = read_message(bytes(damaged), TokenCodec([TOKEN]), SOURCE)
            assert isinstance(outcome, Finding) or outcome in (
                "unmapped", "other report", "not a report", "unreadable")
            if isinstance(outcome, Finding):
                assert outcome.recipient in recipients


def test_no_address_is_ever_returned(codec: TokenCodec) -> None:
    findings = list(read_reports(DATA / "reports.mbox", codec))
    assert findings
    for finding in findings:
        assert "@" not in repr(finding) and "@" not in str(finding.source)
        assert all("@" not in str(value) for value in asdict(finding).values())


# -- mailboxes ----------------------------------------------------------------------------

MBOX_SUMMARY = Summary(messages=7, hard_bounces=1, soft_bounces=2, complaints=1, unmapped=1,
                       other_reports=0, not_reports=1, unreadable=1)


def test_an_mbox_file_is_read_with_progress(codec: TokenCodec) -> None:
    calls: list[tuple[int, int]] = []
    reports = read_reports(DATA / "reports.mbox", codec,
                           progress=lambda done, total: calls.append((done, total)))
    assert calls == []  # nothing is read before the findings are asked for
    findings = list(reports)
    assert [(f.source, f.reason, f.hard, f.campaign) for f in findings] == [
        (Source("reports.mbox", 1), "bounce", True, "newsletter-december2026"),
        (Source("reports.mbox", 3), "bounce", False, "newsletter-december2026"),
        (Source("reports.mbox", 5), "bounce", False, "2026-12-06-weekly"),
        (Source("reports.mbox", 6), "complaint", True, "bf2026-early-access"),
    ]
    assert str(findings[0].source) == "reports.mbox, message 1"
    assert reports.summary == MBOX_SUMMARY and reports.summary.findings == 4
    assert calls == [(done, 7) for done in range(8)]
    # Read again from the start: the same findings, the summary counted afresh.
    assert list(reports) == findings and reports.summary == MBOX_SUMMARY


def test_a_folder_of_eml_files_is_read(codec: TokenCodec, tmp_path: Path) -> None:
    reports = read_reports(DATA, codec)
    findings = list(reports)
    assert sorted(f.source.file for f in findings) == [
        "arf-abuse.eml", "dsn-gave-up.eml", "dsn-mailbox-full.eml", "dsn-several-recipients.eml",
    ]
    assert all(f.source.number == 1 for f in findings)
    assert reports.summary == MBOX_SUMMARY  # the same messages as the mbox
    # Other files and subfolders are not read; the extension's case does not matter.
    (tmp_path / "sub.eml").mkdir()
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / "BOUNCE.EML").write_bytes(sample("dsn-mailbox-full.eml"))
    reports = read_reports(tmp_path, codec)
    assert [f.source for f in reports] == [Source("BOUNCE.EML", 1)]
    assert reports.summary.messages == 1


def test_one_eml_file_is_read(codec: TokenCodec) -> None:
    reports = read_reports(str(DATA / "arf-abuse.eml"), codec)
    assert [f.reason for f in reports] == ["complaint"]


def test_an_empty_mbox_holds_nothing(codec: TokenCodec, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    calls: list[tuple[int, int]] = []
    reports = read_reports(empty, codec, progress=lambda d, t: calls.append((d, t)))
    assert list(reports) == [] and reports.summary == Summary() and calls == [(0, 0)]


def test_an_mbox_written_by_mailbox_is_read(codec: TokenCodec, tmp_path: Path) -> None:
    """Bodies holding "From " lines are escaped by mbox writers; they still read."""
    box = mailbox.mbox(tmp_path / "out.mbox")
    box.add(sample("dsn-mailbox-full.eml").replace(b"This is the mail system",
                                                      b"From the mail system"))
    box.add(sample("ordinary-reply.eml"))
    box.close()
    reports = read_reports(tmp_path / "out.mbox", codec)
    assert [f.status for f in reports] == ["4.2.2"]
    assert reports.summary.messages == 2


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.mbox", "does not exist; give the path of an mbox file"),
        (lambda p: p, "holds no .eml files; save the bounces"),
        (lambda p: (p / "notes.txt", (p / "notes.txt").write_text("Dear all,\n"))[0],
         "is not an mbox file: it does not start with a 'From ' line"),
    ],
)
def test_unreadable_paths_are_refused_with_a_sentence(
    codec: TokenCodec, tmp_path: Path, make: Any, words: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(MailboxError, match=r"\.$") as info:
        read_reports(path, codec)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_special_file_is_refused(codec: TokenCodec, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(MailboxError, match="neither a file nor a folder"):
        read_reports(fifo, codec)


def test_a_file_without_read_permission_is_refused(codec: TokenCodec, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.mbox"
    locked.write_bytes(b"From x\n\n")
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        # What the kernel answers for a file without read permission (root is never
        # refused, so the refusal is played here).
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(MailboxError, match="permission denied"):
        read_reports(locked, codec)


def test_a_mailbox_is_never_written(codec: TokenCodec, tmp_path: Path) -> None:
    copy = tmp_path / "reports.mbox"
    copy.write_bytes(sample("reports.mbox"))
    before = copy.stat().st_mtime_ns
    list(read_reports(copy, codec))
    assert copy.read_bytes() == sample("reports.mbox") and copy.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports.mbox"]
