"""Email campaigns: recorded sends, the suppression list and campaign reports (DESIGN 5, 6).

Reports keep human, Apple Mail Privacy Protection, machine and unknown opens and clicks
apart, so the open rate counts people, in every tracking mode: the distinct recipients
who opened mails tracked individually, plus an estimate of the people behind the opens of
mails tracked in aggregate (see :data:`NOTES`), over the mails sent with a pixel. Counts
that come from fewer than ``K_MIN`` people are suppressed as cells of an export are
(DESIGN 1.6); sends, which the sender gave, are not.

Campaign and list names are stored as :func:`~collector.ingest.records.clean_id` leaves them, in
events and sends alike, so a report always finds both under the name the sender used.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sdk.naming import campaign_name_problem
from sdk.times import iso
from sdk.tokens import MAX_FIELD_LENGTH

from ..analytics.query import OTHER
from ..errors import CleargifError
from ..ingest.records import clean_id
from ..storage import Burst, EventStore, IdentityStore, Suppression

#: The suppression list entry that covers every list.
ALL_MAIL = "*"
HUMAN = ("human", "google_proxy", "yahoo_proxy")
#: Machine verdicts: stored ones, and ``burst``, which reports give the fetches of a
#: scanner's burst (:data:`BURST_TARGETS`).
MACHINE = ("prefetch", "scanner", "burst")
#: A message's fetches that reach this many different things of it (its pixel, each
#: link, its unsubscribe page) within ``EMAIL_BURST_SECONDS`` are a scanner's burst: a
#: person does not open a mail and follow two of its links within a second or two.
BURST_TARGETS = 3
#: ``EMAIL_BURST_SECONDS`` unless configured.
BURST_SECONDS = 2
MAX_ID = MAX_FIELD_LENGTH
#: The tracking modes of mails (``sdk.mail.TrackingMode``), as sends record them.
MODES = ("individual", "aggregate", "none")


def check_id(value: str, what: str) -> str:
    """A campaign or list id: 1 to 128 printable characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID or \
            not value.isprintable():
        raise CleargifError(f"The {what} must be 1 to {MAX_ID} printable characters.")
    return value


def check_name(value: object, what: str) -> str:
    """A campaign or list name a sender gives the collector, refused as the SDK refuses
    it (:func:`sdk.naming.campaign_name_problem`): what may identify a person (an
    address, an IP, 9+ digits) or is an opaque id. Sends of ``jane@example.com`` would
    otherwise be stored under ``:email``, merged with every such campaign.

    :raises CleargifError: with the SDK's sentence, which never quotes the value.
    """
    problem = campaign_name_problem(value, what)
    if problem is not None:
        raise CleargifError(problem)
    return str(value)


# --- sends ------------------------------------------------------------------------------

def record_sends(events: EventStore, campaign: str, count: int, list_id: str | None,
                 now: int, mode: str | None = None) -> int:
    """Add ``count`` sends to a campaign, of mails prepared in tracking ``mode``
    (:data:`MODES`; None when the sender does not say: reports then guess, see
    :func:`sends_by_mode`); returns the campaign's total.

    :raises CleargifError: a campaign or list name the SDK would refuse (:func:`check_name`),
        a count out of range or an unknown mode.
    """
    check_name(campaign, "campaign")
    if list_id is not None:
        check_name(list_id, "list")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= 10**9:
        raise CleargifError("The number of sends must be a whole number from 1 to "
                            "1000000000.")
    if mode is not None and mode not in MODES:
        raise CleargifError("The tracking mode of the sends must be individual, aggregate or "
                            "none, as the mails were prepared (or left out).")
    events.add_sends(clean_id(campaign), None if list_id is None else clean_id(list_id),
                     count, now, mode)
    return sends_of(events, campaign)


def sends_of(events: EventStore, campaign: str) -> int:
    """All sends recorded for a campaign."""
    return events.sends_of(clean_id(campaign))


def known(events: EventStore, identity: IdentityStore, campaign: str) -> bool:
    """Whether ``campaign`` had sends recorded, opens or clicks seen, or suppressions
    (unsubscribes, bounces, complaints) made."""
    return events.campaign_seen(clean_id(check_id(campaign, "campaign"))) or \
        bool(identity.suppressions_by_reason(campaign))


