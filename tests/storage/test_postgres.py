"""The storage contract on PostgreSQL: the same classes as on SQLite, with the store
fixtures opening a fresh database of a throwaway server (``tests/pgserver.py``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from collector.errors import StorageError
from collector.ingest.records import FIELDS
from collector.storage import EventStore, IdentityStore, open_events, open_identity
from collector.storage.postgres import _EventWriter, _socket_waits
from tests.pgserver import TempPostgres
from tests.storage import test_contract as contract
from tests.storage import test_dashboard as dashboard
from tests.storage import test_mail as mail
from tests.storage import test_writable as writable

pytestmark = pytest.mark.postgres


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    """A record as the hit path's writer takes it."""
    return tuple(record[f] for f in FIELDS)


_numbers = itertools.count()


@pytest.fixture
def database(postgres: TempPostgres) -> str:
    """A new, empty database; its superuser URL."""
    return postgres.new_database(f"contract{next(_numbers)}")


@pytest.fixture
def events_store(database: str) -> Iterator[EventStore]:
    store = open_events(database)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def identity_store(database: str) -> Iterator[IdentityStore]:
    store = open_identity(database)
    store.migrate()
    yield store
    store.close()


class TestPostgresEventStore(contract.TestEventStore):
    """The event store's contract on PostgreSQL."""

    def test_raw_events_live_in_month_partitions(self, events_store: EventStore) -> None:
        jan, mar = 1_767_225_600, 1_772_323_200  # 2026-01-01 and 2026-03-01, UTC
        for ts in (jan + 10, jan + 20, mar + 30):
            events_store.add_event(contract.event(ts))
        partitions = [name for name, _, _ in events_store._partitions()]  # type: ignore[attr-defined]
        assert {"events_202601", "events_202603"} <= set(partitions)
        # A whole month inside the range goes as a partition; the edge in batches.
        assert events_store.delete_events_between(0, mar + 31, 1) == 3
        assert "events_202601" not in [n for n, _, _ in events_store._partitions()]  # type: ignore[attr-defined]
        assert events_store.count_events_before(2**40) == 0


    @pytest.mark.parametrize("count", [1, 5, 64])
    def test_a_batch_stores_every_field_as_written(self, events_store: EventStore,
                                                    count: int) -> None:
        # Hits written together share one INSERT of text parameters, prepared for their
        # number: every field comes back as written, NULLs, numbers, quotes, backslashes,
        # control and non-ASCII characters included.
        visitor = contract.ids(7)
        records = [contract.event(contract.DAY0 + i, contract.ids(i), visitor,
                                  path=f'/"ü\\\n{i}\u2028', referrer_host=None,
                                  utm_source="{a,b}", revision=i) for i in range(count)]
        writer = _EventWriter(events_store)  # type: ignore[arg-type]
        try:
            writer.insert([_row(record) for record in records])
        finally:
            writer.close()
        assert events_store.subject_events("visitor", visitor) == [
            {f: record[f] for f in FIELDS} for record in records]

    @pytest.mark.parametrize("count", [1, 3])
    def test_a_refused_batch_fails_alone(self, events_store: EventStore, count: int) -> None:
        # The server refuses the statement: one sentence with its reason, nothing of the
        # batch stored, and the next batch is written.
        writer = _EventWriter(events_store)  # type: ignore[arg-type]
        bad = [_row(contract.event(contract.DAY0 + i, revision="not a number"
                                   if i == count - 1 else 1)) for i in range(count)]
        try:
            with pytest.raises(StorageError, match=r"^Using .* failed: invalid input "
                                                   r"syntax for type integer.*\.$"):
                writer.insert(bad)
            writer.insert([_row(contract.event(contract.DAY0 + 99))])
        finally:
            writer.close()
        assert events_store.count_events_before(2**40) == 1

    def test_a_lost_connection_fails_its_batch_and_the_next_reconnects(
            self, events_store: EventStore, database: str) -> None:
        import psycopg

        writer = _EventWriter(events_store)  # type: ignore[arg-type]
        try:
            writer.insert([_row(contract.event(contract.DAY0))])
            with psycopg.connect(database, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)",
                              (writer.conn.info.backend_pid,))
            with pytest.raises(StorageError, match=r"^Using .* failed: "):
                writer.insert([_row(contract.event(contract.DAY0 + 1))])
            writer.insert([_row(contract.event(contract.DAY0 + 2)),
                           _row(contract.event(contract.DAY0 + 3))])
        finally:
            writer.close()
        assert events_store.count_events_before(2**40) == 3

    def test_greenlets_hits_go_through_both_writers_and_are_each_stored_once(
            self, events_store: EventStore, database: str) -> None:
        # As in a gevent worker: many requests at once share batches, a second batch is
        # written on the second connection while the first is under way, and every hit
        # is stored once.
        import subprocess
        import sys

        code = f"""
from gevent import monkey
monkey.patch_all()
import gevent
from collector.storage import open_events
from collector.storage.postgres import HIT_CONNECTIONS
from tests.storage.test_contract import DAY0, event
store = open_events({database!r})
gevent.joinall([gevent.spawn(store.add_event, event(DAY0 + i, path=f"/p{{i}}"))
                for i in range(300)], raise_error=True)
used = sum(w.conn is not None for w in store._hits.writers)
print(store.count_events_before(2**40), used, HIT_CONNECTIONS)
store.close()
"""
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.stdout.split() == ["300", "2", "2"], done.stderr[-3000:]
        assert events_store.count_events_before(2**40) == 300

    def test_a_nul_character_is_refused_not_cut(self, events_store: EventStore) -> None:
        # libpq's text parameters end at a NUL: the writer refuses such a value, as
        # psycopg does, rather than store it cut short.
        writer = _EventWriter(events_store)  # type: ignore[arg-type]
        try:
            with pytest.raises(StorageError, match="cannot contain NUL"):
                writer.insert([_row(contract.event(contract.DAY0, path="/a\x00b"))])
        finally:
            writer.close()
        assert events_store.count_events_before(2**40) == 0

    def test_cells_read_in_part_leave_the_pool_usable(self, events_store: EventStore) -> None:
        # Grouped rows are streamed off a pooled connection: a reader that stops early
        # (an error while folding) must give the connection back ready for the next query.
        for i in range(50):
            events_store.add_event(contract.event(contract.DAY0 + i, path=f"/{i}"))
        query = contract.CellQuery(by=("path",), ranges=contract.ALL_DAYS)
        for _ in range(6):  # more than the pool's connections
            cells = events_store.cells(query)
            assert next(cells).hits == 1
            cells.close()  # type: ignore[attr-defined]
        assert sum(c.hits for c in events_store.cells(query)) == 50


