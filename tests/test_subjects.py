"""Subject export and erasure (GDPR Art. 15, 17): the CLI, the API and the bytes on disk."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collector.privacy import audit
from sdk.remember import RememberStore
from tests.conftest import SITE, make_app, make_config, sql, sql_write
from tests.conftest import events as stored_events
from tests.test_export import new_token, record

ACCOUNT = "account-42"
RECIPIENT = "r-7f3a9c0d"
OTHER_RECIPIENT = "r-other-1"


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(app_config)
    yield app
    app.extensions["cleargif"].close()


def cli(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=list(args), input=input)


def consent_subjects(app: Flask) -> list[str]:
    rows = sql(app, "identity",
        "SELECT DISTINCT subject_id FROM receipts WHERE subject_id IS NOT NULL ORDER BY seq")
    return [r[0] for r in rows]


def browse(client: Any) -> None:
    """A visit: a hit with analytics only (session id), then everything granted (visitor
    id), then two more hits, all in one session."""
    for purposes in ({"analytics": True}, {"analytics": True, "personalization": True}):
        r = client.post("/consent", json={"purposes": purposes}, headers={"Origin": SITE})
        assert r.status_code == 200
        assert client.get("/t.gif?p=/x", headers={"Origin": SITE}).status_code == 200
    client.get("/t.gif?p=/y", headers={"Origin": SITE})


def seed(app: Flask, client: Any) -> dict[str, Any]:
    """One person under every kind of id, and a bystander under each, so that erasure
    can be shown to take exactly the subject's data."""
    col = app.extensions["cleargif"]
    browse(client)
    browse(app.test_client())  # the bystander's browser
    subject, bystander = consent_subjects(app)
    events = stored_events(app)
    visitor = events[1]["visitor_id"]
    session = events[0]["session_id"]
    assert visitor and session and events[1]["session_id"] == session
    assert events[0]["visitor_id"] is None  # the session-only hit
    other_visitor = events[-1]["visitor_id"]
    assert other_visitor != visitor
    for i in range(3):
        col.events.add_event(record(kind="open", name="open", campaign="spring", list="news",
                                    recipient=RECIPIENT, agent="human", ts=1_770_000_000 + i))
    col.events.add_event(record(kind="open", name="open", campaign="spring", list="news",
                                recipient=OTHER_RECIPIENT, agent="human"))
    sql_write(app, "identity", "INSERT INTO suppressions (list, recipient, campaign, created_at, "
                         "reason) VALUES (?, ?, ?, ?, 'unsubscribe')",
              ("news", RECIPIENT, "spring", 1_770_000_100))
    sql_write(app, "identity", "INSERT INTO suppressions (list, recipient, campaign, created_at) "
                         "VALUES (?, ?, ?, ?)", ("*", OTHER_RECIPIENT, None, 1_770_000_100))
    with RememberStore(app.config["IDENTITY_URL"], keys=["k" * 32]) as remember:
        remember.issue(ACCOUNT)
        remember.issue(ACCOUNT)
        remember.issue("account-7")
    return {"consent": subject, "visitor": visitor, "session": session,
            "other_consent": bystander, "other_visitor": other_visitor}


def export(app: Flask, option: str, value: str, *extra: str) -> dict[str, Any]:
    out = cli(app, "subject", "export", option, value, *extra)
    assert out.exit_code == 0, out.output
    assert "Exported" in out.stderr
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def erase(app: Flask, option: str, value: str, reason: str = "request",
          *extra: str) -> Any:
    out = cli(app, "subject", "erase", option, value, "--reason", reason, "--yes", *extra)
    assert out.exit_code == 0, out.output
    return out