def unknown_message(events: EventStore, campaign: str) -> str:
    """The sentence for a campaign that is not :func:`known`, naming the closest known
    name (a typo's likely meaning)."""
    import difflib

    close = difflib.get_close_matches(campaign, events.campaign_names(), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else \
        "check its spelling against the name the sender's Mailer used."
    return f"No campaign {campaign[:100]!r} was sent or seen here; {hint}"


# --- suppressions -----------------------------------------------------------------------

#: Why a recipient is suppressed: they unsubscribed, their address bounced for good, they
#: reported the mail as spam, or the sender said so.
REASONS = ("unsubscribe", "bounce", "complaint", "manual")


def check_reason(value: object) -> str:
    """A suppression reason, one of :data:`REASONS`.

    :raises CleargifError: another value.
    """
    if not isinstance(value, str) or value not in REASONS:
        raise CleargifError("The reason of a suppression must be one of "
                            + ", ".join(REASONS) + ".")
    return value


def suppress(identity: IdentityStore, list_id: str, recipient: str, campaign: str | None,
             now: int, reason: str = "unsubscribe") -> bool:
    """Suppress a recipient on a list (or on all mail with :data:`ALL_MAIL`) for
    ``reason`` (:data:`REASONS`; an unsubscribe unless said); idempotent.

    Returns True when the entry is new. The first campaign and reason stay as provenance.

    :raises CleargifError: a reason not in :data:`REASONS`.
    """
    return identity.suppress([Suppression(list_id, recipient, campaign,
                                          check_reason(reason))], now) > 0


def suppress_many(identity: IdentityStore,
                  entries: Iterable[tuple[str, str, str | None] | tuple[str, str, str | None,
                                                                         str]],
                  now: int) -> int:
    """Suppress ``(list, recipient, campaign[, reason])`` entries in one transaction (an
    unsubscribe when no reason is given); returns how many were new."""
    rows = [Suppression(*entry) for entry in entries]
    for row in rows:
        check_reason(row.reason)
    return identity.suppress(rows, now)


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
                "reason": row.reason, "all_mail": row.list == ALL_MAIL,
                "created_at": iso(row.created_at)}
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
    """Unsubscribes whose provenance is this campaign."""
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
    "seconds of sending) are counted apart; so are unknown ones (no User-Agent, or one "
    "nobody recognises), which count as neither human nor machine.",
    "A message's fetches that reach three of its pixel, links and unsubscribe page within "
    "seconds of each other (EMAIL_BURST_SECONDS) are a scanner's burst and count as "
    "machine, whatever their User-Agent. Mails tracked in aggregate name no recipient, so "
    "their fetches cannot be grouped by message: for them only the User-Agent and "
    "too-soon rules apply.",
    "Open rate: people who opened / mails sent with a pixel. Mails tracked individually "
    "count their distinct recipients with a human open; aggregate mails name nobody, so "
    "their people are estimated: their human opens divided by the opens per person "
    "measured on this campaign's individual mails (1 when fewer than k recipients opened "
    "those, which makes it an upper bound), never more than their sends. Click rate alike, "
    "over every mail sent.",
    "Counts from fewer than k people (distinct recipients, plus events that name no "
    "recipient) are suppressed (null); link columns under k fold into (other), itself "
    "suppressed when under k, and a total that would reveal a suppressed (other) by "
    "subtraction is suppressed too. Sends are shown as recorded.",
    "k-suppression does not resist differencing: comparing reports taken at different "
    "times, or a report with your own send lists, can reveal suppressed counts.",
)


@dataclass(frozen=True, slots=True)
class LinkRow:
    """Clicks on one link id: human clicks, their distinct recipients (None without
    per-recipient tracking), machine and unknown clicks. A value is None when it is
    suppressed (folded into ``(other)``)."""

    link: str
    clicks: int | None
    unique_clicks: int | None
    machine_clicks: int | None
    unknown_clicks: int | None


