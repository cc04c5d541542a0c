"""``cleargif suppressions import``: DSN and ARF reports, read from an mbox or a folder of
.eml files, become suppression entries with their reason, end to end."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from collector.mail import campaigns
from sdk import Mailer
from sdk.pseudonym import pseudonym
from tests.conftest import TOKEN, error_line, make_app, make_config, sql

DATA = Path(__file__).parent / "data" / "mail"
BASE = "https://stats.example.com"
SENDER_KEY = "test-sender-pseudonym-key-0123456789"


def who(account: str) -> str:
    """The recipient pseudonym the samples' mails were sent to (tests/data/mail)."""
    return pseudonym(account, SENDER_KEY)


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["suppressions", "import", *args])


SUMMARY = [
    "Read 7 messages from {path}.",
    "Hard bounces: 1 ({n} recipient{s} suppressed from all mail, {a} already suppressed).",
    "Complaints: 1 ({n} recipient{s} suppressed from all mail, {a} already suppressed).",
    "Soft bounces: 2 (not suppressed: a full mailbox or a delay may pass).",
    "Unmapped: 1 (no token of a mail cleargif prepared names the recipient; nothing "
    "suppressed).",
    "Other reports: 0 (deliveries, and feedback that is no complaint).",
    "Not reports: 1 (replies and other mail, skipped).",
    "Unreadable: 1 (too damaged to read, skipped).",
]


def summary(path: Path, new: int) -> str:
    return "\n".join(line.format(path=path, n=new, s="" if new == 1 else "s", a=1 - new)
                     for line in SUMMARY) + "\n"


@pytest.mark.parametrize("where", ["reports.mbox", "."], ids=["mbox", "eml-folder"])
def test_rfc_samples_are_imported_end_to_end(app: Any, where: str) -> None:
    """The RFC 3464 and RFC 5965 examples of tests/data/mail, around mails a Mailer
    prepared: the hard bounce and the complaint are suppressed from all mail, with their
    reason and campaign; the soft bounces are not; a second run changes nothing."""
    path = DATA / where
    out = run(app, str(path))
    assert out.exit_code == 0, out.output
    assert out.stdout == summary(path, 1)
    assert out.stderr.startswith("Using the identity store ")
    rows = sql(app, "identity", "SELECT list, recipient, campaign, reason FROM suppressions "
                                "ORDER BY reason")
    assert rows == [("*", who("account-1001"), "newsletter-december2026", "bounce"),
                    ("*", who("account-1004"), "bf2026-early-access", "complaint")]
    identity = app.extensions["cleargif"].identity
    assert campaigns.is_suppressed(identity, "news", who("account-1004"))
    assert not campaigns.is_suppressed(identity, "news", who("account-1002"))  # soft
    again = run(app, str(path))
    assert again.exit_code == 0 and again.stdout == summary(path, 0)
    assert len(sql(app, "identity", "SELECT * FROM suppressions")) == 2
    # Whatever the mailbox held, no address reached the output.
    assert "@" not in out.output + again.output


def test_a_dry_run_changes_nothing(app: Any) -> None:
    out = run(app, str(DATA / "reports.mbox"), "--dry-run")
    assert out.exit_code == 0
    assert "Hard bounces: 1 (1 recipient would be suppressed from all mail, 0 already " \
        "suppressed)." in out.stdout
    assert "Dry run: nothing was changed." in out.stderr
    assert sql(app, "identity", "SELECT COUNT(*) FROM suppressions") == [(0,)]


