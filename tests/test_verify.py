"""``cleargif consent verify`` and ``consent show``: the receipt chain as proof of consent."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collector.cli.privacy import tombstone_summary
from collector.consent.receipts import (
    GENESIS,
    ReceiptKeys,
    ReceiptRow,
    canonical,
    check_chain,
    sealer,
)
from collector.privacy import audit
from tests.conftest import SECRET, SITE, make_app, sql, sql_write


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(app_config)
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
    return sql(app, "identity",
        "SELECT seq, receipt_id, subject_id FROM receipts ORDER BY seq")


def verify(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["consent", "verify"])


KEYS = ReceiptKeys([SECRET])
KEY_ID = KEYS.signing_id


def keyed(prev: str, body: str) -> str:
    """A hash as the collector makes it: forgeries made with the key itself, to show the
    links still catch insertions."""
    return KEYS.sign(prev, body)[1]


def tombstone(app: Flask, seq: int, reason: str, now: int = 1_800_000_000) -> int:
    """Tombstone one receipt as retention or erasure does it: body and subject gone, the
    tombstone sealed with the collector's key."""
    [row] = [r for r in app.extensions["cleargif"].identity.receipt_rows() if r.seq == seq]
    seal = sealer(app.extensions["cleargif"].receipt_keys)(row, reason, now)
    return sql_write(app, "identity", "UPDATE receipts SET body = NULL, subject_id = NULL, "
                     "tombstone_reason = ?, tombstoned_at = ?, tombstone_seal = ? WHERE "
                     "seq = ?", (reason, now, seal, seq))


def tamper(app: Flask, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Edit the identity database behind the collector's back, as an attacker would."""
    app.extensions["cleargif"].close()
    conn = sqlite3.connect(Path(app.config["DATA_DIR"]) / "identity.db")
    with conn:
        for statement, params in statements:
            conn.execute(statement, params)
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
    # Retention tombstones the third browser's receipt (as the purge does) …
    assert tombstone(app, rows[3][0], "retention") == 1
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
    (body,), = sql(app, "identity", "SELECT body FROM receipts WHERE seq = 1")
    data = json.loads(body)
    data.update(receipt_id=receipt_id, granted=["necessary", "analytics", "personalization",
                                                "marketing"], denied=[])
    return canonical(data)


def test_inserted_receipt_in_the_middle(app: Flask) -> None:
    """A forger renumbers the rows after 2 and slips a well-formed receipt, correctly
    hashed and linked to receipt 2, in between: it is the one reported."""
    rows = five_receipts(app)
    (prev,), = sql(app, "identity", "SELECT hash FROM receipts WHERE seq = 2")
    forged_id = "f" * 32
    body = forged_body(app, forged_id)
    tamper(app,
           ("UPDATE receipts SET seq = seq + 100 WHERE seq >= 3", ()),
           ("UPDATE receipts SET seq = seq - 99 WHERE seq >= 103", ()),
           ("INSERT INTO receipts (seq, receipt_id, subject_id, created_at, prev_hash, hash, "
            "body, key_id) VALUES (3, ?, ?, (SELECT created_at FROM receipts WHERE seq = 1), "
            "?, ?, ?, ?)", (forged_id, rows[0][2], prev, keyed(prev, body), body, KEY_ID)))
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
                 "body, key_id) SELECT ?, subject_id, created_at, ?, ?, ?, ? FROM receipts "
                 "WHERE seq = 1", (forged_id, "0" * 63 + "1", keyed("0" * 63 + "1", body), body,
                                   KEY_ID)))
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
           ("INSERT INTO receipts (receipt_id, subject_id, created_at, prev_hash, hash, body, "
            "key_id) SELECT ?, subject_id, created_at, ?, ?, ?, ? FROM receipts WHERE seq = 1",
            (forged_id, GENESIS, keyed(GENESIS, body), body, KEY_ID)))
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
        digest = keyed(prev, body)
        rows.append(ReceiptRow(seq, f"{seq:032x}", prev, digest, body, key_id=KEY_ID))
        prev = digest
    return rows


