"""``cleargif consent verify`` and ``consent show``: the receipt chain as proof of consent."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collector import audit, create_app
from collector.cli_privacy import tombstone_summary
from collector.receipts import GENESIS, ReceiptRow, canonical, chain_hash, check_chain
from tests.conftest import SITE
from tests.test_subjects import with_privacy


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = with_privacy(create_app(app_config))
    yield app
    app.extensions["cleargif"].close()


def decide(client: Any, **purposes: bool) -> None:
    r = client.post("/consent", json={"purposes": purposes}, headers={"Origin": SITE})
    assert r.status_code == 200


def five_receipts(app: Flask) -> list[tuple[int, str, str]]:
    """Five decisions by three browsers; ``(seq, receipt_id, subject_id)`` in order."""
    first, second, third = app.test_client(), app.test_client(), app.test_client()
    decide(first, analytics=True, personalization=True)
    decide(second, analytics=False)
    decide(first, analytics=True, personalization=False)
    decide(third, marketing=True)
    decide(second, analytics=True)
    return app.extensions["cleargif"].identity.query(
        "SELECT seq, receipt_id, subject_id FROM receipts ORDER BY seq")


def verify(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["consent", "verify"])


def tamper(app: Flask, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Edit the identity database behind the collector's back, as an attacker would."""
    app.extensions["cleargif"].close()
    conn = sqlite3.connect(Path(app.config["DATA_DIR"]) / "identity.db")
    with conn:
        for sql, params in statements:
            conn.execute(sql, params)
    conn.close()


def test_untouched_chain(app: Flask) -> None:
    five_receipts(app)
    out = verify(app)
    assert out.exit_code == 0, out.output
    assert out.stdout == "5 receipts, chain intact; 0 tombstones\n"
    assert "Last receipt: 5, hash" in out.stderr


def test_empty_chain(app: Flask) -> None:
    out = verify(app)
    assert out.exit_code == 0 and out.stdout == "0 receipts, chain intact; 0 tombstones\n"


def test_clean_after_purge_and_erasure(app: Flask) -> None:
    rows = five_receipts(app)
    identity = app.extensions["cleargif"].identity
    # Retention tombstones the third browser's receipt (as the purge does) …
    assert identity.tombstone_receipts("subject_id = ?", (rows[3][2],), "retention",
                                       1_800_000_000) == 1
    # … and the first browser's subject is erased as a child's.
    out = app.test_cli_runner().invoke(args=["subject", "erase", "--consent-subject",
                                             rows[0][2], "--reason", "child", "--yes"])
    assert out.exit_code == 0, out.output
    out = verify(app)
    assert out.exit_code == 0, out.output
    assert out.stdout == ("5 receipts, chain intact; 3 tombstones (erasure:child: 2, "
                          "retention: 1)\n")


def test_altered_receipt(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("UPDATE receipts SET body = replace(body, '\"analytics\"', '\"marketing\"') "
                 "WHERE seq = 2", ()))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == (f"receipt 2 {rows[1][1]}: altered — its body no longer matches "
                          "its hash\n")
    assert "5 receipts, 1 problem; 0 tombstones" in out.stderr


def test_removed_receipt(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("DELETE FROM receipts WHERE seq = 3", ()))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == f"receipt 4 {rows[3][1]}: removed — receipt 3 before it is missing\n"


def test_removed_first_receipts(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("DELETE FROM receipts WHERE seq <= 2", ()))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == (f"receipt 3 {rows[2][1]}: removed — receipts 1 to 2 before it are "
                          "missing\n")


def forged_body(app: Flask, receipt_id: str) -> str:
    """A plausible receipt body: a real one with another id and everything granted."""
    identity = app.extensions["cleargif"].identity
    (body,), = identity.query("SELECT body FROM receipts WHERE seq = 1")
    data = json.loads(body)
    data.update(receipt_id=receipt_id, granted=["necessary", "analytics", "personalization",
                                                "marketing"], denied=[])
    return canonical(data)


