"""Email campaigns: recorded sends, the suppression list and campaign reports (DESIGN 5, 6).

Reports keep human, Apple Mail Privacy Protection and machine opens apart, so the open
rate counts people: unique human opens over sends with per-recipient tracking, otherwise
human opens per send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .aggregate import OTHER
from .errors import CleargifError
from .storage import EventStore, IdentityStore

#: The suppression list entry that covers every list.
ALL_MAIL = "*"
HUMAN = ("human", "google_proxy", "yahoo_proxy")
MACHINE = ("prefetch", "scanner")
MAX_ID = 128


def check_id(value: str, what: str) -> str:
    """A campaign or list id: 1 to 128 printable characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID or \
            not value.isprintable():
        raise CleargifError(f"The {what} must be 1 to {MAX_ID} printable characters.")
    return value


# --- sends ------------------------------------------------------------------------------

def record_sends(events: EventStore, campaign: str, count: int, list_id: str | None,
                 now: int) -> int:
    """Add ``count`` sends to a campaign; returns the campaign's total."""
    check_id(campaign, "campaign")
    if list_id is not None:
        check_id(list_id, "list")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10**9:
        raise CleargifError("The number of sends must be a whole number from 1 to "
                            "1000000000.")
    events.execute("INSERT INTO campaign_sends (campaign, list, count, recorded_at) "
                   "VALUES (?, ?, ?, ?)", (campaign, list_id, count, now))
    return sends_of(events, campaign)


def sends_of(events: EventStore, campaign: str) -> int:
    """All sends recorded for a campaign."""
    rows = events.query("SELECT COALESCE(SUM(count), 0) FROM campaign_sends WHERE "
                        "campaign = ?", (campaign,))
    return int(rows[0][0])


# --- suppressions -----------------------------------------------------------------------

def suppress(identity: IdentityStore, list_id: str, recipient: str, campaign: str | None,
             now: int) -> bool:
    """Suppress a recipient on a list (or on all mail with :data:`ALL_MAIL`); idempotent.

    Returns True when the entry is new. The first campaign stays as provenance.
    """
    return identity.execute(
        "INSERT INTO suppressions (list, recipient, campaign, created_at) VALUES "
        "(?, ?, ?, ?) ON CONFLICT (list, recipient) DO NOTHING",
        (list_id, recipient, campaign, now)) > 0


def suppress_many(identity: IdentityStore,
                  entries: list[tuple[str, str, str | None]], now: int) -> int:
    """Suppress ``(list, recipient, campaign)`` entries in one transaction; returns how
    many were new."""
    added = 0
    with identity.transaction() as conn:
        for list_id, recipient, campaign in entries:
            added += conn.execute(
                "INSERT INTO suppressions (list, recipient, campaign, created_at) VALUES "
                "(?, ?, ?, ?) ON CONFLICT (list, recipient) DO NOTHING",
                (list_id, recipient, campaign, now)).rowcount
    return added


def is_suppressed(identity: IdentityStore, list_id: str, recipient: str) -> bool:
    """Whether mail of ``list_id`` must not go to ``recipient``."""
    return bool(identity.query("SELECT 1 FROM suppressions WHERE recipient = ? AND list IN "
                               "(?, ?) LIMIT 1", (recipient, list_id, ALL_MAIL)))


PAGE = 1000