class TestPostgresIdentityStore(contract.TestIdentityStore):
    """The identity store's contract on PostgreSQL."""


class TestPostgresMailStorage(mail.TestMailStorage):
    """Campaign sends and email counts on PostgreSQL."""


class TestPostgresBurstStorage(mail.TestBurstStorage):
    """Burst detection on PostgreSQL."""


class TestPostgresSuppressionStorage(mail.TestSuppressionStorage):
    """Suppression reasons on PostgreSQL."""


def test_the_events_role_cannot_read_the_identity_schema(postgres: TempPostgres) -> None:
    server = postgres
    name = f"roles{next(_numbers)}"
    server.sql(f"CREATE ROLE {name}_events LOGIN PASSWORD 'e'",
               f"CREATE ROLE {name}_identity LOGIN PASSWORD 'i'",
               f"CREATE DATABASE {name}")
    server.sql(f"GRANT CREATE ON DATABASE {name} TO {name}_events, {name}_identity",
               database=name)
    identity = open_identity(server.url(name, f"{name}_identity", "i"))
    events = open_events(server.url(name, f"{name}_events", "e"))
    identity.migrate()
    events.migrate()
    identity.append_receipt("a" * 32, "b" * 32, 1, "{}", lambda p, b: ("k", "h"))
    import psycopg

    with psycopg.connect(server.url(name, f"{name}_events", "e")) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM cleargif_identity.receipts")
    events.close()
    identity.close()


def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    store = open_events("postgresql://user:secret-pw@127.0.0.1:1/none")
    with pytest.raises(StorageError) as info:
        store.ping()
    assert "secret-pw" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    store.close()


class TestPostgresAccountsStorage(dashboard.TestAccountsStorage):
    """Dashboard accounts on PostgreSQL."""


class TestPostgresConsentDecisionsStorage(dashboard.TestConsentDecisionsStorage):
    """Consent decisions counted by day on PostgreSQL."""


class TestPostgresActiveCampaignsStorage(dashboard.TestActiveCampaignsStorage):
    """Active campaigns on PostgreSQL."""


class TestPostgresWritable(writable.TestWritable):
    """Health means writable, on PostgreSQL."""

    def test_a_read_only_database_is_not_writable_until_it_is_again(
            self, events_store: EventStore, database: str, postgres: TempPostgres) -> None:
        events_store.check_writable()
        name = database.rsplit("/", 1)[1]
        postgres.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        events_store.close()  # new sessions take the database's setting
        with pytest.raises(StorageError, match="read-only"):
            events_store.check_writable()
        postgres.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = off")
        events_store.close()
        events_store.check_writable()


def test_the_writer_waits_the_gevent_way_only_under_gevent() -> None:
    # In a monkey-patched gevent worker, a commit's wait must let other requests run
    # (gevent's own wait); elsewhere a plain poll, which releases the GIL.
    import subprocess
    import sys

    probe = ("from collector.storage.postgres import _socket_waits\n"
             "import gevent.socket\n"
             "print(_socket_waits()[0] is gevent.socket.wait_read)\n")
    patched = "from gevent import monkey\nmonkey.patch_all()\n" + probe
    answers = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip() for code in (patched, probe)]
    assert answers == ["True", "False"]
    wait_read, wait_write = _socket_waits()
    import socket

    left, right = socket.socketpair()
    with left, right:
        wait_write(left.fileno())  # an empty buffer: writable at once
        right.send(b"x")
        wait_read(left.fileno())  # readable now
        assert left.recv(1) == b"x"
