"""The storage contract of email campaigns: sends by tracking mode, and email counts. The
PostgreSQL suite re-runs :class:`TestMailStorage` with its own stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from collector.ingest.records import build_email_event
from collector.storage import EmailCount, EventStore, open_events
from collector.storage.migrations import migrations

T0 = 1_700_000_000


def email(kind: str, recipient: str | None = None, agent: str = "human",
          link: str | None = None, campaign: str = "c", at: int = T0,
          **fields: Any) -> dict[str, Any]:
    record = build_email_event(kind=kind, now=at, campaign=campaign, list_id="news",
                               recipient=recipient, agent_verdict=agent, user_agent=None,
                               accept_language=None, link=link,
                               target="https://shop.example.com/" if link else None)
    record.update(fields)
    return record


class TestMailStorage:
    """What every event store backend must do for campaign reports."""

    def test_sends_are_summed_by_mode(self, events_store: EventStore) -> None:
        events_store.add_sends("c", "news", 10, T0, "individual")
        events_store.add_sends("c", "news", 15, T0, "aggregate")
        events_store.add_sends("c", None, 5, T0, "aggregate")
        events_store.add_sends("c", "news", 3, T0)
        events_store.add_sends("other", "news", 99, T0, "none")
        assert events_store.sends_by_mode("c") == {"individual": 10, "aggregate": 20,
                                                   None: 3}
        assert events_store.sends_of("c") == 33
        assert events_store.sends_by_mode("nothing") == {}

    def test_clicks_are_events_named_click(self, events_store: EventStore) -> None:
        for record in (email("click", "r1", link="a"), email("click", "r2", link="a"),
                       email("click", "r1", link="b", agent="scanner"),
                       email("click", "r1", name="unsubscribe_page"),
                       email("open", "r1"), email("open", None)):
            events_store.add_event(record)
        assert events_store.email_counts("c", "click", None) == EmailCount(3, 2, 3)
        assert events_store.email_counts("c", "click", ["human"]) == EmailCount(2, 2, 2)
        assert events_store.email_counts("c", "click", None, exclude=["human"]) == \
            EmailCount(1, 1, 1)
        assert events_store.email_counts("c", "click", None, links=["b"]) == \
            EmailCount(1, 1, 1)
        assert events_store.email_counts("c", "open", None) == EmailCount(2, 1, 1)
        assert events_store.email_link_counts("c", None) == {
            "a": EmailCount(2, 2, 2), "b": EmailCount(1, 1, 1)}
        assert events_store.email_link_counts("c", ["scanner"]) == {"b": EmailCount(1, 1, 1)}


def test_sends_recorded_before_modes_keep_no_mode(tmp_path: Path) -> None:
    """A store at version 3 with sends migrates; its sends say no mode (reports guess it
    from the campaign's events)."""
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
                 "NOT NULL, applied_at INTEGER NOT NULL)")
    for step in migrations("sqlite", "events")[:3]:
        conn.executescript(step.sql)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)",
                     (step.version, step.name))
    conn.execute("INSERT INTO campaign_sends (campaign, list, count, recorded_at) VALUES "
                 "('c', 'news', 40, 0)")
    conn.commit()
    conn.close()
    store = open_events(f"sqlite:///{path}")
    try:
        assert store.schema_version() == len(migrations("sqlite", "events"))
        assert store.sends_by_mode("c") == {None: 40}
    finally:
        store.close()