def store_bytes(data_dir: Path, name: str) -> bytes:
    """The raw bytes of a store's files: the database, its WAL and its shared memory."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir())
                    if p.name.startswith(name) and p.is_file())


def all_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


SECTIONS = ("receipts", "suppressions", "remember_me_tokens", "remember_me_epoch", "events")


def test_export_erase_export_again(app: Flask, client: Any, tmp_path: Path) -> None:
    ids = seed(app, client)
    data = tmp_path / "data"
    col = app.extensions["cleargif"]
    secrets_in_clear = [ids["consent"], ids["visitor"], ids["session"], ACCOUNT]
    before = all_bytes(data)
    assert all(s.encode() in before for s in [*secrets_in_clear, RECIPIENT])

    # Export: everything, by each kind of id.
    by_consent = export(app, "--consent-subject", ids["consent"], "--reason", "Art. 15")
    assert [r["receipt"]["subject_id"] for r in by_consent["receipts"]] == [ids["consent"]] * 2
    assert by_consent["receipts"][0]["receipt"]["granted"] == ["necessary", "analytics"]
    assert by_consent["receipts"][1]["prev_hash"] == by_consent["receipts"][0]["hash"]
    assert by_consent["subject"] == {"kind": "consent", "id": ids["consent"]}
    by_visitor = export(app, "--visitor", ids["visitor"])
    assert [e["path"] for e in by_visitor["events"]] == ["/x", "/x", "/y"]  # with the
    assert by_visitor["events"][0]["visitor_id"] is None  # session-only hit
    assert {e["session_id"] for e in by_visitor["events"]} == {ids["session"]}
    by_recipient = export(app, "--recipient", RECIPIENT)
    assert len(by_recipient["events"]) == 3
    assert {e["recipient"] for e in by_recipient["events"]} == {RECIPIENT}
    assert by_recipient["suppressions"] == [{
        "list": "news", "recipient": RECIPIENT, "all_mail": False, "campaign": "spring",
        "reason": "unsubscribe", "created_at": "2026-02-02T02:41:40Z"}]
    by_account = export(app, "--account", ACCOUNT)
    tokens = by_account["remember_me_tokens"]
    assert len(tokens) == 2 and set(tokens[0]) == {"kind", "created_at", "expires_at",
                                                   "last_used_at"}
    assert "selector" not in json.dumps(by_account) and "hash" not in json.dumps(tokens)

    # Erase each, the consent subject as a child's.
    out = erase(app, "--consent-subject", ids["consent"], "child")
    assert "consent receipts tombstoned: 2" in out.stdout
    assert "events deleted: 3" in erase(app, "--visitor", ids["visitor"]).stdout
    out = erase(app, "--recipient", RECIPIENT)
    assert "events deleted: 3" in out.stdout and "suppression entries kept: 1" in out.stdout
    assert "remember-me tokens deleted: 2" in erase(app, "--account", ACCOUNT).stdout

    # Export again: nothing but the suppression entry.
    again = {
        "consent": export(app, "--consent-subject", ids["consent"]),
        "visitor": export(app, "--visitor", ids["visitor"]),
        "recipient": export(app, "--recipient", RECIPIENT),
        "account": export(app, "--account", ACCOUNT),
    }
    for kind, document in again.items():
        held = {s: document[s] for s in SECTIONS if document[s]}
        assert held == ({"suppressions": by_recipient["suppressions"]}
                        if kind == "recipient" else {}), kind
        erasures = [h for h in document["access_log"] if h["action"] == "subject.erase"]
        assert len(erasures) == 1, kind
    assert again["consent"]["access_log"][-1]["reason"] == "child"

    # The receipts are tombstones, named by reason, and the chain still verifies.
    rows = sql(app, "identity", "SELECT subject_id, body, tombstone_reason FROM receipts "
                              "WHERE tombstone_reason IS NOT NULL")
    assert rows == [(None, None, "erasure:child")] * 2
    verify = cli(app, "consent", "verify")
    assert verify.exit_code == 0, verify.output
    assert verify.stdout.strip() == ("4 receipts, chain intact; 2 tombstones "
                                     "(erasure:child: 2)")

    # The bystander is untouched.
    assert export(app, "--consent-subject", ids["other_consent"])["receipts"]
    assert len(export(app, "--visitor", ids["other_visitor"])["events"]) == 3
    assert len(export(app, "--recipient", OTHER_RECIPIENT)["events"]) == 1
    assert len(export(app, "--account", "account-7")["remember_me_tokens"]) == 1

    # No byte of the subject's ids is left in any file, WAL and shared memory included.
    after = all_bytes(data)
    for secret in secrets_in_clear:
        assert secret.encode() not in after, secret
    assert RECIPIENT.encode() not in store_bytes(data, "events.db")
    # The identity store keeps the recipient only in its suppression entry: without it,
    # no copy is left.
    assert RECIPIENT.encode() in store_bytes(data, "identity.db")
    col.close()
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in data.iterdir():
        if p.name.startswith("identity.db"):
            shutil.copy(p, copy / p.name)
    conn = sqlite3.connect(copy / "identity.db")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("DELETE FROM suppressions WHERE recipient = ?", (RECIPIENT,))
    conn.commit()
    conn.close()
    assert RECIPIENT.encode() not in all_bytes(copy)

    # Every step was audited, with no id in clear.
    entries = audit.read(col.identity)
    assert [e.action for e in entries] == (["subject.export"] * 4 + ["subject.erase"] * 4 +
                                           ["subject.export"] * 8)
    assert all(e.actor.startswith("os-user:") for e in entries)
    key = audit.subject_keyring(app.config)
    assert entries[0].subject_hmac == audit.subject_hmac(key, "consent", ids["consent"])
    assert entries[0].reason == "Art. 15"
    assert entries[4].detail == {"events_deleted": 0, "events_stripped": 0,
                                 "receipts_tombstoned": 2, "remember_tokens_deleted": 0,
                                 "suppressions_kept": 0, "wal_truncated": True}
    log = sql(app, "identity", "SELECT * FROM audit")
    text = json.dumps(log)
    for secret in [*secrets_in_clear, RECIPIENT]:
        assert secret not in text


def test_account_export_holds_its_epoch_row(app: Flask, client: Any) -> None:
    """The row "log out everywhere" leaves (account id, epoch, time) is the subject's data
    too: exported as metadata, and erased."""
    with RememberStore(app.config["IDENTITY_URL"], keys=["k" * 32],
                       clock=lambda: 1_770_000_000.5) as remember:
        assert export(app, "--account", ACCOUNT)["remember_me_epoch"] == []
        remember.issue(ACCOUNT)
        epoch = remember.forget_everywhere(ACCOUNT) and remember.epoch(ACCOUNT)
        remember.issue(ACCOUNT)
        remember.bump_epoch("account-7")
    out = cli(app, "subject", "export", "--account", ACCOUNT, "--reason", "Art. 15")
    assert out.exit_code == 0, out.output
    document = json.loads(out.stdout)
    assert document["remember_me_epoch"] == [{"kind": "remember_me_epoch", "epoch": epoch,
                                              "changed_at": "2026-02-02T02:40:00Z"}]
    assert len(document["remember_me_tokens"]) == 1
    assert "1 remember-me token, 1 remember-me epoch, 0 events" in out.stderr
    assert "selector" not in out.stdout and "hash" not in out.stdout
    entry = audit.read(app.extensions["cleargif"].identity)[-1]
    assert entry.detail is not None and entry.detail["remember_me_epoch"] == 1
    assert "remember-me tokens deleted: 1" in erase(app, "--account", ACCOUNT).stdout
    again = export(app, "--account", ACCOUNT)
    assert again["remember_me_epoch"] == [] and again["remember_me_tokens"] == []
    assert export(app, "--account", "account-7")["remember_me_epoch"][0]["epoch"] > 0


def test_strip_events_keeps_counts_without_ids(app: Flask, client: Any,
                                               tmp_path: Path) -> None:
    ids = seed(app, client)
    app.extensions["cleargif"]
    total = len(stored_events(app))
    out = erase(app, "--visitor", ids["visitor"], "request", "--strip-events")
    assert "ids removed from 3" in out.stdout
    out = erase(app, "--recipient", RECIPIENT, "request", "--strip-events")
    assert "ids removed from 3" in out.stdout
    events = stored_events(app)
    assert len(events) == total
    assert sum(e["recipient"] is None and e["kind"] == "open" for e in events) == 3
    assert not export(app, "--visitor", ids["visitor"])["events"]
    raw = store_bytes(tmp_path / "data", "events.db")
    for secret in (ids["visitor"], ids["session"], RECIPIENT):
        assert secret.encode() not in raw


def test_stores_run_with_secure_delete(app: Flask) -> None:
    assert sql(app, "events", "PRAGMA secure_delete") == [(1,)]
    assert sql(app, "identity", "PRAGMA secure_delete") == [(1,)]


@pytest.mark.parametrize(("option", "value"), [
    ("--account", "nobody"), ("--recipient", "r-unknown"), ("--visitor", "a" * 32),
    ("--consent-subject", "b" * 32)])
def test_unknown_subject_gives_an_empty_export(app: Flask, option: str, value: str) -> None:
    document = export(app, option, value)
    assert all(document[s] == [] for s in SECTIONS)
    assert document["notes"]
    # Looking for an account does not create the remember-me tables.
    tables = sql(app, "identity",
        "SELECT name FROM sqlite_master WHERE name LIKE 'remember%'")
    assert tables == []
    out = cli(app, "subject", "erase", option, value, "--reason", "request", "--yes")
    assert out.exit_code == 0 and "events deleted: 0" in out.stdout


def test_export_to_a_private_file(app: Flask, client: Any, tmp_path: Path) -> None:
    ids = seed(app, client)
    target = tmp_path / "subject.json"
    out = cli(app, "subject", "export", "--visitor", ids["visitor"], "--out", str(target))
    assert out.exit_code == 0, out.output
    assert out.stdout == "" and "3 events" in out.stderr
    assert json.loads(target.read_text())["subject"]["kind"] == "visitor"
    assert os.stat(target).st_mode & 0o777 == 0o600
    bad = cli(app, "subject", "export", "--visitor", ids["visitor"], "--out",
              str(tmp_path / "missing" / "x.json"))
    assert bad.exit_code == 2 and "Cannot write" in bad.stderr


def test_erase_asks_first(app: Flask, client: Any) -> None:
    ids = seed(app, client)
    out = cli(app, "subject", "erase", "--visitor", ids["visitor"], "--reason", "request",
              input="n\n")
    assert out.exit_code == 1 and "cannot be undone" in out.stderr
    assert len(export(app, "--visitor", ids["visitor"])["events"]) == 3
    out = cli(app, "subject", "erase", "--visitor", ids["visitor"], "--reason", "request",
              input="y\n")
    assert out.exit_code == 0 and "events deleted: 3" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["export"], "exactly one subject"),
    (["export", "--visitor", "a" * 32, "--account", "x"], "exactly one subject"),
    (["export", "--visitor", "A" * 32], "32 lowercase hexadecimal"),
    (["export", "--visitor", "abc"], "cg_vid"),
    (["export", "--consent-subject", "0" * 31 + "g"], "32 lowercase hexadecimal"),
    (["export", "--account", ""], "empty"),
    (["export", "--recipient", "x" * 129], "1 to 128 printable characters"),
    (["export", "--account", "a\nb"], "printable characters"),
    (["export", "--recipient", "a\udcff"], "printable characters"),
    (["export", "--account", "x", "--reason", "r" * 201], "at most 200"),
    (["erase", "--visitor", "a" * 32, "--yes"], "Say why"),
    (["erase", "--visitor", "a" * 32, "--yes", "--reason", " "], "Say why"),
    (["erase", "--visitor", "a" * 32, "--yes", "--reason", "asked by " + "a" * 32],
     "must not contain the subject's id"),
])
def test_bad_input_one_line_exit_2(app: Flask, args: list[str], message: str) -> None:
    out = cli(app, "subject", *args)
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line
    assert sql(app, "identity", "SELECT COUNT(*) FROM audit") == [(0,)]


# --- the API ----------------------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_needs_a_pii_token(app: Flask, client: Any) -> None:
    url = f"/api/v1/subjects/visitor/{'a' * 32}"
    for method in (client.get, client.delete):
        r = method(url)
        assert r.status_code == 401 and r.json["error"]
        assert method(url, headers=bearer("cgt_wrong")).status_code == 401
    analyst = new_token(app, "aggregate,sender", "analysts")
    for method in (client.get, client.delete):
        r = method(url + "?reason=request", headers=bearer(analyst))
        assert r.status_code == 403 and "pii" in r.json["error"]
    assert sql(app, "identity", "SELECT COUNT(*) FROM audit") == [(0,)]


def test_api_export_and_erase(app: Flask, client: Any, tmp_path: Path) -> None:
    ids = seed(app, client)
    officer = bearer(new_token(app, "pii", "privacy officer"))
    r = client.get(f"/api/v1/subjects/visitor/{ids['visitor']}?reason=Art.%2015",
                   headers=officer)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert len(r.json["events"]) == 3 and r.json["subject"]["kind"] == "visitor"
    r = client.get(f"/api/v1/subjects/recipient/{RECIPIENT}", headers=officer)
    assert r.json["suppressions"][0]["list"] == "news" and len(r.json["events"]) == 3

    r = client.delete(f"/api/v1/subjects/consent/{ids['consent']}?reason=child",
                      headers=officer)
    assert r.status_code == 200
    assert r.json["receipts_tombstoned"] == 2 and r.json["reason"] == "child"
    r = client.delete(f"/api/v1/subjects/recipient/{RECIPIENT}?reason=request&events=strip",
                      headers=officer)
    assert r.json["events_stripped"] == 3 and r.json["suppressions_kept"] == 1
    r = client.delete(f"/api/v1/subjects/account/{ACCOUNT}?reason=request", headers=officer)
    assert r.json["remember_tokens_deleted"] == 2 and r.json["wal_truncated"] is True

    r = client.get(f"/api/v1/subjects/consent/{ids['consent']}", headers=officer)
    assert r.json["receipts"] == []
    assert [h["action"] for h in r.json["access_log"]] == ["subject.erase"]
    entries = audit.read(app.extensions["cleargif"].identity)
    assert {e.actor for e in entries} == {"token:privacy officer"}
    assert [e.action for e in entries] == ["subject.export"] * 2 + ["subject.erase"] * 3 + [
        "subject.export"]
    assert entries[0].reason == "Art. 15"
    raw = all_bytes(tmp_path / "data")
    assert ids["consent"].encode() not in raw and ACCOUNT.encode() not in raw


def test_api_unknown_subject_is_an_empty_export(app: Flask, client: Any) -> None:
    officer = bearer(new_token(app, "pii", "officer"))
    for kind, value in (("visitor", "c" * 32), ("consent", "d" * 32),
                        ("recipient", "nobody"), ("account", "who/ever")):
        r = client.get(f"/api/v1/subjects/{kind}/{value}", headers=officer)
        assert r.status_code == 200, (kind, r.json)
        assert all(r.json[s] == [] for s in SECTIONS)
        assert r.json["subject"] == {"kind": kind, "id": value}


@pytest.mark.parametrize(("method", "url", "status", "message"), [
    ("get", "/api/v1/subjects/visitor/ABC", 400, "32 lowercase hexadecimal"),
    ("get", f"/api/v1/subjects/consent/{'a' * 33}", 400, "32 lowercase hexadecimal"),
    ("get", f"/api/v1/subjects/recipient/{'x' * 129}", 400, "1 to 128"),
    ("get", "/api/v1/subjects/email/someone", 404, "Unknown subject kind"),
    ("get", f"/api/v1/subjects/visitor/{'a' * 32}?reason=a%0Ab", 400, "one line"),
    ("delete", f"/api/v1/subjects/visitor/{'a' * 32}", 400, "Say why"),
    ("delete", f"/api/v1/subjects/visitor/{'a' * 32}?reason=x{'a' * 32}", 400,
     "must not contain"),
    ("delete", f"/api/v1/subjects/visitor/{'a' * 32}?reason=request&events=keep", 400,
     "events must be delete"),
    ("delete", "/api/v1/subjects/visitor/zz?reason=request", 400, "32 lowercase"),
])
def test_api_bad_input_is_a_clear_4xx(app: Flask, client: Any, method: str, url: str,
                                      status: int, message: str) -> None:
    officer = bearer(new_token(app, "pii", "officer"))
    r = getattr(client, method)(url, headers=officer)
    assert r.status_code == status, r.json
    assert message in r.json["error"] and r.json["error"].endswith(".")
    assert sql(app, "identity", "SELECT COUNT(*) FROM audit") == [(0,)]


def test_no_key_no_erasure(tmp_path: Path) -> None:
    """Without SECRET_KEYS the erasure could not be audited: it refuses before starting."""
    app = make_app(make_config(tmp_path, SECRET_KEYS=None))
    col = app.extensions["cleargif"]
    col.events.add_event(record(session="a" * 32, visitor="b" * 32))
    out = cli(app, "subject", "erase", "--visitor", "b" * 32, "--reason", "request", "--yes")
    assert out.exit_code == 2 and "SECRET_KEYS" in out.stderr
    assert len(stored_events(app)) == 1
    col.close()
