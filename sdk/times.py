"""Time as cleargif writes it, in one place for the SDK and the collector."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

#: Seconds in a day (retention periods and cookie lifetimes are whole days).
DAY: Final = 86400


def iso(ts: float) -> str:
    """A moment as UTC ISO-8601 with whole seconds and a ``Z``: ``2026-12-06T13:17:36Z``."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