@dataclass(frozen=True, slots=True)
class _Count:
    """Email events of one kind: how many, from how many distinct recipients, how many
    of them named a recipient."""

    events: int
    recipients: int
    with_recipient: int

    @property
    def anonymous(self) -> int:
        """Events that name no recipient (aggregate mails)."""
        return self.events - self.with_recipient

    def measure(self) -> int:
        """The people the count may come from, as a cell's size (DESIGN 1.6): distinct
        recipients, plus each event that names none (it may be anyone)."""
        return self.recipients + self.anonymous

    def small(self, k_min: int) -> bool:
        """Whether the count must be suppressed (zero singles nobody out)."""
        return 0 < self.measure() < k_min


_NONE = _Count(0, 0, 0)

#: Kinds of opens a report shows apart, by the agents they count (None: all others).
_OPEN_KINDS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("human", HUMAN), ("human_via_proxy", ("google_proxy", "yahoo_proxy")),
    ("apple_mpp", ("apple_mpp",)), ("machine", MACHINE), ("unknown", None))
_KNOWN_AGENTS = (*HUMAN, "apple_mpp", *MACHINE)
#: Kinds of clicks: human, machine, and neither (Apple MPP never clicks).
_CLICK_KINDS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("clicks", HUMAN), ("machine_clicks", MACHINE), ("unknown_clicks", None))


def _count(events: EventStore, campaign: str, kind: str, agents: tuple[str, ...] | None,
           burst: Burst | None, links: list[str] | None = None) -> _Count:
    if agents is None:
        known = _KNOWN_AGENTS if kind == "open" else (*HUMAN, *MACHINE)
        count = events.email_counts(campaign, kind, None, exclude=known, links=links,
                                    burst=burst)
    else:
        count = events.email_counts(campaign, kind, agents, links=links, burst=burst)
    return _Count(*count)


@dataclass(frozen=True, slots=True)
class Sends:
    """A campaign's sends by the tracking mode of their mails.

    ``unspecified`` sends were recorded without a mode; :func:`sends_by_mode` counts them
    in ``unspecified_as``.
    """

    individual: int
    aggregate: int
    none: int
    unspecified: int = 0
    unspecified_as: str | None = None


def sends_by_mode(events: EventStore, campaign: str) -> Sends:
    """A campaign's sends by mode. Sends recorded without one (before modes were
    recorded, or by a sender who did not say) count as ``individual`` when every open
    and click of the campaign names a recipient, else as ``aggregate`` (the SDK's
    default mode)."""
    stored = clean_id(campaign)
    recorded = events.sends_by_mode(stored)
    unspecified = recorded.get(None, 0)
    guess = None
    if unspecified:
        fetches = [_Count(*events.email_counts(stored, kind, None))
                   for kind in ("open", "click")]
        named = sum(c.with_recipient for c in fetches)
        anonymous = sum(c.anonymous for c in fetches)
        guess = "individual" if named and not anonymous else "aggregate"
    return Sends(
        individual=recorded.get("individual", 0) + (unspecified if guess == "individual"
                                                    else 0),
        aggregate=recorded.get("aggregate", 0) + (unspecified if guess == "aggregate" else 0),
        none=recorded.get("none", 0), unspecified=unspecified, unspecified_as=guess)


