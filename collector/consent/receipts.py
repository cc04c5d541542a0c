"""Consent receipts (DESIGN 4): one schema, append-only, in a keyed hash chain.

Each receipt's hash is an HMAC, keyed by a key derived from ``SECRET_KEYS``, over the
previous receipt's hash and its own canonical body, so an edit, a removal or an
insertion breaks the chain, and nobody without the key can write a chain that verifies.
Purge and erasure replace a body by a tombstone but keep the hashes; each tombstone is
sealed with the key too, so :func:`verify_chain` can tell a sanctioned removal from
tampering, and a tombstone made by hand from either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sdk.keyring import Keyring
from sdk.times import iso

from ..storage import GENESIS, ReceiptRow, TombstoneSealer
from .rules import SCHEMA_VERSION, Decision

WITHDRAW_HOW = ("Open \"Cookie settings\" on any page of the site, or send DELETE /consent "
                "to the collector; withdrawing is as easy as giving.")


def build_receipt(*, receipt_id: str, subject_id: str, now: float, revision: int,
                  notice_sha256: str, lang: str, decision: Decision, source: str, gpc: bool,
                  dnt: bool) -> dict[str, Any]:
    """The receipt body for one decision, with every field of DESIGN 4."""
    return {
        "schema": SCHEMA_VERSION,
        "receipt_id": receipt_id,
        "subject_id": subject_id,
        "time": iso(now),
        "revision": revision,
        "notice_sha256": notice_sha256,
        "lang": lang,
        "granted": ["necessary", *decision.granted],
        "denied": list(decision.denied),
        "gpc_override": decision.gpc_override,
        "source": source,
        "gpc": gpc,
        "dnt": dnt,
        "withdraw": WITHDRAW_HOW,
    }


def canonical(body: Mapping[str, Any]) -> str:
    """The canonical JSON text that is hashed and stored."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_text(prev_hash: str, body_text: str) -> bytes:
    """What a receipt's hash covers: the previous receipt's hash and its own body."""
    return (prev_hash + "\n" + body_text).encode()


def tombstone_text(seq: int, receipt_id: str, prev_hash: str, digest: str, reason: str,
                   tombstoned_at: int, created_at: int) -> str:
    """What a tombstone's seal covers: its place in the chain (sequence number and link
    back, so the receipts before it cannot be removed unseen), which receipt, its hash,
    why, when, and its age."""
    return (f"tombstone\n{seq}\n{receipt_id}\n{prev_hash}\n{digest}\n{reason}\n"
            f"{tombstoned_at}\n{created_at}")


#: The purpose the receipt chain's keys are derived for (apart from every other MAC).
RECEIPT_KEY_PURPOSE = b"cleargif consent receipts v1"


class ReceiptKeys:
    """The keys of the receipt chain (a :class:`~sdk.keyring.Keyring` over ``SECRET_KEYS``):
    the newest signs, every listed one verifies. Rows name their key by its id, so a key
    taken off the list is told apart from an edit.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        self.ring = Keyring(secrets, RECEIPT_KEY_PURPOSE)

    @property
    def signing_id(self) -> str:
        """The id of the key that signs new receipts and tombstones."""
        return self.ring.newest

    def sign(self, prev_hash: str, body_text: str) -> tuple[str, str]:
        """``(key id, hash)`` of a new receipt under the newest key."""
        key, mac = self.ring.sign(chain_text(prev_hash, body_text))
        return key, mac.hex()

    def seal(self, text: str) -> str:
        """``"<key id>:<hmac>"`` over a tombstone's :func:`tombstone_text`."""
        key, mac = self.ring.sign(text.encode())
        return f"{key}:{mac.hex()}"

    def check_hash(self, key_id: str, prev_hash: str, body_text: str,
                   digest: str) -> bool | None:
        """Whether ``digest`` is right; ``None`` when key ``key_id`` is not listed."""
        return self.ring.check(chain_text(prev_hash, body_text), digest, key_id)

    def check_seal(self, text: str, seal: str | None) -> bool | None:
        """Whether ``seal`` seals ``text``; ``None`` when its key is not listed."""
        key_id, _, mac = (seal or "").partition(":")
        if not key_id or not mac:
            return False
        return self.ring.check(text.encode(), mac, key_id)


