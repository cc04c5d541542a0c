"""The storage the dashboard asks for: accounts, consent decisions counted by day, and the
campaigns active in a period. Each class runs on every backend (the PostgreSQL suite
re-runs them with the ``events_store`` and ``identity_store`` fixtures overridden)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from collector.ingest.records import empty_record
from collector.storage import ConsentCounts, EventStore, IdentityStore, UserRow, open_events
from collector.storage.sqlite import SQLiteEvents

DAY = 86_400
#: Three local days as the dashboard hands them over: ``(label, start, end)``.
DAYS = [("2026-03-01", 1_772_323_200, 1_772_323_200 + DAY),
        ("2026-03-02", 1_772_323_200 + DAY, 1_772_323_200 + 2 * DAY),
        ("2026-03-03", 1_772_323_200 + 2 * DAY, 1_772_323_200 + 3 * DAY)]
PURPOSES = ("analytics", "personalization", "marketing")


def _sign(prev: str, body: str) -> tuple[str, str]:
    return "key", hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def _receipt(identity: IdentityStore, n: int, subject: str, at: int, granted: list[str],
             gpc: bool = False, dnt: bool = False) -> None:
    body = json.dumps({"granted": ["necessary", *granted],
                       "denied": [p for p in PURPOSES if p not in granted], "gpc": gpc,
                       "dnt": dnt, "source": "dialog", "time": str(at)}, sort_keys=True)
    identity.append_receipt(f"r{n}", subject, at, body, _sign)


class TestAccountsStorage:
    def test_add_read_list_remove(self, identity_store: IdentityStore) -> None:
        assert identity_store.users() == []
        assert identity_store.add_user("bob", "scrypt$hash-b", 1_000)
        assert identity_store.add_user("alice", "scrypt$hash-a", 2_000)
        assert identity_store.user_password_hash("alice") == "scrypt$hash-a"
        assert identity_store.user_password_hash("carol") is None
        assert identity_store.users() == [UserRow("alice", 2_000, None),
                                          UserRow("bob", 1_000, None)]
        assert identity_store.remove_user("alice")
        assert not identity_store.remove_user("alice")
        assert identity_store.user_password_hash("alice") is None
        assert [u.name for u in identity_store.users()] == ["bob"]

    def test_a_taken_name_is_refused_and_kept(self, identity_store: IdentityStore) -> None:
        assert identity_store.add_user("alice", "scrypt$first", 1)
        assert not identity_store.add_user("alice", "scrypt$second", 2)
        assert identity_store.user_password_hash("alice") == "scrypt$first"

    def test_names_are_exact(self, identity_store: IdentityStore) -> None:
        identity_store.add_user("Alice", "scrypt$x", 1)
        assert identity_store.user_password_hash("alice") is None
        assert identity_store.user_password_hash("Alice ") is None

    def test_record_login(self, identity_store: IdentityStore) -> None:
        identity_store.add_user("alice", "scrypt$x", 1)
        identity_store.record_login("alice", 50)
        identity_store.record_login("nobody", 60)  # no account: nothing to note
        assert identity_store.users() == [UserRow("alice", 1, 50)]


class TestConsentDecisionsStorage:
    def _seed(self, identity: IdentityStore) -> None:
        d1, _, d3 = (start for _, start, _ in DAYS)
        _receipt(identity, 1, "s1", d1 + 10, ["analytics"])
        _receipt(identity, 2, "s1", d1 + 20, ["analytics", "marketing"], gpc=True)
        _receipt(identity, 3, "s2", d1 + 30, [], dnt=True)
        _receipt(identity, 4, "s1", d3 + 5, ["analytics", "personalization"])
        _receipt(identity, 5, "s3", d3 + DAY - 1, ["personalization"], gpc=True, dnt=True)
        _receipt(identity, 6, "s4", d3 + DAY, ["analytics"])  # the day after: not asked
        _receipt(identity, 7, "s5", d1 - 1, ["analytics"])  # the day before

    def test_by_day(self, identity_store: IdentityStore) -> None:
        self._seed(identity_store)
        rows = identity_store.consent_decisions(DAYS, PURPOSES)
        assert rows == [
            ConsentCounts("2026-03-01", 3, 2, (2, 0, 1), 1, 1),
            ConsentCounts("2026-03-03", 2, 2, (1, 2, 0), 1, 1),
        ]

    def test_deciding_subjects_counts_each_browser_once(
            self, identity_store: IdentityStore) -> None:
        self._seed(identity_store)
        assert identity_store.deciding_subjects(DAYS) == 3  # s1 decided on two days
        assert identity_store.deciding_subjects(DAYS[2:]) == 2
        assert identity_store.deciding_subjects(DAYS[1:2]) == 0
        assert identity_store.deciding_subjects([]) == 0
        assert identity_store.consent_decisions([], PURPOSES) == []

    def test_purposes_in_the_order_asked(self, identity_store: IdentityStore) -> None:
        self._seed(identity_store)
        rows = identity_store.consent_decisions(DAYS[:1], ("marketing", "analytics"))
        assert rows[0].granted == (1, 2)
        assert identity_store.consent_decisions(DAYS[:1], ())[0].granted == ()

    def test_tombstoned_receipts_are_not_counted(self, identity_store: IdentityStore) -> None:
        self._seed(identity_store)
        identity_store.tombstone_subject("s1", "erasure", 99, lambda row, reason, now: "k:x")
        assert identity_store.consent_decisions(DAYS, PURPOSES) == [
            ConsentCounts("2026-03-01", 1, 1, (0, 0, 0), 0, 1),
            ConsentCounts("2026-03-03", 1, 1, (0, 1, 0), 1, 1),
        ]
        assert identity_store.deciding_subjects(DAYS) == 2

    def test_a_purpose_named_in_denied_only_is_not_granted(
            self, identity_store: IdentityStore) -> None:
        start = DAYS[0][1]
        body = json.dumps({"granted": ["necessary"], "denied": ["analytics", "marketing"],
                           "gpc": False, "dnt": False, "source": "banner-reject-all"})
        identity_store.append_receipt("r", "s", start, body, _sign)
        assert identity_store.consent_decisions(DAYS[:1], PURPOSES) == [
            ConsentCounts("2026-03-01", 1, 1, (0, 0, 0), 0, 0)]


def _email(ts: int, campaign: str, kind: str = "open") -> dict[str, Any]:
    record = empty_record()
    record.update(ts=ts, kind=kind, name=kind, campaign=campaign, list="news", agent="human")
    return record


class TestActiveCampaignsStorage:
    def test_busiest_first_within_the_period(self, events_store: EventStore) -> None:
        start, end = DAYS[0][1], DAYS[-1][2]
        for _ in range(3):
            events_store.add_event(_email(start + 5, "spring"))
        events_store.add_event(_email(start + 6, "autumn", "click"))
        events_store.add_event(_email(end - 1, "autumn"))
        events_store.add_event(_email(end - 1, "winter"))
        events_store.add_event(_email(end, "summer"))  # after the period
        events_store.add_event(_email(start - 1, "summer"))  # before it
        page = empty_record()
        page.update(ts=start + 1, kind="pageview", name="pageview", path="/")
        events_store.add_event(page)
        assert events_store.active_campaigns(start, end, 10) == ["spring", "autumn", "winter"]
        assert events_store.active_campaigns(start, end, 2) == ["spring", "autumn"]
        assert events_store.active_campaigns(end, end + DAY, 10) == ["summer"]
        assert events_store.active_campaigns(end + DAY, end + 2 * DAY, 10) == []


def test_sqlite_reads_a_filtered_range_by_its_days(tmp_path: Path) -> None:
    """Every dashboard query filters by site; on SQLite the filter must not choose the plan
    (an automatic index on ``site`` searched once per day made a year take minutes)."""
    from collector.analytics.query import Query, cell_query
    from collector.storage.cellsql import SQLITE, CellSQL

    store = open_events(f"sqlite:///{tmp_path}/events.db")
    assert isinstance(store, SQLiteEvents)
    store.migrate()
    query = Query(since=date(2025, 3, 1), until=date(2026, 2, 28), by=("path",),
                  filters=(("site", "www.example.com"), ("browser", None)), revision=1)
    cells = cell_query(query)
    assert cells is not None
    sql, params = CellSQL(cells, SQLITE, store._source(cells)).grouped(5)
    plan = " | ".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    store.close()
    assert "USING INDEX events_ts" in plan and "AUTOMATIC" not in plan, plan


def test_sqlite_campaign_reports_read_only_the_email_index(tmp_path: Path) -> None:
    """A campaign report (and the dashboard's email panel) counts from the email index
    alone: no statement of it scans the events or reads their rows."""
    from collector.mail import campaigns
    from collector.storage import open_identity

    store = open_events(f"sqlite:///{tmp_path}/events.db")
    identity = open_identity(f"sqlite:///{tmp_path}/identity.db")
    assert isinstance(store, SQLiteEvents)
    store.migrate()
    identity.migrate()
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    campaigns.report(store, identity, "spring", 5)
    store.conn.set_trace_callback(None)
    counts = [s for s in statements if s.lstrip().upper().startswith("SELECT") and
              "FROM events" in s and "campaign_sends" not in s]
    assert counts
    for sql in counts:
        plan = " | ".join(row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "COVERING INDEX events_email" in plan, (sql, plan)
    store.close()
    identity.close()