def _people_rate(what: str, count: _Count, individual_sends: int, aggregate_sends: int,
                 k_min: int, suppressed: list[str], notes: list[str]) -> dict[str, Any]:
    """The share of people who opened (or clicked), mails of both modes together.

    Individual mails: distinct recipients, at most the individual sends. Aggregate mails:
    ``anonymous events / events per person``, the latter measured on individual mails
    when at least ``k_min`` recipients are behind it (else 1: an upper bound), at most the
    aggregate sends. Suppression: the individual part under ``k_min`` recipients; the
    aggregate part under ``k_min`` events, or when it has events and the individual part
    is suppressed (the total minus it would give the individual events); the events per
    person and the total whenever either part is.
    """
    people, tracked, anonymous = count.recipients, count.with_recipient, count.anonymous
    hide_individual = 0 < people < k_min
    hide_aggregate = 0 < anonymous < k_min or (hide_individual and anonymous > 0)
    hidden = hide_individual or hide_aggregate
    measured = people >= k_min
    per_person = tracked / people if measured else 1.0
    individual = min(people, individual_sends)
    aggregate = min(float(aggregate_sends), anonymous / per_person)
    sends = individual_sends + aggregate_sends
    name = f"{what}_rate"
    if hide_individual:
        suppressed.append(f"{name}_individual")
    if hide_aggregate:
        suppressed.append(f"{name}_aggregate")
    if hidden and sends:
        suppressed.append(name)
    if people > individual_sends:
        notes.append(f"{people if not hide_individual else 'Some'} recipients of mails "
                     f"tracked individually {what}ed, more than the {individual_sends} "
                     "individual sends recorded; record sends with their mode (cleargif "
                     "campaign sent … --mode individual, or \"mode\" in the API).")
    if anonymous and not aggregate_sends:
        notes.append(f"Human {what}s of mails tracked in aggregate were seen, but no "
                      "aggregate sends were recorded: they are not in the rate; record "
                      "sends with their mode (--mode aggregate).")

    def ratio(part: float, of: int) -> float | None:
        return round(min(1.0, part / of), 4) if of else None

    return {
        "rate": None if hidden or not sends else ratio(individual + aggregate, sends),
        "sends": sends,
        "people": None if hidden else round(individual + aggregate, 1),
        "individual": {
            "sends": individual_sends,
            "people": None if hide_individual else individual,
            "rate": None if hide_individual else ratio(individual, individual_sends),
        },
        "aggregate": {
            "sends": aggregate_sends,
            f"human_{what}s": None if hide_aggregate else anonymous,
            f"{what}s_per_person": None if hidden else round(per_person, 2),
            "per_person_measured": measured,
            "people_estimated": None if hide_aggregate else round(aggregate, 1),
            "rate": None if hide_aggregate else ratio(aggregate, aggregate_sends),
        },
    }


