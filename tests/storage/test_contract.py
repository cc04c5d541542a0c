"""The storage contract: what every backend of the event and identity stores must do,
asked through the protocols only. ``tests/storage/test_postgres.py`` re-runs these
classes on PostgreSQL by overriding the store fixtures."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from collector.storage import (
    GENESIS,
    CellCounts,
    CellQuery,
    EventStore,
    IdentityStore,
    ReceiptRow,
    Suppression,
    day_label,
)
from tests.conftest import pageview

DAY0 = 1_780_000_000 - 1_780_000_000 % 86400  # a UTC midnight
DAYS = tuple((day_label(DAY0 // 86400 + i), DAY0 + i * 86400, DAY0 + (i + 1) * 86400)
             for i in range(3))
FIRST_DAY = ((DAY0, DAY0 + 86400),)
ALL_DAYS = ((DAY0, DAY0 + 3 * 86400),)


#: A stored page-view record (the suite's own, with the same defaults everywhere).
event = pageview


def ids(n: int) -> str:
    return f"{n:032x}"


class TestEventStore:
    """Events, counters, cells, roll-ups, sends and subjects."""

    def test_a_store_migrates_once_and_exists(self, events_store: EventStore) -> None:
        assert events_store.exists()
        assert events_store.schema_version() >= 1
        assert events_store.migrate() == []
        events_store.ping()
        assert events_store.flush_deleted() in (True, False)

    def test_a_lock_is_held_by_one_at_a_time(self, events_store: EventStore) -> None:
        with events_store.exclusive("purge") as first:
            assert first
            with events_store.exclusive("purge") as second:
                assert not second  # another holder (here: another connection or file)
            with events_store.exclusive("other") as other:
                assert other
        with events_store.exclusive("purge") as again:
            assert again

    def test_dropped_counters_by_day(self, events_store: EventStore) -> None:
        for day, reason in (("2026-01-01", "site"), ("2026-01-01", "site"),
                            ("2026-01-02", "prefetch"), ("2026-01-03", "site")):
            events_store.count_dropped(day, reason)
        assert events_store.dropped() == {"prefetch": 1, "site": 3}
        assert events_store.dropped("2026-01-01", "2026-01-02") == {"prefetch": 1, "site": 2}

    def test_hits_written_at_once_are_each_stored_once(self, events_store: EventStore) -> None:
        # Eight writers at once, their hits on both sides of a month's end (on PostgreSQL
        # one statement may then need two partitions), with empty fields, and non-ASCII
        # characters, quotes, backslashes and tabs in them (PostgreSQL reads batches as JSON).
        month_end = 1_769_904_000  # 2026-02-01 00:00 UTC
        hits = [event(month_end + (60 if i % 2 else -60), path=f"/ü/\"q\\\t{i}",
                      referrer_host=None if i % 3 else "a.example", revision=i % 4)
                for i in range(200)]

        def write(part: int) -> None:
            for record in hits[part::8]:
                events_store.add_event(record)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        query = CellQuery(by=("path", "referrer_host", "revision"),
                          ranges=((month_end - 86400, month_end + 86400),))
        stored = {c.key: c.hits for c in events_store.cells(query)}
        assert stored == {(h["path"], h["referrer_host"], h["revision"]): 1 for h in hits}

    def test_cells_count_people_by_the_rule(self, events_store: EventStore) -> None:
        t = DAY0 + 3600
        for record in [event(t, ids(1), ids(9)), event(t, ids(1), ids(9)),  # one visitor
                       event(t, ids(2)), event(t, ids(2)), event(t, ids(3)),  # two sessions
                       event(t), event(t), event(t),  # three cookieless hits
                       event(t, ids(4), path="/b"), event(t, device="bot"),
                       event(t + 86400, ids(5), ids(8))]:
            events_store.add_event(record)
        query = CellQuery(by=("path",), ranges=FIRST_DAY)
        cells = {c.key: c for c in events_store.cells(query)}
        assert cells[("/",)] == CellCounts(("/",), 8, 3, 1, 3, 3, 3)
        assert cells[("/b",)] == CellCounts(("/b",), 1, 1, 0, 1, 0, 1)
        by_day = {c.key: c.hits for c in events_store.cells(
            CellQuery(by=("day",), ranges=ALL_DAYS, include_bots=True))}
        assert by_day == {(DAYS[0][0],): 10, (DAYS[1][0],): 1}
        assert events_store.count_events(CellQuery(by=(), ranges=ALL_DAYS)) == 10
        filtered = list(events_store.cells(CellQuery(by=(), ranges=FIRST_DAY,
                                                     where=(("path", "/b"),))))
        assert [c.hits for c in filtered] == [1]

    def test_small_cells_list_their_ids(self, events_store: EventStore) -> None:
        """The cells under ``ids_below`` list their distinct ids from the same pass, so
        that ``(other)`` counts the people of several cells exactly."""
        t = DAY0 + 3600
        for record in [event(t, ids(1), ids(9)), event(t, ids(1), ids(9)),  # one visitor
                       event(t, ids(2)), event(t, ids(2)), event(t, ids(3)),  # two sessions
                       event(t), event(t), event(t),  # three cookieless hits: size 6
                       event(t, ids(4), path="/b"), event(t, ids(5), ids(8), path="/b"),
                       event(t, "", "", path="/c"),  # empty ids are none
                       event(t, ids(6), path="/d", device="bot")]:
            events_store.add_event(record)
        query = CellQuery(by=("path",), ranges=FIRST_DAY)

        def listed(ids_below: int) -> dict[tuple[Any, ...], Any]:
            return {c.key: c.ids and tuple(set(i) for i in c.ids)
                    for c in events_store.cells(query, ids_below=ids_below)}

        assert listed(0) == {("/",): None, ("/b",): None, ("/c",): None}
        assert listed(6) == {("/",): None,
                             ("/b",): ({ids(4), ids(5)}, {ids(8)}, {ids(4)}),
                             ("/c",): (set(), set(), set())}
        assert listed(7)[("/",)] == ({ids(1), ids(2), ids(3)}, {ids(9)}, {ids(2), ids(3)})
        counted = {c.key: c[:7] for c in events_store.cells(query)}
        assert {c.key: c[:7] for c in events_store.cells(query, ids_below=7)} == counted
        everything = CellQuery(by=(), ranges=FIRST_DAY, include_bots=True)
        [cell] = events_store.cells(everything, ids_below=100)
        assert cell.hits == 12 and cell.ids is not None
        assert set(cell.ids.sessions) == {ids(n) for n in range(1, 7)}
        nothing = CellQuery(by=(), ranges=((DAY0 - 86400, DAY0),))
        assert list(events_store.cells(nothing, ids_below=100)) == []

    @pytest.mark.parametrize("seed_value", range(3))
    def test_cells_and_ids_match_the_rows_on_random_data(self, events_store: EventStore,
                                                         seed_value: int) -> None:
        """Mixed consent, empty ids, several days: each cell's counts and listed ids are
        those computed from the rows themselves."""
        import random

        rng = random.Random(seed_value)
        rows = []
        for _ in range(300):
            person = rng.randrange(40)
            consent = rng.random()
            session = rng.choice(["", ids(person + 100)]) if consent < 0.6 else None
            visitor = ids(person) if consent < 0.3 and session else None
            rows.append(event(DAY0 + rng.randrange(3 * 86400), session, visitor,
                              path=f"/p{rng.randrange(6)}",
                              device="bot" if rng.random() < 0.05 else "desktop"))
        for record in rows:
            events_store.add_event(record)
        query = CellQuery(by=("day", "path"), ranges=ALL_DAYS)
        expected: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in rows:
            if r["device"] != "bot":
                key = (day_label(r["ts"] // 86400), r["path"])
                expected.setdefault(key, []).append(r)
        got = {c.key: c for c in events_store.cells(query, ids_below=8)}
        assert set(got) == set(expected)
        for key, cell_rows in expected.items():
            sessions = {r["session_id"] for r in cell_rows if r["session_id"]}
            visitors = {r["visitor_id"] for r in cell_rows if r["visitor_id"]}
            lone = {r["session_id"] for r in cell_rows
                    if r["session_id"] and not r["visitor_id"]}
            anonymous = sum(1 for r in cell_rows if not r["session_id"])
            cell = got[key]
            assert cell[:7] == (key, len(cell_rows), len(sessions), len(visitors),
                                len(visitors) + len(lone), anonymous,
                                len(visitors) + len(lone))
            if len(visitors) + len(lone) + anonymous < 8:
                assert cell.ids is not None
                assert tuple(set(i) for i in cell.ids) == (sessions, visitors, lone)
            else:
                assert cell.ids is None

    def test_null_keys_are_cells_of_their_own(self, events_store: EventStore) -> None:
        t = DAY0 + 60
        for record in [event(t, referrer_host=None), event(t, referrer_host="a.example"),
                       event(t, referrer_host=None)]:
            events_store.add_event(record)
        query = CellQuery(by=("referrer_host",), ranges=ALL_DAYS)
        assert {c.key: c.hits for c in events_store.cells(query)} == {(None,): 2,
                                                                      ("a.example",): 1}
        listed = {c.key: c.ids for c in events_store.cells(query, ids_below=5)}
        assert listed == {(None,): ((), (), ()), ("a.example",): ((), (), ())}
        nulls = CellQuery(by=(), ranges=ALL_DAYS, where=(("referrer_host", None),))
        assert [c.hits for c in events_store.cells(nulls)] == [2]

    def test_local_days_follow_the_offset_in_force(self, events_store: EventStore) -> None:
        # Local time is UTC+1 until DAY0 + 12 h, UTC+2 after: 11:30 UTC is 12:30 of the
        # first day, 22:30 UTC is 00:30 of the second, and 23:30 UTC the evening before
        # the first day is 00:30 of the first.
        for ts in (DAY0 + 11 * 3600 + 1800, DAY0 + 22 * 3600 + 1800, DAY0 - 1800):
            events_store.add_event(event(ts))
        query = CellQuery(by=("day",), ranges=((DAY0 - 3600, DAY0 + 86400),),
                          offsets=((-(2**62), 3600), (DAY0 + 12 * 3600, 7200)))
        assert {c.key: c.hits for c in events_store.cells(query)} == {
            (DAYS[0][0],): 2, (DAYS[1][0],): 1}
        assert {c.key: c.hits for c in events_store.cells(query, ids_below=5)} == {
            (DAYS[0][0],): 2, (DAYS[1][0],): 1}
        only = CellQuery(by=(), ranges=query.ranges, offsets=query.offsets,
                         where=(("day", DAYS[0][0]),))
        assert [c.hits for c in events_store.cells(only)] == [2]

    def test_only_the_ranges_are_read(self, events_store: EventStore) -> None:
        for i in range(3):
            events_store.add_event(event(DAY0 + i * 86400 + 60, path=f"/{i}"))
        query = CellQuery(by=("day", "path"), ranges=(DAYS[0][1:], DAYS[2][1:]))
        cells = {c.key: c.hits for c in events_store.cells(query)}
        assert cells == {(DAYS[0][0], "/0"): 1, (DAYS[2][0], "/2"): 1}
        assert events_store.count_events(query) == 2
        assert {c.key: c.hits for c in events_store.cells(query, ids_below=5)} == cells

    def test_daily_totals_by_one_dimension(self, events_store: EventStore) -> None:
        day, next_day = DAYS[0], DAYS[1]
        t = DAY0 + 60
        for record in [event(t, ids(1), ids(9)), event(t, ids(1), ids(9), path="/b"),
                       event(t, ids(2)), event(t), event(t, referrer_host="a.example"),
                       event(t, device="bot"), event(t, site="other.example"),
                       event(t, kind="event", name="signup"),
                       event(t, kind="open", name="open", campaign="c"),
                       event(next_day[1] + 60)]:  # the next day: not summarised
            events_store.add_event(record)
        added = events_store.summarise_day(day[0], day[1], day[2], DAY0)
        assert added > 0
        assert events_store.summarise_day(day[0], day[1], day[2], DAY0) == 0  # once
        assert events_store.summarised_days(DAYS[0][0], DAYS[2][0]) == [day[0]]
        site = (("site", "www.example.com"), ("kind", "pageview"))
        by_path = {c.key: c for c in events_store.daily_cells(
            CellQuery(by=("path",), ranges=(), where=site), "path", day[0], day[0])}
        # /: visitor 9 (session 1), session 2, two hits without ids.
        assert by_path[("/",)] == CellCounts(("/",), 4, 2, 1, 2, 2, 2)
        assert by_path[("/b",)].hits == 1
        totals = list(events_store.daily_cells(CellQuery(by=("day", "site"), ranges=()),
                                               "", day[0], DAYS[2][0]))
        assert {c.key: c.hits for c in totals} == {(day[0], "www.example.com"): 6,
                                                   (day[0], "other.example"): 1}
        with_bots = list(events_store.daily_cells(
            CellQuery(by=(), ranges=(), where=(("device", "bot"),), include_bots=True),
            "device", day[0], day[0]))
        assert [c.hits for c in with_bots] == [1]
        nulls = list(events_store.daily_cells(
            CellQuery(by=(), ranges=(), where=(*site, ("referrer_host", None))),
            "referrer_host", day[0], day[0]))
        assert [c.hits for c in nulls] == [4]
        assert events_store.count_daily_before(next_day[0]) == added
        assert events_store.delete_daily_before(next_day[0], 3) == 3
        assert events_store.delete_daily_before(next_day[0], 10_000) == added - 3
        assert events_store.summarised_days(DAYS[0][0], DAYS[2][0]) == []
        events_store.summarise_day(day[0], day[1], day[2], DAY0)
        assert events_store.forget_daily() == added
        assert events_store.summarised_days(DAYS[0][0], DAYS[2][0]) == []

    def test_roll_ups_keep_cells_and_lower_bounds(self, events_store: EventStore) -> None:
        t = DAY0 + 60
        for record in [event(t, ids(1), ids(9)), event(t, ids(2)), event(t),
                       event(t, path="/b", kind="event", name="signup"),
                       event(t, kind="open", name="open", campaign="c")]:
            events_store.add_event(record)
        assert events_store.roll_up("2026-06-01", DAYS[0][1], DAYS[0][2]) == 2
        assert events_store.roll_up("2026-06-01", DAYS[0][1], DAYS[0][2]) == 0  # idempotent
        assert events_store.rolled_up_days("2026-01-01", "2026-12-31") == ["2026-06-01"]
        assert events_store.last_rolled_up_day() == "2026-06-01"
        rows = {c.key: c for c in events_store.rollup_cells(
            CellQuery(by=("path", "name"), ranges=()), "2026-06-01", "2026-06-01")}
        assert rows[("/", "pageview")] == CellCounts(("/", "pageview"), 3, 2, 1, 2, 1, 2)
        assert rows[("/b", "signup")].hits == 1
        assert events_store.count_rollups_before("2026-06-02") == 2
        assert events_store.oldest_rollup_day("2026-01-01") == "2026-06-01"
        assert events_store.delete_rollups_before("2026-06-02", 1) == 1
        assert events_store.delete_rollups_before("2026-06-02", 10) == 1
        assert events_store.last_rolled_up_day() is None

    def test_meta(self, events_store: EventStore) -> None:
        assert events_store.get_meta("rollups_timezone") is None
        events_store.set_meta("rollups_timezone", "UTC")
        events_store.set_meta("rollups_timezone", "Europe/Berlin")
        assert events_store.get_meta("rollups_timezone") == "Europe/Berlin"

    def test_retention_walks_and_deletes_in_batches(self, events_store: EventStore) -> None:
        for i in range(7):
            events_store.add_event(event(DAY0 + i * 3600))
        events_store.add_event(event(DAY0 + 5 * 86400, kind="open", name="open"))
        assert events_store.earliest_event(0, 2**40) == DAY0
        assert events_store.earliest_event(DAY0 + 1, 2**40) == DAY0 + 3600
        assert events_store.earliest_event(DAY0 + 86400, 2**40, pages_only=True) is None
        assert events_store.count_events_before(DAY0 + 3 * 3600) == 3
        assert events_store.delete_events_between(DAY0, DAY0 + 86400, 2) == 7
        assert events_store.count_events_before(2**40) == 1
        events_store.add_sends("c", None, 10, DAY0)
        events_store.add_sends("c", "news", 5, DAY0 + 10)
        assert events_store.sends_of("c") == 15
        assert events_store.delete_sends_before(DAY0 + 5) == 1
        assert events_store.sends_of("c") == 5

    def test_campaigns_and_email_counts(self, events_store: EventStore) -> None:
        t = DAY0
        rows = [("open", None, "human", "r1"), ("open", None, "human", "r1"),
                ("open", None, "google_proxy", "r2"), ("open", None, None, None),
                ("open", None, "apple_mpp", None), ("click", "cta", "human", "r1"),
                ("click", "cta", "scanner", "r3"), ("click", None, "human", None)]
        for kind, link, agent, recipient in rows:
            events_store.add_event(event(t, kind=kind, name=kind, campaign="spring",
                                         list="news", link=link, agent=agent,
                                         recipient=recipient))
        events_store.add_sends("autumn", "news", 3, t)
        assert events_store.campaign_names() == ["autumn", "spring"]
        assert events_store.campaign_seen("spring") and events_store.campaign_seen("autumn")
        assert not events_store.campaign_seen("winter")
        human = events_store.email_counts("spring", "open", ("human", "google_proxy"))
        assert tuple(human) == (3, 2, 3)
        unknown = events_store.email_counts("spring", "open", None,
                                            exclude=("human", "google_proxy", "apple_mpp"))
        assert tuple(unknown) == (1, 0, 0)
        links = events_store.email_link_counts("spring", None, exclude=("scanner",))
        assert {k: tuple(v) for k, v in links.items()} == {"(none)": (1, 0, 0),
                                                           "cta": (1, 1, 1)}
        assert tuple(events_store.email_counts("spring", "click", None,
                                               links=["cta"])) == (2, 2, 2)

    def test_subject_events_and_their_erasure(self, events_store: EventStore) -> None:
        t = DAY0
        for record in [event(t, ids(1)), event(t + 1, ids(1), ids(9)),
                       event(t + 2, ids(2), ids(9)), event(t + 3, ids(3)),
                       event(t + 4, kind="open", name="open", recipient="r-1")]:
            events_store.add_event(record)
        visitor = events_store.subject_events("visitor", ids(9))
        assert [e["ts"] for e in visitor] == [t, t + 1, t + 2]  # with its sessions
        assert [e["ts"] for e in events_store.subject_events("recipient", "r-1")] == [t + 4]
        assert events_store.erase_subject_events("visitor", ids(9), True, 1) == 3
        assert events_store.subject_events("visitor", ids(9)) == []
        assert events_store.count_events_before(2**40) == 5  # kept without ids
        assert events_store.erase_subject_events("recipient", "r-1", False, 10) == 1
        assert events_store.count_events_before(2**40) == 4


def signer(prev: str, body: str) -> tuple[str, str]:
    import hashlib

    return "k1", hashlib.sha256(f"{prev}|{body}".encode()).hexdigest()


def seal(row: ReceiptRow, reason: str, now: int) -> str:
    return f"k1:{row.seq}:{reason}:{now}"


class TestIdentityStore:
    """Receipts, suppressions, tokens, the audit log."""

    def test_a_store_migrates_once(self, identity_store: IdentityStore) -> None:
        assert identity_store.exists() and identity_store.schema_version() >= 1
        assert identity_store.migrate() == []
        assert not identity_store.has_remember_tables()

    def test_the_receipt_chain(self, identity_store: IdentityStore) -> None:
        first = identity_store.append_receipt(ids(1), ids(7), 100, '{"a":1}', signer)
        second = identity_store.append_receipt(ids(2), ids(8), 200, '{"b":2}', signer)
        identity_store.append_receipt(ids(3), ids(7), 300, '{"c":3}', signer)
        assert first.prev_hash == GENESIS and second.prev_hash == first.hash
        assert first.key_id == "k1" and first.seq < second.seq
        rows = list(identity_store.receipt_rows())
        assert [r.receipt_id for r in rows] == [ids(1), ids(2), ids(3)]
        assert rows[1] == second
        assert [r.created_at for r in identity_store.subject_receipts(ids(7))] == [100, 300]
        assert identity_store.tombstone_subject(ids(7), "erasure:request", 500, seal) == 2
        assert identity_store.subject_receipts(ids(7)) == []
        stone = next(iter(identity_store.receipt_rows()))
        assert stone.body is None and stone.subject_id is None and stone.hash == first.hash
        assert stone.tombstone_seal == f"k1:{stone.seq}:erasure:request:500"
        assert (stone.tombstone_reason, stone.tombstoned_at) == ("erasure:request", 500)

    def test_expired_receipts_go_by_whole_subjects(self, identity_store: IdentityStore) -> None:
        for n, (subject, at) in enumerate([(ids(7), 100), (ids(7), 900), (ids(8), 150),
                                           (ids(9), 160), (ids(9), 170)]):
            identity_store.append_receipt(ids(n + 1), subject, at, "{}", signer)
        assert identity_store.count_expired_receipts(500) == 3  # ids(8) and ids(9)
        assert identity_store.oldest_live_receipt() == 100
        assert identity_store.oldest_live_receipt(unexpired_before=500) == 100
        assert identity_store.tombstone_expired(500, "retention", 1000, seal, 1) in (1, 2)
        assert identity_store.tombstone_expired(500, "retention", 1000, seal, 10) in (1, 2)
        assert identity_store.count_expired_receipts(500) == 0
        assert identity_store.tombstone_expired(500, "retention", 1000, seal, 10) == 0
        assert [r.subject_id for r in identity_store.receipt_rows() if r.body] == [ids(7)] * 2

    def test_suppressions(self, identity_store: IdentityStore) -> None:
        added = identity_store.suppress([Suppression("news", "r1", "spring"),
                                         Suppression("*", "r2", None),
                                         Suppression("news", "r1", "autumn")], 100)
        assert added == 2
        assert identity_store.suppress([Suppression("news", "r1", "winter")], 200) == 0
        assert identity_store.is_suppressed("news", "r1", "*")
        assert identity_store.is_suppressed("other", "r2", "*")
        assert not identity_store.is_suppressed("other", "r1", "*")
        assert [r.campaign for r in identity_store.suppressions_of("r1")] == ["spring"]
        assert identity_store.unsubscribes_of("spring") == 1
        identity_store.suppress([Suppression("news", f"x{i}", None) for i in range(5)], 300)
        page = identity_store.suppressions_since(0, None, 3)
        rest = identity_store.suppressions_since(0, page[-1].cursor, 10)
        assert len(page) == 3 and len(rest) == 4
        assert {r.recipient for r in page + rest} == {"r1", "r2", *(f"x{i}" for i in range(5))}
        assert [r.recipient for r in identity_store.suppressions_since(250, None, 10)] == [
            f"x{i}" for i in range(5)]
        assert identity_store.count_suppressions_before(250) == 2
        assert identity_store.oldest_suppression() == 100
        assert identity_store.delete_suppressions_before(250, 1) == 1
        assert identity_store.delete_suppressions_before(250, 10) == 1
        assert identity_store.oldest_suppression(0) == 300

    def test_api_tokens(self, identity_store: IdentityStore) -> None:
        assert identity_store.add_api_token("analysts", "h1", "aggregate", 10)
        assert not identity_store.add_api_token("analysts", "h2", "pii", 11)  # live name
        assert identity_store.api_token("h1") == ("analysts", "aggregate", 10, None)
        assert identity_store.revoke_api_tokens("analysts", 20) == 1
        assert identity_store.api_token("h1") is None
        assert identity_store.add_api_token("analysts", "h3", "pii", 30)
        assert [(t.name, t.revoked_at) for t in identity_store.api_tokens()] == [
            ("analysts", 20), ("analysts", None)]

    def test_the_audit_log(self, identity_store: IdentityStore) -> None:
        identity_store.append_audit(100, "os-user:ann", "subject.export", "h1", "request",
                                    '{"events": 1}')
        identity_store.append_audit(200, "token:x", "suppressions.read", None, None, None)
        identity_store.append_audit(300, "os-user:ann", "subject.erase", "h2", "child", None)
        assert [r.action for r in identity_store.audit_rows()] == [
            "subject.export", "suppressions.read", "subject.erase"]
        assert [r.ts for r in identity_store.audit_rows(since=150, until=300)] == [200]
        assert [r.ts for r in identity_store.audit_rows(subject_hmacs=["h2"])] == [300]
        assert identity_store.audit_rows(subject_hmacs=[]) == []
        assert identity_store.count_audit_before(250) == 2
        assert identity_store.tombstone_audit_before(250, 1) == 1
        assert identity_store.tombstone_audit_before(250, 5) == 1
        first = identity_store.audit_rows()[0]
        assert (first.seq, first.ts, first.action, first.subject_hmac) == (1, 100,
                                                                           "tombstone", None)
        assert identity_store.oldest_audit(0) == 300


@pytest.mark.parametrize("store", ["events_store", "identity_store"])
def test_a_missing_store_does_not_exist_until_used(tmp_path: Any, store: str) -> None:
    from collector.storage import open_events, open_identity

    opened = (open_events if store == "events_store" else open_identity)(
        f"sqlite:///{tmp_path}/new/{store}.db")
    assert not opened.exists()
    opened.migrate()
    assert opened.exists()
    opened.close()
