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


def check_chain(rows: Iterable[ReceiptRow]) -> tuple[list[ChainProblem], list[ReceiptRow],
                                                      int]:
    """:func:`collector.receipts.verify_chain`, with each problem pinned on the right row:
    ``(problems, tombstones, number of rows)``.

    ``verify_chain`` flags the row *after* an inserted one, because its link no longer
    matches the row before it. When that row links to an earlier row instead, either the
    rows in between were inserted or the row itself was. The rows in between are blamed
    when that is the smaller edit (a genuine row is vouched for by the next row linking
    to it) or when they are broken anyway; otherwise the row says both. Removals name
    the missing sequence numbers.
    """
    rows = list(rows)
    problems, tombstones = verify_chain(rows)
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