class ReportCache:
    """Campaign reports kept in this process while nothing they read has changed: the
    campaign's events and sends (:meth:`EventStore.campaign_state`) and the suppressions
    it caused. A campaign that is over costs one small query per view; one still being
    read is reported anew as its opens arrive."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._reports: dict[tuple[Any, ...], tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def report(self, events: EventStore, identity: IdentityStore, campaign: str,
               k_min: int, burst_seconds: int = BURST_SECONDS) -> dict[str, Any]:
        """:func:`report`, or the same answer kept from before (a fresh copy)."""
        stored = clean_id(check_id(campaign, "campaign"))
        key = (stored, k_min, burst_seconds)
        state = (events.campaign_state(stored),
                 tuple(sorted(identity.suppressions_by_reason(stored).items())))
        kept = self._reports.get(key)
        if kept is not None and kept[0] == state:
            return copy.deepcopy(kept[1])
        made = report(events, identity, campaign, k_min, burst_seconds)
        with self._lock:
            if len(self._reports) >= self.size:
                self._reports.pop(next(iter(self._reports)))
            self._reports[key] = (state, copy.deepcopy(made))
        return made


#: What ``open_rate`` is (see :data:`NOTES` for how it is reckoned).
OPEN_RATE_IS = ("people who opened / mails sent with a pixel (individual mails counted, "
                "aggregate mails estimated)")


def report(events: EventStore, identity: IdentityStore, campaign: str,
           k_min: int, burst_seconds: int = BURST_SECONDS) -> dict[str, Any]:
    """A campaign's report: sends by mode, opens by kind of agent, open rate, clicks per
    link and in total, click rate, and the suppressions it caused (unsubscribes, hard
    bounces, complaints).

    Every count that comes from people is suppressed (``None``, and named in
    ``suppressed``) when it comes from 1 to ``k_min - 1`` of them (distinct recipients
    plus events naming none), as export cells are; link columns under ``k_min`` fold
    into ``(other)``. ``unique_human_opens`` is ``None`` as well when no mail carried
    recipients: it is unknowable then.

    :param burst_seconds: ``EMAIL_BURST_SECONDS``: the fetches of one message that reach
        :data:`BURST_TARGETS` things of it within this many seconds count as machine
        (verdict ``burst``); 0 turns burst detection off.
    """
    check_id(campaign, "campaign")
    stored = clean_id(campaign)
    burst = Burst(burst_seconds, BURST_TARGETS) if burst_seconds > 0 else None
    sends = sends_by_mode(events, campaign)
    suppressed: list[str] = []
    notes: list[str] = []

    def shown(name: str, count: _Count, value: int) -> int | None:
        if count.small(k_min):
            suppressed.append(name)
            return None
        return value

    counts = {name: _count(events, stored, "open", agents, burst)
              for name, agents in _OPEN_KINDS}
    opens = {name: shown(f"opens_{name}", count, count.events)
             for name, count in counts.items()}
    # Human opens include those through image proxies: with both shown, their difference
    # (direct opens) must not single anyone out either (secondary suppression).
    direct = _count(events, stored, "open", ("human",), burst)
    if opens["human"] is not None and opens["human_via_proxy"] is not None and \
            direct.small(k_min):
        opens["human_via_proxy"] = None
        suppressed.append("opens_human_via_proxy")
    human = counts["human"]
    # The individual part alone: its distinct recipients are the people it may hold.
    unique_human = shown("unique_human_opens", _Count(human.with_recipient, human.recipients,
                                                      human.with_recipient),
                         human.recipients) if human.with_recipient else None
    open_rate = _people_rate("open", human, sends.individual, sends.aggregate, k_min,
                             suppressed, notes)
    links, totals, folded, other_dropped = _clicks(events, stored, k_min, burst, suppressed)
    clicked = _count(events, stored, "click", HUMAN, burst)
    click_rate = _people_rate("click", clicked, sends.individual,
                              sends.aggregate + sends.none, k_min, suppressed, notes)
    # Suppressions are one per recipient and list: their number is the people they hold.
    made = identity.suppressions_by_reason(campaign)
    unsubscribes, bounces, complaints = (
        shown(name, _Count(made.get(reason, 0), 0, 0), made.get(reason, 0))
        for name, reason in (("unsubscribes", "unsubscribe"), ("bounces", "bounce"),
                             ("complaints", "complaint")))
    if sends.unspecified:
        notes.append(f"{sends.unspecified} sends were recorded without a tracking mode and "
                     f"are counted as {sends.unspecified_as}; record sends with their mode "
                     "(cleargif campaign sent … --mode, or \"mode\" in the API).")
    all_notes = [*NOTES, *notes]
    if suppressed:
        all_notes.append(f"Suppressed here (under k={k_min}): {', '.join(suppressed)}.")
    total = sends.individual + sends.aggregate + sends.none
    return {
        "campaign": stored,
        "sends": total,
        "sends_by_mode": {"individual": sends.individual, "aggregate": sends.aggregate,
                          "none": sends.none, "unspecified": sends.unspecified},
        "opens": opens,
        "unique_human_opens": unique_human,
        "open_rate": open_rate["rate"],
        "open_rate_is": OPEN_RATE_IS if total else "no sends recorded (cleargif campaign "
                                                   "sent)",
        "open_rate_parts": open_rate,
        "clicks": links,
        "click_totals": totals,
        "click_rate": click_rate["rate"],
        "click_rate_parts": click_rate,
        "unsubscribes": unsubscribes,
        "bounces": bounces,
        "complaints": complaints,
        "k_min": k_min,
        "suppressed": suppressed,
        "folded_links": folded,
        "other_suppressed": other_dropped,
        "notes": all_notes,
    }


def _clicks(events: EventStore, campaign: str, k_min: int, burst: Burst | None,
            suppressed: list[str]) -> tuple[list[dict[str, Any]], dict[str, int | None], int, bool]:
    """Link rows, folded, and totals: ``(rows, totals, how many links folded whole,
    whether (other) was dropped)``.

    Each column (human clicks, machine clicks, unknown clicks) of a link is shown when
    it comes from at least ``k_min`` people, or from none; otherwise it folds into
    ``(other)``, which counts the folded links' people exactly (one person clicking five
    small links is one, not five). A link is listed when one of its columns is shown
    with clicks in it, so links only machines clicked stay in the report. A column's
    total is suppressed when it is small, or when (other) holds a suppressed part of it
    that the total minus the rows would reveal.
    """
    per_kind = {name: {link: _Count(*count) for link, count in events.email_link_counts(
        campaign, agents, exclude=() if agents is not None else (*HUMAN, *MACHINE),
        burst=burst).items()} for name, agents in _CLICK_KINDS}
    links = sorted({link for counts in per_kind.values() for link in counts})
    rows: list[dict[str, Any]] = []
    folded: dict[str, list[str]] = {name: [] for name, _ in _CLICK_KINDS}
    whole = 0
    for link in links:
        row: dict[str, Any] = {"link": link}
        listed = False
        for name, _ in _CLICK_KINDS:
            count = per_kind[name].get(link, _NONE)
            if count.small(k_min):
                folded[name].append(link)
                row[name] = None
            else:
                row[name] = count.events
                listed = listed or count.events > 0
            if name == "clicks":
                row["unique_clicks"] = None if row[name] is None or not count.with_recipient \
                    else count.recipients
        if listed:
            rows.append(_link_row(row))
        else:
            whole += 1
    other: dict[str, Any] = {"link": OTHER}
    other_listed = False
    hidden_rest: set[str] = set()
    for name, agents in _CLICK_KINDS:
        other[name] = 0
        if name == "clicks":
            other["unique_clicks"] = None
        if not folded[name]:
            continue
        count = _count(events, campaign, "click", agents, burst, folded[name])
        if count.small(k_min):
            other[name] = None
            hidden_rest.add(name)
            continue
        other[name] = count.events
        other_listed = True
        if name == "clicks" and count.with_recipient:
            other["unique_clicks"] = count.recipients
    if other_listed:
        rows.append(_link_row(other))
    totals: dict[str, int | None] = {}
    for name, agents in _CLICK_KINDS:
        count = _count(events, campaign, "click", agents, burst)
        key = name if name != "clicks" else "human_clicks"
        if count.small(k_min) or name in hidden_rest:
            totals[key] = None
            suppressed.append(f"click_totals.{key}")
        else:
            totals[key] = count.events
        if name == "clicks":
            totals["unique_clicks"] = None if totals[key] is None or not count.with_recipient \
                else count.recipients
    other_dropped = any(folded.values()) and not other_listed
    return rows, totals, whole, other_dropped


def _link_row(row: Mapping[str, Any]) -> dict[str, Any]:
    shown = LinkRow(row["link"], row["clicks"], row["unique_clicks"], row["machine_clicks"],
                    row["unknown_clicks"])
    return {"link": shown.link, "clicks": shown.clicks, "unique_clicks": shown.unique_clicks,
            "machine_clicks": shown.machine_clicks, "unknown_clicks": shown.unknown_clicks}


def report_rows(rep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A report flattened to ``metric,value`` rows (CSV); suppressed values are empty."""
    rows: list[dict[str, Any]] = [{"metric": "sends", "value": rep["sends"]}]
    for mode, n in rep["sends_by_mode"].items():
        rows.append({"metric": f"sends[{mode}]", "value": n})
    for kind, n in rep["opens"].items():
        rows.append({"metric": f"opens_{kind}", "value": n})
    rows.append({"metric": "unique_human_opens", "value": rep["unique_human_opens"]})
    for what in ("open", "click"):
        parts = rep[f"{what}_rate_parts"]
        rows.append({"metric": f"{what}_rate", "value": parts["rate"]})
        rows.append({"metric": f"{what}_rate_people", "value": parts["people"]})
        for part in ("individual", "aggregate"):
            for key, value in parts[part].items():
                if key != "sends":
                    rows.append({"metric": f"{what}_rate[{part}].{key}", "value": value})
    for link in rep["clicks"]:
        for key in ("clicks", "unique_clicks", "machine_clicks", "unknown_clicks"):
            rows.append({"metric": f"{key}[{link['link']}]", "value": link[key]})
    for key, value in rep["click_totals"].items():
        rows.append({"metric": f"click_totals.{key}", "value": value})
    for key in ("unsubscribes", "bounces", "complaints"):
        rows.append({"metric": key, "value": rep[key]})
    return rows


