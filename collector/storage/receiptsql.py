"""The SQL of counting consent decisions, shared by both backends, and the facts of a
receipt's body kept beside it for that (see the identity migration ``receipt_facts``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def facts(body: str) -> tuple[str, int, int]:
    """``(granted, gpc, dnt)`` of a receipt's JSON body: the purposes granted, each
    between spaces, and whether GPC and DNT came with the decision (1 or 0)."""
    decoded = json.loads(body)
    granted = [str(p) for p in decoded.get("granted") or []]
    return (f" {' '.join(granted)} ", int(decoded.get("gpc") is True),
            int(decoded.get("dnt") is True))


def decisions(days: str, mark: str, receipts: str, purposes: Sequence[str]) -> str:
    """Per local day of ``days`` (a table ``d(label, start, stop)``): decisions, distinct
    deciding subjects, the decisions granting each purpose, with GPC, with DNT; one row
    per day with receipts, in day order. Its parameters: the purposes' patterns
    (:func:`patterns`), after any of ``days`` that come before them in the text."""
    grants = "".join(f", COUNT(*) FILTER (WHERE r.granted LIKE {mark})" for _ in purposes)
    return (f"SELECT d.label, COUNT(*), COUNT(DISTINCT r.subject_id){grants}, "
            "COUNT(*) FILTER (WHERE r.gpc = 1), COUNT(*) FILTER (WHERE r.dnt = 1) FROM "
            f"{days} JOIN {receipts} r ON r.created_at >= d.start AND r.created_at < d.stop "
            "WHERE r.body IS NOT NULL GROUP BY d.label ORDER BY d.label")


def patterns(purposes: Sequence[str]) -> list[Any]:
    """The ``LIKE`` patterns of :func:`decisions` (purposes are plain words)."""
    return [f"% {purpose} %" for purpose in purposes]