def suppressions_since(identity: IdentityStore, since: int | None, after: str | None = None,
                       limit: int = PAGE) -> tuple[list[dict[str, Any]], str | None]:
    """Suppression entries created at or after ``since``, oldest first, one page at a time:
    ``(entries, next)`` where ``next`` is the cursor of the following page, or None.

    :raises CleargifError: ``after`` is not a cursor this function gave.
    """
    where, params = "created_at >= ?", [since or 0]
    if after:
        try:
            at, _, row = after.partition("-")
            cursor = (int(at), int(row))
        except ValueError:
            raise CleargifError("after must be the 'next' cursor of the previous page.") \
                from None
        where += " AND (created_at > ? OR (created_at = ? AND rowid > ?))"
        params += [cursor[0], cursor[0], cursor[1]]
    rows = identity.query(
        f"SELECT rowid, list, recipient, campaign, created_at FROM suppressions WHERE {where} "
        "ORDER BY created_at, rowid LIMIT ?", (*params, limit + 1))
    entries = [{"list": lst, "recipient": rec, "campaign": camp, "all_mail": lst == ALL_MAIL,
                "created_at": _iso(ts)} for _, lst, rec, camp, ts in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = f"{last[4]}-{last[0]}"
    return entries, nxt


def unsubscribes_of(identity: IdentityStore, campaign: str) -> int:
    """Suppressions whose provenance is this campaign."""
    return int(identity.query("SELECT COUNT(*) FROM suppressions WHERE campaign = ?",
                              (campaign,))[0][0])


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(text: str | None) -> int | None:
    """An ISO-8601 date or date-time (UTC when no offset) as Unix seconds."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CleargifError(f"since {text[:40]!r} is not an ISO-8601 date or time, such as "
                            "2026-01-31 or 2026-01-31T12:00:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# --- reports ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LinkRow:
    """Clicks on one link id."""

    link: str
    clicks: int
    unique_clicks: int
    machine_clicks: int


def report(events: EventStore, identity: IdentityStore, campaign: str,
           k_min: int) -> dict[str, Any]:
    """A campaign's report: sends, opens by kind of agent, open rate, clicks per link,
    unsubscribes. Link rows under ``k_min`` fold into ``(other)``."""
    check_id(campaign, "campaign")
    sends = sends_of(events, campaign)
    opens: dict[str, int] = {}
    for agent, n in events.query("SELECT agent, COUNT(*) FROM events WHERE campaign = ? AND "
                                 "kind = 'open' GROUP BY agent", (campaign,)):
        opens[agent or "unknown"] = n
    human = sum(opens.get(a, 0) for a in HUMAN)
    unique_human, with_recipient = events.query(
        "SELECT COUNT(DISTINCT recipient), COUNT(recipient) FROM events WHERE campaign = ? AND "
        "kind = 'open' AND agent IN (?, ?, ?)", (campaign, *HUMAN))[0]
    per_recipient = with_recipient > 0
    if sends and per_recipient:
        rate: float | None = round(unique_human / sends, 4)
        rate_kind = "unique human opens / sends"
    elif sends:
        rate = round(human / sends, 4)
        rate_kind = "human opens per send (no per-recipient tracking)"
    else:
        rate, rate_kind = None, "no sends recorded (cleargif campaign sent)"
    links = _link_rows(events, campaign, k_min)
    return {
        "campaign": campaign,
        "sends": sends,
        "opens": {
            "human": human,
            "human_via_proxy": opens.get("google_proxy", 0) + opens.get("yahoo_proxy", 0),
            "apple_mpp": opens.get("apple_mpp", 0),
            "machine": sum(opens.get(a, 0) for a in MACHINE),
            "unknown": opens.get("unknown", 0),
        },
        "unique_human_opens": unique_human if per_recipient else None,
        "open_rate": rate,
        "open_rate_is": rate_kind,
        "clicks": links,
        "unsubscribes": unsubscribes_of(identity, campaign),
        "k_min": k_min,
        "notes": ["Apple Mail Privacy Protection fetches every image on delivery: its opens "
                  "say nothing about reading and are not in the open rate.",
                  "Machine opens and clicks (prefetchers, link scanners, HEAD requests, "
                  "clicks within seconds of sending) are counted apart."],
    }


def _link_rows(events: EventStore, campaign: str, k_min: int) -> list[dict[str, Any]]:
    rows = events.query(
        "SELECT link, "
        "SUM(CASE WHEN agent IN ('prefetch', 'scanner') THEN 0 ELSE 1 END), "
        "COUNT(DISTINCT CASE WHEN agent IN ('prefetch', 'scanner') THEN NULL "
        "ELSE recipient END), "
        "SUM(CASE WHEN agent IN ('prefetch', 'scanner') THEN 1 ELSE 0 END) "
        "FROM events WHERE campaign = ? AND kind = 'click' GROUP BY link ORDER BY link",
        (campaign,))
    kept: list[dict[str, Any]] = []
    other: dict[str, Any] = {"link": OTHER, "clicks": 0, "unique_clicks": 0,
                             "machine_clicks": 0}
    folded = 0
    for link, clicks, unique, machine in rows:
        # The cell's measure as in exports: distinct recipients, else clicks.
        measure = unique or clicks
        if measure >= k_min:
            kept.append({"link": link, "clicks": clicks, "unique_clicks": unique,
                         "machine_clicks": machine})
        else:
            folded += 1
            for key, value in (("clicks", clicks), ("unique_clicks", unique),
                               ("machine_clicks", machine)):
                other[key] += value
    if folded and (other["unique_clicks"] or other["clicks"]) >= k_min:
        kept.append(other)
    return kept


def report_rows(rep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A report flattened to ``metric,value`` rows (CSV)."""
    rows: list[dict[str, Any]] = [{"metric": "sends", "value": rep["sends"]}]
    for kind, n in rep["opens"].items():
        rows.append({"metric": f"opens_{kind}", "value": n})
    rows.append({"metric": "unique_human_opens", "value": rep["unique_human_opens"]})
    rows.append({"metric": "open_rate", "value": rep["open_rate"]})
    for link in rep["clicks"]:
        rows.append({"metric": f"clicks[{link['link']}]", "value": link["clicks"]})
        rows.append({"metric": f"unique_clicks[{link['link']}]",
                     "value": link["unique_clicks"]})
        rows.append({"metric": f"machine_clicks[{link['link']}]",
                     "value": link["machine_clicks"]})
    rows.append({"metric": "unsubscribes", "value": rep["unsubscribes"]})
    return rows


def report_text(rep: Mapping[str, Any]) -> str:
    """A report for people."""
    o = rep["opens"]
    lines = [f"Campaign {rep['campaign']}",
             f"  sends                 {rep['sends']}",
             f"  opens, human          {o['human']} (of which via Gmail/Yahoo image proxies "
             f"{o['human_via_proxy']})",
             f"  opens, Apple MPP      {o['apple_mpp']} (unknowable: not in the open rate)",
             f"  opens, machine        {o['machine']}",
             f"  opens, unknown        {o['unknown']}"]
    if rep["unique_human_opens"] is not None:
        lines.append(f"  unique human opens    {rep['unique_human_opens']}")
    rate = rep["open_rate"]
    lines.append(f"  open rate             {'-' if rate is None else f'{rate:.1%}'} "
                 f"({rep['open_rate_is']})")
    lines.append("  clicks (human / unique / machine) per link:")
    for link in rep["clicks"] or [{"link": "(none)", "clicks": 0, "unique_clicks": 0,
                                    "machine_clicks": 0}]:
        lines.append(f"    {link['link']:<20} {link['clicks']} / {link['unique_clicks']} / "
                     f"{link['machine_clicks']}")
    lines.append(f"  unsubscribes          {rep['unsubscribes']}")
    lines.append(f"  (link rows under k={rep['k_min']} are folded into (other))")
    return "\n".join(lines)