def report_text(rep: Mapping[str, Any]) -> str:
    """A report for people."""
    hidden = f"suppressed (under k={rep['k_min']})"

    def show(value: Any) -> str:
        return hidden if value is None else str(value)

    def percent(value: float | None) -> str:
        return hidden if value is None else f"{value:.1%}"

    def people(value: float | None) -> str:
        if value is None:
            return hidden
        return str(int(value)) if float(value).is_integer() else f"{value:.1f}"

    modes = rep["sends_by_mode"]
    split = ", ".join(f"{mode} {modes[mode]}" for mode in ("individual", "aggregate", "none")
                      if modes[mode])
    o = rep["opens"]
    lines = [f"Campaign {rep['campaign']}",
             f"  sends                 {rep['sends']}" + (f" ({split})" if split else ""),
             f"  opens, human          {show(o['human'])} (of which via Gmail/Yahoo image "
             f"proxies {show(o['human_via_proxy'])})",
             f"  opens, Apple MPP      {show(o['apple_mpp'])} (unknowable: not in the open "
             "rate)",
             f"  opens, machine        {show(o['machine'])}",
             f"  opens, unknown        {show(o['unknown'])} (neither human nor machine: not "
             "in the open rate)"]
    if "unique_human_opens" in rep["suppressed"] or rep["unique_human_opens"] is not None:
        lines.append(f"  unique human opens    {show(rep['unique_human_opens'])} (of mails "
                     "tracked individually)")
    lines.extend(_rate_lines("open", rep["open_rate_parts"], percent, people))
    lines.append("  clicks per link       human / unique / machine / unknown")
    rows = rep["clicks"]
    totals = rep["click_totals"]
    rows = [*rows, {"link": "total", "clicks": totals["human_clicks"],
                    "unique_clicks": totals["unique_clicks"],
                    "machine_clicks": totals["machine_clicks"],
                    "unknown_clicks": totals["unknown_clicks"]}]
    for link in rows:
        cells = [str(link[key]) if link[key] is not None else
                 "-" if key == "unique_clicks" and link["clicks"] is not None else "?"
                 for key in ("clicks", "unique_clicks", "machine_clicks", "unknown_clicks")]
        lines.append(f"    {link['link']:<20} {' / '.join(cells)}")
    lines.append(f"    (? = suppressed, under k={rep['k_min']}; - = unknown without "
                 "per-recipient tracking)")
    lines.extend(_rate_lines("click", rep["click_rate_parts"], percent, people))
    lines.append(f"  unsubscribes          {show(rep['unsubscribes'])}")
    lines.append(f"  bounces, complaints   {show(rep['bounces'])}, {show(rep['complaints'])} "
                 "(suppressed from later mail: cleargif suppressions import)")
    lines.append("")
    lines.extend(f"Note: {note}" for note in rep["notes"])
    return "\n".join(lines)