def test_a_progress_bar_on_a_terminal(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.cli import suppressions

    monkeypatch.setattr(suppressions, "_on_terminal", lambda: True)
    out = run(app, str(DATA / "reports.mbox"))
    assert out.exit_code == 0 and "Reading reports" in out.stderr
    assert "Reading reports" not in out.stdout  # the summary stays clean for scripts
    monkeypatch.setattr(suppressions, "_on_terminal", lambda: False)
    assert "Reading reports" not in run(app, str(DATA / "reports.mbox")).stderr


def test_the_sender_s_loop(app: Any, tmp_path: Path) -> None:
    """Prepare a mail, get it back as a bounce and a complaint as mail servers send them,
    import them, and find the recipients on the list the sender checks before the next
    campaign (the API's suppressions, with the reason)."""
    mailer = Mailer(BASE, [TOKEN])
    sent = time.time() - 86400
    reports = tmp_path / "returned"
    reports.mkdir()
    for i, (recipient, kind) in enumerate((("Qx7pLmRtWvBnZkYc", "bounce"),
                                           ("Hn4sKwPzTq8vLmYd", "complaint"))):
        msg = EmailMessage()
        msg["From"] = "news@shop.example.com"
        msg["To"] = f"reader{i}@example.org"
        msg["Subject"] = "Winter news"
        msg.set_content('<html><body><a href="https://shop.example.com/">Shop</a></body>'
                        "</html>", subtype="html")
        prepared = mailer.prepare(msg, "winter-2026", "news", mode="aggregate",
                                  recipient=recipient, sent_at=sent)
        (reports / f"{i}.eml").write_bytes(returned(kind, prepared))
    out = run(app, str(reports))
    assert out.exit_code == 0, out.output
    assert "Hard bounces: 1 (1 recipient suppressed" in out.stdout
    assert "Complaints: 1 (1 recipient suppressed" in out.stdout
    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender", "--name", "m"]).stdout.strip()
    listed = app.test_client().get("/api/v1/suppressions",
                                   headers={"Authorization": f"Bearer {token}"}).json
    assert sorted((e["recipient"], e["reason"], e["campaign"], e["all_mail"])
                  for e in listed["suppressions"]) == [
        ("Hn4sKwPzTq8vLmYd", "complaint", "winter-2026", True),
        ("Qx7pLmRtWvBnZkYc", "bounce", "winter-2026", True)]
    col = app.extensions["cleargif"]
    rep = campaigns.report(col.events, col.identity, "winter-2026", 1)
    assert (rep["unsubscribes"], rep["bounces"], rep["complaints"]) == (0, 1, 1)


def returned(kind: str, original: EmailMessage) -> bytes:
    """A report as RFC 3464 section 10.1 or RFC 5965 appendix B.2 show it, around the
    original mail's headers (a DSN) or the whole mail (an ARF report)."""
    headers = "".join(f"{name}: {value}\n" for name, value in original.items())
    if kind == "bounce":
        return f"""\
From: MAILER-DAEMON@mx.example.org
To: news@shop.example.com
Subject: Returned mail: User unknown
Date: Thu, 7 Jul 1994 17:16:05 -0400
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU
Content-Type: text/plain

The original message was received at Thu, 7 Jul 1994 17:15:49 -0400
   ----- The following addresses had delivery problems -----
<reader0@example.org>  (unrecoverable error)

--RAA14128.773615765/CS.UTK.EDU
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; reader0@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 <reader0@example.org>... User unknown

--RAA14128.773615765/CS.UTK.EDU
Content-Type: text/rfc822-headers

{headers}
--RAA14128.773615765/CS.UTK.EDU--
""".encode()
    return f"""\
From: <abusedesk@example.org>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Winter news
To: <abuse@shop.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
    boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <news@shop.example.com>
Original-Rcpt-To: <reader1@example.org>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.org
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

{original.as_string()}
--part1_13d.2e68ed54_boundary--
""".encode()


def test_bad_input_gets_one_line(tmp_path: Path) -> None:
    app = make_app(make_config(tmp_path))
    missing = run(app, str(tmp_path / "nowhere.mbox"))
    assert missing.exit_code == 2 and "does not exist" in error_line(missing.stderr)
    (tmp_path / "empty").mkdir()
    empty = run(app, str(tmp_path / "empty"))
    assert empty.exit_code == 2 and "holds no .eml files" in error_line(empty.stderr)
    (tmp_path / "notes.txt").write_text("not an mbox")
    text = run(app, str(tmp_path / "notes.txt"))
    assert text.exit_code == 2 and "is not an mbox file" in error_line(text.stderr)
    app.extensions["cleargif"].close()
    # No identity store where it is looked for: refused, nothing created.
    elsewhere = make_app(make_config(tmp_path / "b", TOKEN_KEYS=None))
    elsewhere.extensions["cleargif"].close()
    for name in ("identity.db", "events.db"):
        (tmp_path / "b" / "data" / name).unlink()
    out = run(elsewhere, str(DATA / "reports.mbox"))
    assert out.exit_code == 2 and "No cleargif data here" in error_line(out.stderr)
    assert not (tmp_path / "b" / "data" / "identity.db").exists()


def test_without_token_keys_it_says_how_to_make_one(tmp_path: Path) -> None:
    app = make_app(make_config(tmp_path, TOKEN_KEYS=None))
    out = run(app, str(DATA / "reports.mbox"))
    assert out.exit_code == 2 and "TOKEN_KEYS" in error_line(out.stderr)
    assert "Traceback" not in out.output