def test_check_chain_blames_inserted_rows_not_their_successor() -> None:
    rows = chain(4)
    forged = [ReceiptRow(9, "x" * 32, rows[1].hash, "bad", "{}"),
              ReceiptRow(10, "y" * 32, "bad", "worse", "{}")]
    tampered = [*rows[:2], *forged, *rows[2:]]
    tampered = [ReceiptRow(i + 1, r.receipt_id, r.prev_hash, r.hash, r.body, key_id=KEY_ID)
                for i, r in enumerate(tampered)]
    problems, tombstones, count = check_chain(tampered, KEYS)
    assert count == 6 and tombstones == []
    assert [(p.seq, p.receipt_id, p.kind) for p in problems] == [
        (3, "x" * 32, "inserted"), (4, "y" * 32, "inserted")]


def test_check_chain_inserted_at_the_start() -> None:
    rows = chain(2)
    body = canonical({"receipt_id": "z" * 32})
    forged = ReceiptRow(1, "z" * 32, GENESIS, keyed(GENESIS, body), body, key_id=KEY_ID)
    tampered = [forged, *(ReceiptRow(r.seq + 1, r.receipt_id, r.prev_hash, r.hash, r.body,
                                     key_id=KEY_ID) for r in rows)]
    problems, _, _ = check_chain(tampered, KEYS)
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
    assert entry.subject_hmac == audit.subject_hmac(audit.subject_keyring(app.config), "consent",
                                                    subject)
    assert subject not in json.dumps(sql(app, "identity",
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
    forged = ReceiptRow(5, "w" * 32, rows[1].hash, keyed(rows[1].hash, body), body,
                        key_id=KEY_ID)
    problems, _, _ = check_chain([*rows, forged], KEYS)
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


# --- a keyed chain: what an attacker without SECRET_KEYS cannot do -------------------------

def rechain_without_the_key(app: Flask, seq: int, body_edit: tuple[str, str]) -> None:
    """Edit receipt ``seq`` and recompute every hash after it, as the unkeyed chain
    allowed: plain SHA-256 (or any key but the collector's)."""
    import hashlib

    rows = sql(app, "identity", "SELECT seq, body FROM receipts ORDER BY seq")
    statements, prev = [], GENESIS
    for n, body in rows:
        if n == seq:
            body = body.replace(*body_edit)
        digest = hashlib.sha256((prev + "\n" + body).encode()).hexdigest()
        statements.append(("UPDATE receipts SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                           (body, prev, digest, n)))
        prev = digest
    tamper(app, *statements)


def test_a_rewritten_chain_without_the_key_is_caught(app: Flask) -> None:
    rows = five_receipts(app)
    rechain_without_the_key(app, 4, ('"denied":[]', '"denied":["analytics"]'))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout.splitlines() == [
        f"receipt {seq} {rows[seq - 1][1]}: altered — its body no longer matches its hash"
        for seq in range(1, 6)]
    proof = show(app, "--subject", rows[3][2])
    assert "receipt chain NOT intact" in proof.stdout


def test_a_tombstone_made_by_hand_is_caught(app: Flask) -> None:
    rows = five_receipts(app)
    tamper(app, ("UPDATE receipts SET body = NULL, subject_id = NULL, tombstone_reason = "
                 "'erasure:request', tombstoned_at = 1 WHERE seq = 4", ()))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout == (f"receipt 4 {rows[3][1]}: altered — its tombstone is not sealed "
                          "by the collector (a body removed by hand, or a tombstone edited)\n")


def test_an_edited_tombstone_is_caught(app: Flask) -> None:
    rows = five_receipts(app)
    tombstone(app, 2, "retention")
    assert verify(app).exit_code == 0
    tamper(app, ("UPDATE receipts SET tombstone_reason = 'erasure:child' WHERE seq = 2", ()))
    out = verify(app)
    assert out.exit_code == 1 and out.stdout.startswith(f"receipt 2 {rows[1][1]}: altered")


@pytest.mark.parametrize(("column", "value", "detail"), [
    ("subject_id", "f" * 32, "its subject id column differs from its body"),
    ("subject_id", None, "its subject id column differs from its body"),
    ("created_at", 1, "its creation time differs from its body"),
])
def test_columns_beside_the_body_are_checked(app: Flask, column: str, value: Any,
                                             detail: str) -> None:
    rows = five_receipts(app)
    tamper(app, (f"UPDATE receipts SET {column} = ? WHERE seq = 3", (value,)))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout.startswith(f"receipt 3 {rows[2][1]}: altered — {detail}")


def test_a_keyed_body_that_is_no_receipt_is_reported_not_a_crash(app: Flask) -> None:
    rows = five_receipts(app)
    (prev,), = sql(app, "identity", "SELECT prev_hash FROM receipts WHERE seq = 5")
    tamper(app, ("UPDATE receipts SET body = '[1]', hash = ? WHERE seq = 5",
                 (keyed(prev, "[1]"),)))
    out = verify(app)
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.stdout == f"receipt 5 {rows[4][1]}: altered — its body is not a receipt\n"
    assert show(app, "--subject", rows[4][2]).exit_code == 0


def test_a_key_taken_off_the_list_is_told_apart(app_config: dict[str, Any]) -> None:
    old = make_app(app_config)
    five_receipts(old)
    old.extensions["cleargif"].close()
    rotated = make_app({**app_config, "SECRET_KEYS": [SECRET, "n" * 32]})
    decide(rotated.test_client(), analytics=True)  # signed by the new key
    out = verify(rotated)
    assert out.exit_code == 0, out.output  # old receipts still verify: their key is listed
    rotated.extensions["cleargif"].close()
    dropped = make_app({**app_config, "SECRET_KEYS": ["n" * 32]})
    out = verify(dropped)
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert len(lines) == 5 and all(": unverifiable — it is signed by key " in line
                                   for line in lines)
    assert "put that key back" in lines[0]


def test_head_proves_nothing_was_cut_off_the_end(app: Flask) -> None:
    five_receipts(app)
    out = verify(app)
    head = out.stderr.split("hash ")[1].split(";")[0]
    assert len(head) == 64
    decide(app.test_client(), analytics=True)
    assert verify_head(app, head).exit_code == 0  # the chain grew past it: fine
    tamper(app, ("DELETE FROM receipts WHERE seq >= 5", ()))
    out = verify_head(app, head)
    assert out.exit_code == 1
    assert "the receipt with the noted hash is gone" in out.stdout
    assert verify(app).exit_code == 0  # without the noted hash a cut end cannot be seen
    bad = verify_head(app, "not-a-hash")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --head must be")


def verify_head(app: Flask, head: str) -> Any:
    return app.test_cli_runner().invoke(args=["consent", "verify", "--head", head])


def test_a_receipt_before_a_tombstone_cannot_be_removed_unseen(app: Flask) -> None:
    """Delete receipt 1, relink the tombstone after it to the start of the chain and
    renumber: without the key the tombstone's seal no longer matches."""
    rows = five_receipts(app)
    tombstone(app, 2, "erasure:request")
    assert verify(app).exit_code == 0
    tamper(app, ("DELETE FROM receipts WHERE seq = 1", ()),
           ("UPDATE receipts SET prev_hash = ? WHERE seq = 2", (GENESIS,)),
           ("UPDATE receipts SET seq = seq + 100 WHERE seq >= 2", ()),
           ("UPDATE receipts SET seq = seq - 101 WHERE seq >= 102", ()))
    out = verify(app)
    assert out.exit_code == 1
    assert out.stdout.startswith(f"receipt 1 {rows[1][1]}: altered — its tombstone is not "
                                 "sealed by the collector")