def _rate_lines(what: str, parts: Mapping[str, Any], percent: Callable[[float | None], str],
                show: Callable[[Any], str]) -> list[str]:
    """The lines of an open or click rate: the whole, then each mode's part."""
    label = f"{what} rate"
    if not parts["sends"]:
        return [f"  {label:<22}- (no sends recorded: cleargif campaign sent)"]
    lines = [f"  {label:<22}{percent(parts['rate'])} (about {show(parts['people'])} people "
             f"of {parts['sends']} mails)"]
    ind, agg = parts["individual"], parts["aggregate"]
    if ind["sends"] or ind["people"]:
        rate = percent(ind["rate"]) if ind["sends"] else "-"
        lines.append(f"    individual          {rate} ({show(ind['people'])} distinct "
                     f"recipients of {ind['sends']} mails)")
    events = agg[f"human_{what}s"]
    if agg["sends"] or events:
        rate = percent(agg["rate"]) if agg["sends"] else "-"
        per = agg[f"{what}s_per_person"]
        if not events:
            how = ""
        elif not agg["per_person_measured"]:
            how = ", each counted as one person: an upper bound"
        elif per is None:
            how = f", {what}s per person suppressed"
        else:
            how = f", {per:.2f} per person as measured on individual mails"
        lines.append(f"    aggregate           {rate} (about "
                     f"{show(agg['people_estimated'])} people of {agg['sends']} mails: "
                     f"{show(events)} human {what}s{how})")
    return lines
