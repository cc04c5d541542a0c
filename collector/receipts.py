"""Consent receipts (DESIGN 4): one schema, append-only, hash-chained.

Each receipt's hash covers the previous receipt's hash and its own canonical body, so an
edit, a removal or an insertion breaks the chain. Purge and erasure replace a body by a
tombstone but keep the hashes, so :func:`verify_chain` can tell a sanctioned removal from
tampering.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .consent import SCHEMA_VERSION, Decision

GENESIS = "0" * 64
WITHDRAW_HOW = ("Open \"Cookie settings\" on any page of the site, or send DELETE /consent "
                "to the collector; withdrawing is as easy as giving.")


def iso(ts: float) -> str:
    """UTC ISO-8601 with whole seconds and a ``Z``."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def chain_hash(prev_hash: str, body_text: str) -> str:
    """SHA-256 of the previous hash and this body."""
    return hashlib.sha256((prev_hash + "\n" + body_text).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    """A stored receipt as the chain sees it."""

    seq: int
    receipt_id: str
    prev_hash: str
    hash: str
    body: str | None
    tombstone_reason: str | None = None
    tombstoned_at: str | None = None


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One unexplained edit or gap, with the ids involved."""

    seq: int
    receipt_id: str
    kind: str  # "altered", "removed", "inserted"
    detail: str


def verify_chain(rows: Iterable[ReceiptRow]) -> tuple[list[ChainProblem], list[ReceiptRow]]:
    """Walk the chain in order: ``(problems, tombstones)``.

    A body whose hash does not match is *altered*; a row whose ``prev_hash`` is not the
    previous row's hash means rows were *removed* before it, or it was *inserted*; a
    sequence gap is a removal. Tombstones are checked by link only.
    """
    problems: list[ChainProblem] = []
    tombstones: list[ReceiptRow] = []
    prev_hash, prev_seq = GENESIS, 0
    for row in rows:
        if row.body is None:
            tombstones.append(row)
        elif chain_hash(row.prev_hash, row.body) != row.hash:
            problems.append(ChainProblem(row.seq, row.receipt_id, "altered",
                                         "its body no longer matches its hash"))
        else:
            try:
                stored_id = json.loads(row.body).get("receipt_id")
            except ValueError:
                stored_id = None
            if stored_id != row.receipt_id:
                problems.append(ChainProblem(row.seq, row.receipt_id, "altered",
                                             "its id differs from the id in its body"))
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