def sealer(keys: ReceiptKeys) -> TombstoneSealer:
    """What the store calls to seal each tombstone it writes."""
    def seal(row: ReceiptRow, reason: str, now: int) -> str:
        return keys.seal(tombstone_text(row.seq, row.receipt_id, row.prev_hash, row.hash,
                                        reason, now, row.created_at or 0))
    return seal


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One unexplained edit or gap, with the ids involved."""

    seq: int
    receipt_id: str
    kind: str  # "altered", "removed", "inserted", "unverifiable"
    detail: str


def verify_chain(rows: Iterable[ReceiptRow],
                 keys: ReceiptKeys) -> tuple[list[ChainProblem], list[ReceiptRow]]:
    """Walk the chain in order: ``(problems, tombstones)``.

    A body whose hash does not match under its key, or whose receipt id, subject id or
    time disagree with the columns beside it, is *altered*; a tombstone whose seal does
    not match is *altered* too; a row signed or sealed by a key no longer in
    ``SECRET_KEYS`` is *unverifiable*. A row whose ``prev_hash`` is not the previous
    row's hash means rows were *removed* before it, or it was *inserted*; a sequence gap
    is a removal.
    """
    problems: list[ChainProblem] = []
    tombstones: list[ReceiptRow] = []
    prev_hash, prev_seq = GENESIS, 0
    for row in rows:
        problem = _row_problem(row, keys)
        if problem:
            problems.append(ChainProblem(row.seq, row.receipt_id, *problem))
        if row.body is None:
            tombstones.append(row)
        if row.prev_hash != prev_hash:
            if row.seq != prev_seq + 1:
                problems.append(ChainProblem(row.seq, row.receipt_id, "removed",
                                             f"receipts {prev_seq + 1}..{row.seq - 1} are "
                                             "missing"))
            else:
                problems.append(ChainProblem(row.seq, row.receipt_id, "inserted",
                                             "it does not link to the receipt before it"))
        elif row.seq != prev_seq + 1:
            problems.append(ChainProblem(row.seq, row.receipt_id, "removed",
                                         f"sequence numbers {prev_seq + 1}..{row.seq - 1} "
                                         "are missing"))
        prev_hash, prev_seq = row.hash, row.seq
    return problems, tombstones


def _row_problem(row: ReceiptRow, keys: ReceiptKeys) -> tuple[str, str] | None:
    """``(kind, detail)`` of what is wrong with one row on its own, or ``None``."""
    if row.body is None:
        text = tombstone_text(row.seq, row.receipt_id, row.prev_hash, row.hash,
                              row.tombstone_reason or "", row.tombstoned_at or 0,
                              row.created_at or 0)
        sealed = keys.check_seal(text, row.tombstone_seal)
        if sealed is None:
            return ("unverifiable", f"its tombstone is sealed by key "
                    f"{(row.tombstone_seal or '').partition(':')[0]}, which SECRET_KEYS no "
                    "longer lists; put that key back (oldest first) to check it")
        if not sealed:
            return ("altered", "its tombstone is not sealed by the collector (a body "
                    "removed by hand, or a tombstone edited)")
        return None
    matches = keys.check_hash(row.key_id, row.prev_hash, row.body, row.hash)
    if matches is None:
        return ("unverifiable", f"it is signed by key {row.key_id or '(none)'}, which "
                "SECRET_KEYS no longer lists; put that key back (oldest first) to check it")
    if not matches:
        return ("altered", "its body no longer matches its hash")
    try:
        body = json.loads(row.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ("altered", "its body is not a receipt")
    if body.get("receipt_id") != row.receipt_id:
        return ("altered", "its id differs from the id in its body")
    if body.get("subject_id") != row.subject_id:
        return ("altered", "its subject id column differs from its body, so a proof "
                "would name the wrong subject")
    if body.get("time") != (None if row.created_at is None else iso(row.created_at)):
        return ("altered", "its creation time differs from its body, so retention would "
                "misjudge its age")
    return None


def check_chain(rows: Iterable[ReceiptRow],
                keys: ReceiptKeys) -> tuple[list[ChainProblem], list[ReceiptRow], int]:
    """:func:`verify_chain`, with each problem pinned on the right row: ``(problems,
    tombstones, number of rows)``.

    ``verify_chain`` flags the row *after* an inserted one, because its link no longer
    matches the row before it. When that row links to an earlier row instead, either the
    rows in between were inserted or the row itself was. The rows in between are blamed
    when that is the smaller edit (a genuine row is vouched for by the next row linking
    to it) or when they are broken anyway; otherwise the row says both. Removals name
    the missing sequence numbers.
    """
    rows = list(rows)
    problems, tombstones = verify_chain(rows, keys)
    index = {row.seq: i for i, row in enumerate(rows)}
    position = {row.hash: i for i, row in enumerate(rows)}
    position[GENESIS] = -1
    broken = {p.seq for p in problems if p.kind == "altered"}
    forged: dict[int, ChainProblem] = {}
    kept: list[ChainProblem] = []
    for problem in problems:
        i = index[problem.seq]
        row = rows[i]
        j = position.get(row.prev_hash)
        if problem.kind == "inserted" and j is not None and j < i - 1:
            between = rows[j + 1:i]
            before = "the start of the chain" if j < 0 else f"receipt {rows[j].seq}"
            vouched = i + 1 < len(rows) and rows[i + 1].prev_hash == row.hash
            if len(between) < (2 if vouched else 1) or all(r.seq in broken
                                                             for r in between):
                for r in between:
                    forged[r.seq] = ChainProblem(
                        r.seq, r.receipt_id, "inserted",
                        f"it sits between {before} and receipt {row.seq}, which link to "
                        "each other")
                continue
            span = _span(between[0].seq, between[-1].seq)
            problem = ChainProblem(row.seq, row.receipt_id, "inserted",
                                   f"it links to {before}, skipping {span}: either this "
                                   "receipt or those were inserted")
        elif problem.kind == "removed":
            first = rows[i - 1].seq + 1 if i else 1
            missing = f"{_span(first, row.seq - 1)} before it"
            problem = ChainProblem(row.seq, row.receipt_id, "removed",
                                   f"{missing} {'is' if first == row.seq - 1 else 'are'} "
                                   "missing")
        kept.append(problem)
    # An inserted row's own hash may fail too: "inserted" says all there is to say.
    result = [p for p in kept if p.seq not in forged] + list(forged.values())
    result.sort(key=lambda p: (p.seq, p.kind))
    return result, tombstones, len(rows)


def _span(first: int, last: int) -> str:
    return f"receipt {first}" if first == last else f"receipts {first} to {last}"