def test_inserted_receipt_in_the_middle(app: Flask) -> None:
    """A forger renumbers the rows after 2 and slips a well-formed receipt, correctly
    hashed and linked to receipt 2, in between: it is the one reported."""
    rows = five_receipts(app)
    identity = app.extensions["cleargif"].identity
    (prev,), = identity.query("SELECT hash FROM receipts WHERE seq = 2")
    forged_id = "f" * 32
    body = forged_body(app, forged_id)
    tamper(app,
           ("UPDATE receipts SET seq = seq + 100 WHERE seq >= 3", ()),
           ("UPDATE receipts SET seq = seq - 99 WHERE seq >= 103", ()),
           ("INSERT INTO receipts (seq, receipt_id, subject_id, created_at, prev_hash, hash, "
            "body) VALUES (3, ?, ?, 1, ?, ?, ?)",
            (forged_id, rows[0][2], prev, chain_hash(prev, body), body)))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == (f"receipt 3 {forged_id}: inserted — it sits between receipt 2 and "
                          "receipt 4, which link to each other\n")
    assert rows[2][1] not in out.stdout  # the genuine receipt after it is not blamed


def test_inserted_receipt_at_the_end(app: Flask) -> None:
    five_receipts(app)
    forged_id = "e" * 32
    body = forged_body(app, forged_id)
    tamper(app, ("INSERT INTO receipts (receipt_id, subject_id, created_at, prev_hash, hash, "
                 "body) VALUES (?, NULL, 1, ?, ?, ?)",
                 (forged_id, "0" * 63 + "1", chain_hash("0" * 63 + "1", body), body)))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == (f"receipt 6 {forged_id}: inserted — it does not link to the "
                          "receipt before it\n")


def test_altered_removed_and_inserted_together(app: Flask) -> None:
    rows = five_receipts(app)
    forged_id = "d" * 32
    body = forged_body(app, forged_id)
    tamper(app,
           ("UPDATE receipts SET body = replace(body, '\"dialog\"', '\"api\"') WHERE seq = 1",
            ()),
           ("DELETE FROM receipts WHERE seq = 3", ()),
           ("INSERT INTO receipts (receipt_id, subject_id, created_at, prev_hash, hash, body) "
            "VALUES (?, NULL, 1, ?, ?, ?)", (forged_id, GENESIS, chain_hash(GENESIS, body),
                                            body)))
    out = verify(app)
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines == [
        f"receipt 1 {rows[0][1]}: altered — its body no longer matches its hash",
        f"receipt 4 {rows[3][1]}: removed — receipt 3 before it is missing",
        f"receipt 6 {forged_id}: inserted — it links to the start of the chain, skipping "
        "receipts 1 to 5: either this receipt or those were inserted",
    ]
    assert "3 problems" in out.stderr


# --- the chain walk itself --------------------------------------------------------------

