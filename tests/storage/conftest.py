"""The stores under test, opened by URL as the collector opens them. The contract tests
take ``events_store`` and ``identity_store`` and run on every backend: the PostgreSQL
tests re-run the same classes with these fixtures overridden."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.storage import EventStore, IdentityStore, open_events, open_identity


@pytest.fixture
def events_store(tmp_path: Path) -> Iterator[EventStore]:
    """A fresh event store (SQLite in a temporary folder)."""
    store = open_events(f"sqlite:///{tmp_path}/events.db")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def identity_store(tmp_path: Path) -> Iterator[IdentityStore]:
    """A fresh identity store (SQLite in a temporary folder)."""
    store = open_identity(f"sqlite:///{tmp_path}/identity.db")
    store.migrate()
    yield store
    store.close()
