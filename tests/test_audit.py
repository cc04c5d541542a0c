"""The PII-access audit log: subjects named by an HMAC, actors, the reader and its formats."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g

from collector.privacy import audit
from collector.privacy.apitokens import ApiToken
from tests.conftest import SECRET, make_app, make_config, sql, sql_write

VISITOR = "0123456789abcdef0123456789abcdef"
NOON = int(datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("UTC")).timestamp())
DAY = 86400


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(app_config)
    yield app
    app.extensions["cleargif"].close()


def identity(app: Flask) -> Any:
    return app.extensions["cleargif"].identity


def write(app: Flask, action: str = audit.EXPORT, *, now: int = NOON,
          subject: tuple[str, str] | None = ("visitor", VISITOR), actor: str = "os-user:ann",
          reason: str | None = "Art. 15", detail: dict[str, Any] | None = None) -> None:
    kind, sid = subject if subject else (None, None)
    audit.record(identity(app), actor=actor, action=action, subject_kind=kind,
                 subject_id=sid, reason=reason, detail=detail, now=now,
                 keys=audit.subject_keyring(app.config))


def test_subject_named_by_a_derived_hmac(app: Flask) -> None:
    write(app, detail={"events": 3})
    [row] = sql(app, "identity", "SELECT ts, actor, action, subject_hmac, reason, detail "
                                "FROM audit")
    key = hmac.new(SECRET.encode(), b"cleargif.audit.subject.v1", hashlib.sha256).digest()
    expected = hmac.new(key, f"visitor:{VISITOR}".encode(), hashlib.sha256).hexdigest()
    assert row == (NOON, "os-user:ann", "subject.export", expected, "Art. 15",
                   '{"events": 3}')
    # Not the HMAC under the raw secret (one key per purpose), and no id in clear.
    assert expected != hmac.new(SECRET.encode(), f"visitor:{VISITOR}".encode(),
                                hashlib.sha256).hexdigest()
    assert VISITOR not in json.dumps(row)
    # The same id under another kind is another subject.
    assert audit.subject_hmac(audit.subject_keyring(app.config), "consent", VISITOR) != expected


def test_entries_found_across_key_rotation(tmp_path: Any) -> None:
    old = make_app(make_config(tmp_path, SECRET_KEYS=["old-key-" + "x" * 24]))
    write(old)
    old.extensions["cleargif"].close()
    new = make_app(make_config(tmp_path, SECRET_KEYS=[
        "old-key-" + "x" * 24, "new-key-" + "y" * 24]))
    write(new, audit.ERASE)
    names = audit.subject_hmacs(new.config, "visitor", VISITOR)
    assert len(names) == 2
    found = audit.read(identity(new), subject_hmacs=names)
    assert [e.action for e in found] == ["subject.export", "subject.erase"]
    assert found[0].subject_hmac != found[1].subject_hmac  # new entries use the new key
    assert audit.read(identity(new), subject_hmacs=names[1:])[0].action == "subject.erase"
    new.extensions["cleargif"].close()


def test_record_refuses_bad_input(app: Flask) -> None:
    with pytest.raises(audit.AuditError, match="not an audit action"):
        write(app, "Export everything")
    with pytest.raises(audit.AuditError, match="not an audit action"):
        write(app, audit.TOMBSTONE)
    with pytest.raises(audit.AuditError, match="both"):
        audit.record(identity(app), actor="a", action="subject.export", subject_kind="visitor",
                     subject_id=None, reason=None, detail=None, now=NOON,
                     keys=audit.subject_keyring(app.config))
    with pytest.raises(audit.AuditError, match="must not contain"):
        write(app, reason=f"asked by {VISITOR}")
    with pytest.raises(audit.AuditError, match="one line"):
        write(app, reason="two\nlines")
    assert sql(app, "identity", "SELECT COUNT(*) FROM audit") == [(0,)]


def test_check_reason() -> None:
    assert audit.check_reason("  request ") == "request"
    assert audit.check_reason("") is None and audit.check_reason(None) is None
    with pytest.raises(audit.AuditError, match="Say why"):
        audit.check_reason(" ", required=True)
    with pytest.raises(audit.AuditError, match="200"):
        audit.check_reason("x" * 201)


@pytest.mark.parametrize(("reason", "subject_id", "refused"), [
    ("request", "e", False),  # a short id inside a word is not the id
    ("e", "e", True),
    ("abc", "abc", True),
    ("asked by ABC today", "abc", True),
    ("abcd", "abc", False),
    ("id r-1, by mail", "r-1", True),
    ("r-10", "r-1", False),
    ("ticket 55 for customer-4711-x", "customer-4711", True),  # long ids: anywhere
])
def test_check_reason_never_holds_the_subject_id(reason: str, subject_id: str,
                                                 refused: bool) -> None:
    if refused:
        with pytest.raises(audit.AuditError, match="subject's id"):
            audit.check_reason(reason, subject_id=subject_id)
    else:
        assert audit.check_reason(reason, subject_id=subject_id) == reason


@pytest.mark.parametrize(("reason", "refused"), [
    ("jane\uff20example.com wants out", True),
    ("Jane Doe, jane.doe@example.org, +44 20 7946 0958", True),
    ("asked by jane%40example.com", True),
    ("asked by jane\u034f@example.com", True),
    ("request from 203.0.113.77", True),
    ("request from 2001:db8::77", True),
    ("card 4111+1111+1111+1111 charged", True),
    ("customer 123456789", True),
    ("call 0049/30/1234567", True),
    ("request", False),
    ("child", False),
    ("access request 2026-031", False),
    ("ticket 4711, by mail on 2026-03-01", False),
    ("follow-up to @privacy team", False),
])
def test_check_reason_refuses_personal_data(reason: str, refused: bool) -> None:
    if refused:
        with pytest.raises(audit.AuditError, match="must not hold personal data") as info:
            audit.check_reason(reason)
        assert reason not in str(info.value)
    else:
        assert audit.check_reason(reason) == reason


def test_record_refuses_reasons_with_personal_data(app: Flask) -> None:
    with pytest.raises(audit.AuditError, match="personal data"):
        write(app, reason="jane\uff20example.com wants out")
    assert sql(app, "identity", "SELECT COUNT(*) FROM audit") == [(0,)]


def test_actor_is_the_token_in_a_request_else_the_os_user(app: Flask,
                                                          monkeypatch: Any) -> None:
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "ann")
    with app.test_request_context("/api/v1/suppressions"):
        g.api_token = ApiToken("mailer", frozenset({"sender"}))
        audit.log_access(audit.SUPPRESSIONS_READ, detail={"count": 2})
    with app.app_context():
        audit.log_access(audit.SUPPRESSIONS_READ, subject_kind="recipient",
                         subject_id="r-1", reason="support ticket")
    first, second = audit.read(identity(app))
    assert (first.actor, first.action, first.subject_hmac, first.detail) == (
        "token:mailer", "suppressions.read", None, {"count": 2})
    assert (second.actor, second.reason) == ("os-user:ann", "support ticket")
    assert second.subject_hmac == audit.subject_hmac(audit.subject_keyring(app.config),
                                                     "recipient", "r-1")


def test_os_user_without_a_login_name(monkeypatch: Any) -> None:
    def no_user() -> str:
        raise OSError("no user name")

    monkeypatch.setattr(audit.getpass, "getuser", no_user)
    assert audit.cli_actor().startswith("os-user:uid-")


# --- cleargif audit ---------------------------------------------------------------------

def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["audit", *args])


def three_days(app: Flask) -> None:
    write(app, now=NOON - DAY, detail={"events": 1})
    write(app, audit.ERASE, now=NOON, reason="child", detail={"events_deleted": 1})
    write(app, audit.SUPPRESSIONS_READ, now=NOON + DAY, subject=None, actor="token:mailer",
          reason=None)


def test_text_format(app: Flask) -> None:
    three_days(app)
    out = run(app)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].strip().split("  ")[1:5] == ["2026-02-28T12:00:00Z", "subject.export",
                                         "os-user:ann", "subject " + audit.subject_hmac(
                                             audit.subject_keyring(app.config), "visitor",
                                             VISITOR)[:16]]
    assert "why: child" in lines[1] and "events_deleted=1" in lines[1]
    assert "token:mailer" in lines[2] and "no subject" in lines[2]
    assert VISITOR not in out.stdout


def test_since_and_until_are_days_inclusive(app: Flask) -> None:
    three_days(app)
    out = run(app, "--since", "2026-03-01", "--until", "2026-03-01", "--format", "json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["count"] == 1 and body["entries"][0]["action"] == "subject.erase"
    assert body["entries"][0]["detail"] == {"events_deleted": 1}
    assert body["entries"][0]["tombstone"] is False
    out = run(app, "--since", "2026-03-02")
    assert len(out.stdout.splitlines()) == 1
    out = run(app, "--since", "2030-01-01")
    assert out.exit_code == 0 and out.stdout == "" and "No audit entries" in out.stderr


def test_days_follow_the_timezone(tmp_path: Any) -> None:
    app = make_app(make_config(tmp_path, TIMEZONE="America/New_York"))
    write(app, now=int(datetime(2026, 3, 2, 3, tzinfo=ZoneInfo("UTC")).timestamp()))
    out = run(app, "--since", "2026-03-01", "--until", "2026-03-01", "--format", "json")
    assert json.loads(out.stdout)["count"] == 1  # 22:00 on March 1 in New York
    app.extensions["cleargif"].close()


def test_csv_format(app: Flask) -> None:
    three_days(app)
    out = run(app, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["seq", "time", "actor", "action", "subject_hmac", "reason",
                             "detail"]
    assert [r["action"] for r in rows] == ["subject.export", "subject.erase",
                                           "suppressions.read"]
    assert json.loads(rows[1]["detail"]) == {"events_deleted": 1}
    assert rows[2]["subject_hmac"] == "" and rows[2]["reason"] == ""


def test_tombstoned_entries_are_shown_as_tombstones(app: Flask) -> None:
    three_days(app)
    # What retention does to entries past RETENTION_DAYS_AUDIT.
    sql_write(app, "identity", "UPDATE audit SET actor = '-', action = 'tombstone', subject_hmac "
                          "= NULL, detail = NULL, reason = 'retention' WHERE seq <= 2")
    sql_write(app, "identity", "INSERT INTO audit (ts, actor, action, detail) VALUES (?, '', "
                          "'subject.export', 'not json')", (NOON,))
    out = run(app)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert "tombstone (retention)" in lines[0] and "tombstone (retention)" in lines[1]
    assert "not json" in lines[3]
    body = json.loads(run(app, "--format", "json").stdout)
    assert [e["tombstone"] for e in body["entries"]] == [True, True, False, False]
    assert body["entries"][3]["detail"] == "not json"
    rows = list(csv.DictReader(io.StringIO(run(app, "--format", "csv").stdout)))
    assert [r["action"] for r in rows] == ["tombstone", "tombstone", "suppressions.read",
                                           "subject.export"]


@pytest.mark.parametrize("args", [
    ["--since", "2026-13-01"],
    ["--until", "yesterday"],
    ["--since", "2026-03-02", "--until", "2026-03-01"],
    ["--format", "xml"],
])
def test_bad_input_one_line_exit_2(app: Flask, args: list[str]) -> None:
    out = run(app, *args)
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    assert out.stderr.strip().startswith(("Error", "Usage"))
