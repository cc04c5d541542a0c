"""The one clock of the collector, so tests can move time with ``monkeypatch``."""

from __future__ import annotations

import time


def now() -> float:
    """The current time in seconds since the epoch."""
    return time.time()
