"""The storage contract of email campaigns: sends by tracking mode, and email counts. The
PostgreSQL suite re-runs :class:`TestMailStorage` with its own stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from collector.ingest.records import UNSUBSCRIBE_PAGE, build_email_event
from collector.storage import (
    Burst,
    EmailCount,
    EventStore,
    IdentityStore,
    Suppression,
    open_events,
    open_identity,
)
from collector.storage.migrations import migrations

T0 = 1_700_000_000


def email(kind: str, recipient: str | None = None, agent: str = "human",
          link: str | None = None, campaign: str = "c", at: int = T0, list_id: str = "news",
          name: str | None = None) -> dict[str, Any]:
    return build_email_event(kind=kind, now=at, campaign=campaign, list_id=list_id,
                             recipient=recipient, agent_verdict=agent, user_agent=None,
                             accept_language=None, link=link,
                             target="https://shop.example.com/" if link else None, name=name)


class TestMailStorage:
    """What every event store backend must do for campaign reports."""

    def test_a_campaign_s_state_moves_with_what_its_report_reads(
            self, events_store: EventStore) -> None:
        seen = [events_store.campaign_state("c")]
        events_store.add_event(email("open", "r1"))
        events_store.add_event(email("open", "r3"))
        seen.append(events_store.campaign_state("c"))
        events_store.add_sends("c", "news", 10, T0, "individual")
        seen.append(events_store.campaign_state("c"))
        events_store.add_event(email("open", "r2", campaign="other"))
        assert events_store.campaign_state("c") == seen[-1]  # another campaign's open
        events_store.erase_subject_events("recipient", "r1", True, 100)  # stripped
        seen.append(events_store.campaign_state("c"))
        events_store.erase_subject_events("recipient", "r3", False, 100)  # deleted
        seen.append(events_store.campaign_state("c"))
        assert len(set(seen)) == len(seen)

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
                       email("click", "r1", name=UNSUBSCRIBE_PAGE),
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


# Fetches as (seconds after T0, recipient, what): "o" the pixel, "u" the unsubscribe
# page, anything else a link id; the list is "news" unless the recipient says "list:who".
BURSTS = [
    # (fetches, recipients whose fetches are all in a burst under Burst(2, 3))
    ([(0, "r1", "o"), (1, "r1", "a"), (2, "r1", "b")], {"r1"}),
    ([(0, "r1", "o"), (1, "r1", "a"), (3, "r1", "b")], set()),  # 3 s apart: not within 2
    ([(0, "r1", "o"), (0, "r1", "a")], set()),  # two things: a person may do that
    ([(0, "r1", "a"), (0, "r1", "a"), (0, "r1", "a"), (0, "r1", "a")], set()),  # one link
    ([(0, "r1", "a"), (0, "r1", "b"), (0, "r1", "u")], {"r1"}),  # two links and the page
    ([(5, "r1", "o"), (6, "r1", "a"), (6, "r1", "u")], {"r1"}),
    ([(0, None, "o"), (0, None, "a"), (0, None, "b"), (0, None, "c")], set()),  # aggregate
    ([(0, "r1", "o"), (0, "r2", "a"), (0, "r3", "b")], set()),  # three people, one each
    ([(0, "r1", "o"), (0, "offers:r1", "a"), (0, "r1", "b")], set()),  # two messages
    ([(0, "r1", "o"), (0, "r1", "a"), (1, "r1", "b"), (2, "r1", "c"), (3, "r1", "d"),
      (4, "r1", "e")], {"r1"}),  # a scanner that takes its time, step by step
]


def _fetch(at: int, who: str | None, what: str) -> dict[str, Any]:
    list_id, _, recipient = (who or "").rpartition(":")
    return email("open" if what == "o" else "click", recipient or None,
                 link=None if what in "ou" else what, at=T0 + at, list_id=list_id or "news",
                 name=UNSUBSCRIBE_PAGE if what == "u" else None)


class TestBurstStorage:
    """Bursts found by the backend at report time (:class:`collector.storage.Burst`)."""

    @pytest.mark.parametrize(("fetches", "burst"), BURSTS,
                             ids=[f"burst-{i}" for i in range(len(BURSTS))])
    def test_bursts(self, events_store: EventStore, fetches: list[tuple[int, str | None, str]],
                    burst: set[str]) -> None:
        for fetch in fetches:
            events_store.add_event(_fetch(*fetch))
        rule = Burst(2, 3)
        opens = sum(what == "o" for _, _, what in fetches)
        clicks = sum(what not in "ou" for _, _, what in fetches)
        in_burst = [f for f in fetches if f[1] and f[1].rpartition(":")[2] in burst]
        machine_opens = sum(what == "o" for _, _, what in in_burst)
        machine_clicks = sum(what not in "ou" for _, _, what in in_burst)
        assert events_store.email_counts("c", "open", ["burst"], burst=rule).events == \
            machine_opens
        assert events_store.email_counts("c", "click", ["burst"], burst=rule).events == \
            machine_clicks
        assert events_store.email_counts("c", "open", ["human"], burst=rule).events == \
            opens - machine_opens
        assert events_store.email_counts("c", "click", None, exclude=["burst"],
                                         burst=rule).events == clicks - machine_clicks
        by_link = events_store.email_link_counts("c", ["burst"], burst=rule)
        assert sum(count.events for count in by_link.values()) == machine_clicks
        # Without the rule, every fetch keeps its own agent.
        assert events_store.email_counts("c", "click", ["human"]).events == clicks

    def test_a_person_after_a_burst_is_a_person(self, events_store: EventStore) -> None:
        for fetch in [(0, "r1", "o"), (0, "r1", "a"), (0, "r1", "b"), (60, "r1", "o"),
                      (75, "r1", "a")]:
            events_store.add_event(_fetch(*fetch))
        rule = Burst(2, 3)
        assert events_store.email_counts("c", "open", ["human"], burst=rule) == \
            EmailCount(1, 1, 1)
        assert events_store.email_link_counts("c", ["human"], burst=rule) == {
            "a": EmailCount(1, 1, 1)}
        assert events_store.email_counts("c", "click", ["burst"], burst=rule).events == 2

    def test_a_wider_window_and_more_targets(self, events_store: EventStore) -> None:
        for fetch in [(0, "r1", "o"), (4, "r1", "a"), (9, "r1", "b")]:
            events_store.add_event(_fetch(*fetch))
        assert events_store.email_counts("c", "click", ["burst"],
                                         burst=Burst(2, 3)).events == 0
        assert events_store.email_counts("c", "click", ["burst"],
                                         burst=Burst(10, 3)).events == 2
        assert events_store.email_counts("c", "click", ["burst"],
                                         burst=Burst(10, 4)).events == 0

    def test_bursts_follow_new_events_and_erasure(self, events_store: EventStore) -> None:
        """A report asks many questions; the answers follow the events between them."""
        rule = Burst(2, 3)
        for fetch in [(0, "r1", "o"), (0, "r1", "a"), (30, "r2", "o"), (30, "r2", "a")]:
            events_store.add_event(_fetch(*fetch))
        assert events_store.email_counts("c", "open", ["burst"], burst=rule).events == 0
        events_store.add_event(_fetch(1, "r1", "b"))  # r1's third thing: a burst now
        assert events_store.email_counts("c", "open", ["burst"], burst=rule).events == 1
        events_store.add_event(_fetch(31, "r2", "u"))
        assert events_store.email_counts("c", "open", ["burst"], burst=rule) == \
            EmailCount(2, 2, 2)
        # Erased without their recipient, r1's fetches name no message: no burst.
        events_store.erase_subject_events("recipient", "r1", strip=True, batch=100)
        assert events_store.email_counts("c", "open", ["burst"], burst=rule) == \
            EmailCount(1, 1, 1)
        events_store.erase_subject_events("recipient", "r2", strip=False, batch=100)
        assert events_store.email_counts("c", "open", ["burst"], burst=rule).events == 0

    def test_recipient_tracked(self, events_store: EventStore) -> None:
        events_store.add_event(email("open", "r1"))
        events_store.add_event(email("click", None, link="a", campaign="agg"))
        assert events_store.recipient_tracked("c", "news", "r1")
        assert not events_store.recipient_tracked("c", "offers", "r1")
        assert not events_store.recipient_tracked("other", "news", "r1")
        assert not events_store.recipient_tracked("c", "news", "r2")
        assert not events_store.recipient_tracked("agg", "news", "r1")


class TestSuppressionStorage:
    """Suppression entries with their reason."""

    def test_reasons_are_kept_and_counted(self, identity_store: IdentityStore) -> None:
        added = identity_store.suppress([
            Suppression("news", "r1", "c", "unsubscribe"),
            Suppression("*", "r2", "c", "bounce"),
            Suppression("*", "r3", "c", "complaint"),
            Suppression("*", "r4", "c", "bounce"),
            Suppression("news", "r5", None, "manual"),
            Suppression("news", "r6", "other"),  # an unsubscribe unless said
        ], T0)
        assert added == 6
        assert identity_store.unsubscribes_of("c") == 1
        assert identity_store.suppressions_by_reason("c") == {
            "bounce": 2, "complaint": 1, "unsubscribe": 1}
        assert identity_store.suppressions_by_reason("nothing") == {}
        rows = identity_store.suppressions_since(0, None, 10)
        assert [(row.recipient, row.reason) for row in rows] == [
            ("r1", "unsubscribe"), ("r2", "bounce"), ("r3", "complaint"), ("r4", "bounce"),
            ("r5", "manual"), ("r6", "unsubscribe")]
        assert identity_store.suppressions_of("r2")[0].reason == "bounce"

    def test_the_first_reason_stays(self, identity_store: IdentityStore) -> None:
        identity_store.suppress([Suppression("*", "r1", "c", "unsubscribe")], T0)
        assert identity_store.suppress([Suppression("*", "r1", "d", "complaint")], T0 + 1) == 0
        assert identity_store.suppressions_of("r1")[0][2:4] == ("c", T0)
        assert identity_store.suppressions_of("r1")[0].reason == "unsubscribe"
        assert identity_store.suppressions_by_reason("d") == {}


def test_suppressions_made_before_reasons_get_one(tmp_path: Path) -> None:
    """At identity version 1, /u/ recorded the campaign as provenance and the API usually
    none: entries with a campaign become unsubscribes, the others manual."""
    path = tmp_path / "identity.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
                 "NOT NULL, applied_at INTEGER NOT NULL)")
    first = migrations("sqlite", "identity")[0]
    conn.executescript(first.sql)
    conn.execute("INSERT INTO schema_migrations VALUES (1, ?, 0)", (first.name,))
    conn.executemany("INSERT INTO suppressions (list, recipient, campaign, created_at) "
                     "VALUES (?, ?, ?, 0)", [("news", "r1", "spring"), ("*", "r2", None)])
    conn.commit()
    conn.close()
    store = open_identity(f"sqlite:///{path}")
    try:
        assert store.schema_version() == len(migrations("sqlite", "identity"))
        assert [(row.recipient, row.reason) for row in store.suppressions_since(0, None, 9)] \
            == [("r1", "unsubscribe"), ("r2", "manual")]
        assert store.unsubscribes_of("spring") == 1
    finally:
        store.close()


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
