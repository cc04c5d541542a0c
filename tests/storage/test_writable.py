"""The storage contract for "health means writable" (DESIGN 3): ``check_writable`` commits
a write that changes nothing, on every backend; the SQLite backend recovers from a
connection that can no longer write without a restart."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from collector.errors import StorageError
from collector.storage import EventStore, IdentityStore, Suppression


class TestWritable:
    """Run on every backend (the PostgreSQL tests override the store fixtures)."""

    def test_a_healthy_store_is_writable(self, events_store: EventStore,
                                         identity_store: IdentityStore) -> None:
        for store in (events_store, identity_store):
            for _ in range(3):
                store.check_writable()

    def test_the_check_changes_no_data(self, events_store: EventStore,
                                       identity_store: IdentityStore) -> None:
        events_store.add_sends("spring", "news", 5, 100)
        identity_store.suppress([Suppression("news", "r-1", "spring")], 100)
        versions = (events_store.schema_version(), identity_store.schema_version())
        events_store.check_writable()
        identity_store.check_writable()
        assert (events_store.schema_version(), identity_store.schema_version()) == versions
        assert events_store.sends_of("spring") == 5
        assert [r.recipient for r in identity_store.suppressions_of("r-1")] == ["r-1"]
        assert events_store.dropped() == {}

    def test_writes_go_on_after_the_check(self, events_store: EventStore) -> None:
        events_store.check_writable()
        events_store.count_dropped("2026-01-01", "site")
        events_store.check_writable()
        events_store.count_dropped("2026-01-01", "site")
        assert events_store.dropped() == {"site": 2}


class TestSQLiteRecovery:
    """SQLite only: a connection opened while the file was read-only never writes again;
    after a failed write the store opens a new one, so it recovers once the file is
    writable, without a restart."""

    @pytest.mark.parametrize("kind", ["events", "identity"])
    def test_a_read_only_connection_is_replaced(self, events_store: Any, identity_store: Any,
                                                kind: str) -> None:
        store = events_store if kind == "events" else identity_store
        store.close()
        real_connect = store._connect
        opened: list[str] = []

        def connect_read_only_once() -> sqlite3.Connection:
            if not opened:  # as if the file were read-only when this thread first opened it
                opened.append("ro")
                conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True,
                                       isolation_level=None, check_same_thread=False)
                return conn
            opened.append("rw")
            return real_connect()

        store._connect = connect_read_only_once
        with pytest.raises(StorageError) as failed:
            store.check_writable()
        assert "readonly" in str(failed.value)
        store.check_writable()  # the file is writable again: no restart needed
        assert opened == ["ro", "rw"]
        if kind == "events":
            store.count_dropped("2026-01-01", "rate")
            assert store.dropped() == {"rate": 1}
