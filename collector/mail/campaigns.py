"""Email campaigns: recorded sends, the suppression list and campaign reports (DESIGN 5, 6).

Reports keep human, Apple Mail Privacy Protection and machine opens apart, so the open
rate counts people: unique human opens over sends with per-recipient tracking, otherwise
human opens per send. Counts that come from fewer than ``K_MIN`` recipients are suppressed
as cells of an export are (DESIGN 1.6); sends, which the sender gave, are not.

Campaign and list names are stored as :func:`~collector.ingest.records.clean_id` leaves them, in
events and sends alike, so a report always finds both under the name the sender used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sdk.times import iso
from sdk.tokens import MAX_FIELD_LENGTH

from ..analytics.query import OTHER
from ..errors import CleargifError
from ..ingest.records import clean_id
from ..storage import EmailCount, EventStore, IdentityStore, Suppression

#: The suppression list entry that covers every list.
ALL_MAIL = "*"
HUMAN = ("human", "google_proxy", "yahoo_proxy")
MACHINE = ("prefetch", "scanner")
MAX_ID = MAX_FIELD_LENGTH


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
    events.add_sends(clean_id(campaign), None if list_id is None else clean_id(list_id),
                     count, now)
    return sends_of(events, campaign)


def sends_of(events: EventStore, campaign: str) -> int:
    """All sends recorded for a campaign."""
    return events.sends_of(clean_id(campaign))


def known(events: EventStore, identity: IdentityStore, campaign: str) -> bool:
    """Whether ``campaign`` had sends recorded, opens or clicks seen, or unsubscribes."""
    return events.campaign_seen(clean_id(check_id(campaign, "campaign"))) or \
        unsubscribes_of(identity, campaign) > 0


def unknown_message(events: EventStore, campaign: str) -> str:
    """The sentence for a campaign that is not :func:`known`, naming the closest known
    name (a typo's likely meaning)."""
    import difflib

    close = difflib.get_close_matches(campaign, events.campaign_names(), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else \
        "check its spelling against the name the sender's Mailer used."
    return f"No campaign {campaign[:100]!r} was sent or seen here; {hint}"


# --- suppressions -----------------------------------------------------------------------

def suppress(identity: IdentityStore, list_id: str, recipient: str, campaign: str | None,
             now: int) -> bool:
    """Suppress a recipient on a list (or on all mail with :data:`ALL_MAIL`); idempotent.

    Returns True when the entry is new. The first campaign stays as provenance.
    """
    return identity.suppress([Suppression(list_id, recipient, campaign)], now) > 0


def suppress_many(identity: IdentityStore,
                  entries: list[tuple[str, str, str | None]], now: int) -> int:
    """Suppress ``(list, recipient, campaign)`` entries in one transaction; returns how
    many were new."""
    return identity.suppress([Suppression(*entry) for entry in entries], now)


def is_suppressed(identity: IdentityStore, list_id: str, recipient: str) -> bool:
    """Whether mail of ``list_id`` must not go to ``recipient``."""
    return identity.is_suppressed(list_id, recipient, ALL_MAIL)


PAGE = 1000


def suppressions_since(identity: IdentityStore, since: int | None, after: str | None = None,
                       limit: int = PAGE) -> tuple[list[dict[str, Any]], str | None]:
    """Suppression entries created at or after ``since``, oldest first, one page at a time:
    ``(entries, next)`` where ``next`` is the cursor of the following page, or None.

    :raises CleargifError: ``after`` is not a cursor this function gave.
    """
    rows = identity.suppressions_since(since or 0, _parse_cursor(after) if after else None,
                                       limit + 1)
    entries = [{"list": row.list, "recipient": row.recipient, "campaign": row.campaign,
                "all_mail": row.list == ALL_MAIL, "created_at": iso(row.created_at)}
               for row in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        nxt = "{}-{}".format(*rows[limit - 1].cursor)
    return entries, nxt


# A cursor is "<created_at>-<n>", both signed 64-bit integers.
_CURSOR = re.compile(r"([0-9]{1,19})-([0-9]{1,19})", re.ASCII)
_MAX_INTEGER = 2**63 - 1


def _parse_cursor(after: str) -> tuple[int, int]:
    match = _CURSOR.fullmatch(after)
    cursor = (int(match.group(1)), int(match.group(2))) if match else None
    if cursor is None or max(cursor) > _MAX_INTEGER:
        raise CleargifError("after must be the 'next' cursor of the previous page, as the "
                            "answer gave it; leave it out to start from the first page.")
    return cursor


def unsubscribes_of(identity: IdentityStore, campaign: str) -> int:
    """Suppressions whose provenance is this campaign."""
    return identity.unsubscribes_of(campaign)


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

#: Notes every campaign report carries (JSON, the CSV metadata and the text form).
NOTES = (
    "Apple Mail Privacy Protection fetches every image on delivery: its opens say nothing "
    "about reading and are not in the open rate.",
    "Machine opens and clicks (prefetchers, link scanners, HEAD requests, clicks within "
    "seconds of sending) are counted apart.",
    "Counts from fewer than k distinct recipients (else fewer than k opens, clicks or "
    "unsubscribes) are suppressed (null); link rows under k fold into (other), itself "
    "dropped when under k. Sends are shown as recorded.",
    "k-suppression does not resist differencing: comparing reports taken at different "
    "times, or a report with your own send lists, can reveal suppressed counts.",
)


@dataclass(frozen=True, slots=True)
class LinkRow:
    """Clicks on one link id; ``unique_clicks`` is None without per-recipient tracking."""

    link: str
    clicks: int
    unique_clicks: int | None
    machine_clicks: int


@dataclass(frozen=True, slots=True)
class _Count:
    """Events of one kind of a campaign: how many, and from how many recipients."""

    events: int
    recipients: int
    with_recipient: int

    def measure(self) -> int:
        """Distinct recipients, else events: the export rule of DESIGN 1.6."""
        return self.recipients or self.events

    def small(self, k_min: int) -> bool:
        """Whether the count must be suppressed (zero singles nobody out)."""
        return 0 < self.measure() < k_min


#: Kinds of opens a report shows apart, by the agents they count (None: all others).
_OPEN_KINDS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("human", HUMAN), ("human_via_proxy", ("google_proxy", "yahoo_proxy")),
    ("apple_mpp", ("apple_mpp",)), ("machine", MACHINE), ("unknown", None))
_KNOWN_AGENTS = (*HUMAN, "apple_mpp", *MACHINE)


def _opens(events: EventStore, campaign: str, agents: tuple[str, ...] | None) -> _Count:
    if agents is None:
        count = events.email_counts(campaign, "open", None, exclude=_KNOWN_AGENTS)
    else:
        count = events.email_counts(campaign, "open", agents)
    return _Count(count.events, count.recipients, count.with_recipient)


def report(events: EventStore, identity: IdentityStore, campaign: str,
           k_min: int) -> dict[str, Any]:
    """A campaign's report: sends, opens by kind of agent, open rate, clicks per link,
    unsubscribes.

    Every count that comes from recipients is suppressed (``None``, and named in
    ``suppressed``) when it comes from 1 to ``k_min - 1`` distinct recipients, else 1 to
    ``k_min - 1`` events, as export cells are; link rows under ``k_min`` fold into
    ``(other)``. ``unique_human_opens`` and ``unique_clicks`` are ``None`` as well when
    no mail carried recipients: they are unknowable then.
    """
    check_id(campaign, "campaign")
    stored = clean_id(campaign)
    sends = sends_of(events, campaign)
    suppressed: list[str] = []

    def shown(name: str, count: _Count, value: int) -> int | None:
        if count.small(k_min):
            suppressed.append(name)
            return None
        return value

    counts = {name: _opens(events, stored, agents) for name, agents in _OPEN_KINDS}
    opens = {name: shown(f"opens_{name}", count, count.events)
             for name, count in counts.items()}
    # Human opens include those through image proxies: with both shown, their difference
    # (direct opens) must not single anyone out either (secondary suppression).
    direct = _opens(events, stored, ("human",))
    if opens["human"] is not None and opens["human_via_proxy"] is not None and \
            direct.small(k_min):
        opens["human_via_proxy"] = None
        suppressed.append("opens_human_via_proxy")
    human = counts["human"]
    per_recipient = human.with_recipient > 0
    unique_human = shown("unique_human_opens", human, human.recipients) \
        if per_recipient else None
    rate: float | None = None
    if sends and per_recipient:
        rate_kind = "unique human opens / sends"
        if unique_human is not None:
            rate = round(unique_human / sends, 4)
    elif sends:
        rate_kind = "human opens per send (no per-recipient tracking)"
        if opens["human"] is not None:
            rate = round(human.events / sends, 4)
    else:
        rate_kind = "no sends recorded (cleargif campaign sent)"
    if sends and rate is None:
        suppressed.append("open_rate")
    links, folded, other_dropped = _link_rows(events, stored, k_min)
    unsubscribed = unsubscribes_of(identity, campaign)
    unsubscribes = shown("unsubscribes", _Count(unsubscribed, 0, 0), unsubscribed)
    notes = list(NOTES)
    if suppressed:
        notes.append(f"Suppressed here (under k={k_min}): {', '.join(suppressed)}.")
    return {
        "campaign": stored,
        "sends": sends,
        "opens": opens,
        "unique_human_opens": unique_human,
        "open_rate": rate,
        "open_rate_is": rate_kind,
        "clicks": links,
        "unsubscribes": unsubscribes,
        "k_min": k_min,
        "suppressed": suppressed,
        "folded_links": folded,
        "other_suppressed": other_dropped,
        "notes": notes,
    }


def _link_rows(events: EventStore, campaign: str,
               k_min: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Link rows, folded: ``(rows, how many links folded, whether (other) was dropped)``.

    A row's measure is as in exports: distinct recipients of human clicks, else human
    clicks. ``(other)`` counts the folded links' recipients exactly (one person clicking
    five small links is one recipient, not five).
    """
    human = events.email_link_counts(campaign, None, exclude=MACHINE)
    machine = events.email_link_counts(campaign, MACHINE)
    kept: list[dict[str, Any]] = []
    folded: list[str] = []
    for link in sorted(set(human) | set(machine)):
        count = human.get(link, EmailCount(0, 0, 0))
        if _Count(*count).measure() >= k_min:
            kept.append(_link_row(link, count, machine.get(link, EmailCount(0, 0, 0)).events))
        else:
            folded.append(link)
    other_dropped = False
    if folded:
        # All folded links at once, so that their distinct recipients stay exact.
        count = events.email_counts(campaign, "click", None, exclude=MACHINE, links=folded)
        if _Count(*count).measure() >= k_min:
            rest = events.email_counts(campaign, "click", MACHINE, links=folded).events
            kept.append(_link_row(OTHER, count, rest))
        else:
            other_dropped = True
    return kept, len(folded), other_dropped


def _link_row(link: str, count: EmailCount, machine: int) -> dict[str, Any]:
    row = LinkRow(link, count.events, count.recipients if count.with_recipient else None,
                  machine)
    return {"link": row.link, "clicks": row.clicks, "unique_clicks": row.unique_clicks,
            "machine_clicks": row.machine_clicks}


def report_rows(rep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A report flattened to ``metric,value`` rows (CSV); suppressed values are empty."""
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
    hidden = f"suppressed (under k={rep['k_min']})"

    def show(value: Any) -> str:
        return hidden if value is None else str(value)

    o = rep["opens"]
    lines = [f"Campaign {rep['campaign']}",
             f"  sends                 {rep['sends']}",
             f"  opens, human          {show(o['human'])} (of which via Gmail/Yahoo image "
             f"proxies {show(o['human_via_proxy'])})",
             f"  opens, Apple MPP      {show(o['apple_mpp'])} (unknowable: not in the open "
             "rate)",
             f"  opens, machine        {show(o['machine'])}",
             f"  opens, unknown        {show(o['unknown'])}"]
    if "unique_human_opens" in rep["suppressed"] or rep["unique_human_opens"] is not None:
        lines.append(f"  unique human opens    {show(rep['unique_human_opens'])}")
    rate = rep["open_rate"]
    shown_rate = hidden if "open_rate" in rep["suppressed"] else \
        "-" if rate is None else f"{rate:.1%}"
    lines.append(f"  open rate             {shown_rate} ({rep['open_rate_is']})")
    lines.append("  clicks (human / unique / machine) per link:")
    for link in rep["clicks"] or [{"link": "(none)", "clicks": 0, "unique_clicks": None,
                                    "machine_clicks": 0}]:
        unique = "-" if link["unique_clicks"] is None else link["unique_clicks"]
        lines.append(f"    {link['link']:<20} {link['clicks']} / {unique} / "
                     f"{link['machine_clicks']}")
    lines.append(f"  unsubscribes          {show(rep['unsubscribes'])}")
    lines.append("")
    lines.extend(f"Note: {note}" for note in rep["notes"])
    return "\n".join(lines)