def chain(n: int) -> list[ReceiptRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = canonical({"receipt_id": f"{seq:032x}"})
        digest = chain_hash(prev, body)
        rows.append(ReceiptRow(seq, f"{seq:032x}", prev, digest, body))
        prev = digest
    return rows


def test_check_chain_blames_inserted_rows_not_their_successor() -> None:
    rows = chain(4)
    forged = [ReceiptRow(9, "x" * 32, rows[1].hash, "bad", "{}"),
              ReceiptRow(10, "y" * 32, "bad", "worse", "{}")]
    tampered = [*rows[:2], *forged, *rows[2:]]
    tampered = [ReceiptRow(i + 1, r.receipt_id, r.prev_hash, r.hash, r.body)
                for i, r in enumerate(tampered)]
    problems, tombstones, count = check_chain(tampered)
    assert count == 6 and tombstones == []
    assert [(p.seq, p.receipt_id, p.kind) for p in problems] == [
        (3, "x" * 32, "inserted"), (4, "y" * 32, "inserted")]


def test_check_chain_inserted_at_the_start() -> None:
    rows = chain(2)
    body = canonical({"receipt_id": "z" * 32})
    forged = ReceiptRow(1, "z" * 32, GENESIS, chain_hash(GENESIS, body), body)
    tampered = [forged, *(ReceiptRow(r.seq + 1, r.receipt_id, r.prev_hash, r.hash, r.body)
                          for r in rows)]
    problems, _, _ = check_chain(tampered)
    assert [(p.seq, p.kind) for p in problems] == [(1, "inserted")]
    assert "the start of the chain and receipt 2" in problems[0].detail


def test_tombstone_summary() -> None:
    rows = chain(3)
    stones = [ReceiptRow(r.seq, r.receipt_id, r.prev_hash, r.hash, None, reason, "1")
              for r, reason in zip(rows, ("retention", "erasure:child", "retention"),
                                   strict=True)]
    assert tombstone_summary(stones) == "3 tombstones (erasure:child: 1, retention: 2)"
    assert tombstone_summary(stones[:1]) == "1 tombstone (retention: 1)"
    assert tombstone_summary([]) == "0 tombstones"


# --- consent show -----------------------------------------------------------------------

def show(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["consent", "show", *args])


def test_show_prints_a_proof_and_is_audited(app: Flask) -> None:
    rows = five_receipts(app)
    subject = rows[0][2]
    out = show(app, "--subject", subject, "--reason", "complaint")
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert f"Consent receipts of subject {subject}: 2, oldest first (receipt chain intact)" \
        in text
    for needle in (f"Receipt {rows[0][1]}", f"Receipt {rows[2][1]}", "decided at",
                   "revision 1, notice SHA-256 ", "language        en",
                   "granted         necessary, analytics, personalization",
                   "denied          marketing", "source          ", "GPC no, DNT no",
                   "withdrawal      ", "chain           receipt 1, hash "):
        assert needle in text, needle
    [entry] = audit.read(app.extensions["cleargif"].identity)
    assert entry.action == "consent.show" and entry.reason == "complaint"
    assert entry.detail == {"receipts": 2} and entry.actor.startswith("os-user:")
    assert entry.subject_hmac == audit.subject_hmac(audit.subject_key(app.config), "consent",
                                                    subject)
    assert subject not in json.dumps(app.extensions["cleargif"].identity.query(
        "SELECT * FROM audit"))


def test_show_flags_a_tampered_receipt(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("UPDATE receipts SET body = replace(body, '\"en\"', '\"fr\"') WHERE seq = 3",
                 ()))
    out = show(app, "--subject", rows[0][2])
    assert out.exit_code == 0
    assert "receipt chain NOT intact, 1 problems" in out.stdout
    assert "WARNING         this receipt is altered" in out.stdout


def test_show_unknown_and_bad_subjects(app: Flask) -> None:
    out = show(app, "--subject", "a" * 32)
    assert out.exit_code == 0 and "No receipts are held" in out.stdout
    assert len(audit.read(app.extensions["cleargif"].identity)) == 1
    for bad in ("xyz", "A" * 32, ""):
        out = show(app, "--subject", bad)
        assert out.exit_code == 2 and "Traceback" not in out.output
        assert out.stderr.startswith("Error: ") and len(out.stderr.splitlines()) == 1
    assert show(app).exit_code == 2


def test_check_chain_last_row_linking_far_back_is_blamed_itself() -> None:
    """A well-formed forgery appended with a link to an old receipt: blaming the two
    genuine receipts it skips would be the larger edit, so it is named, with both
    readings."""
    rows = chain(4)
    body = canonical({"receipt_id": "w" * 32})
    forged = ReceiptRow(5, "w" * 32, rows[1].hash, chain_hash(rows[1].hash, body), body)
    problems, _, _ = check_chain([*rows, forged])
    assert [(p.seq, p.receipt_id, p.kind) for p in problems] == [(5, "w" * 32, "inserted")]
    assert problems[0].detail == ("it links to receipt 2, skipping receipts 3 to 4: either "
                                  "this receipt or those were inserted")


def test_show_survives_a_body_that_is_no_receipt(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("UPDATE receipts SET body = 'garbage' WHERE seq = 1", ()))
    out = show(app, "--subject", rows[0][2])
    assert out.exit_code == 0, out.output
    assert "not a receipt: garbage" in out.stdout
    assert "WARNING         this receipt is altered" in out.stdout
    document = json.loads(app.test_cli_runner().invoke(
        args=["subject", "export", "--consent-subject", rows[0][2]]).stdout)
    assert document["receipts"][0]["receipt"] == {"unreadable_body": "garbage"}
