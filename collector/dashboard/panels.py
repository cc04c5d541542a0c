"""The dashboard's panels as plain functions: the page's choices become
:class:`~collector.analytics.query.Query` objects, and what
:func:`~collector.analytics.export.export` (or a campaign report, or the consent and
dropped counters) answers becomes rows to draw.

Every ranked table and the chart are one export each, with the site, the kind of event
and the person's filters as the export's own filters, read from daily totals where a day
is summarised (:mod:`collector.analytics.daily`), so a table holds exactly what
``cleargif export --daily --by <dimension> --filter …`` prints, folded and suppressed by
the same rule, and the CSV download is that output. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analytics.query import OTHER, Query, Result
from ..storage import ConsentCounts
from .choices import Choices, Period

#: The purposes the consent panel follows (``necessary`` is always granted).
PURPOSES = ("analytics", "personalization", "marketing")
#: Why hits were not counted, in the order shown (``bot`` is this site's bots, from the
#: export; the others are the collector's dropped counters).
REASONS = ("bot", "prefetch", "site", "network", "rate", "consent", "method")
#: Rows a table shows before its "all rows" link.
TOP = 10


def page_kind(choices: Choices) -> str:
    """The kind of event the page counts: events once an event name is filtered (the pages,
    sources and devices of that event), else page views."""
    return "event" if choices.filter_of("name") else "pageview"


def _filters(choices: Choices, kind: str,
             skip: str | None = None) -> tuple[tuple[str, str | None], ...]:
    return (("site", choices.site), ("kind", kind),
            *((name, value) for name, value in choices.filters if name != skip))


def table_query(choices: Choices, dimension: str, timezone: str) -> Query:
    """The export behind a ranked table: grouped by ``dimension``, filtered by every filter
    but its own, so the row that was clicked stays in view among the others."""
    kind = "event" if dimension == "name" else page_kind(choices)
    return Query(since=choices.period.since, until=choices.period.until, by=(dimension,),
                 timezone=timezone, filters=_filters(choices, kind, skip=dimension),
                 daily=True)


def series_query(choices: Choices, timezone: str) -> Query:
    """The export behind the chart: by day, every filter applied."""
    return Query(since=choices.period.since, until=choices.period.until, by=("day",),
                 timezone=timezone, filters=_filters(choices, page_kind(choices)), daily=True)


def totals_query(choices: Choices, period: Period, timezone: str) -> Query:
    """The export behind the key figures of ``period`` (this one or the one before): one
    cell (on summarised days its visits and visitors are sums of daily counts)."""
    return Query(since=period.since, until=period.until, by=(), timezone=timezone,
                 filters=_filters(choices, page_kind(choices)), daily=True)


def bots_query(choices: Choices, timezone: str) -> Query:
    """The export of this site's bot hits in the period (they are left out of the others)."""
    return Query(since=choices.period.since, until=choices.period.until, by=(),
                 timezone=timezone, include_bots=True,
                 filters=(("site", choices.site), ("device", "bot")), daily=True)


# --- shaping ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Row:
    """One row of a ranked table."""

    value: str | None
    hits: int
    visits: int
    returning: int
    #: The bar's length: hits over the largest row's hits.
    share: float
    other: bool = False
    selected: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A ranked table: its rows, what was held back, and the export's metadata."""

    dimension: str
    rows: list[Row]
    suppressed_cells: int
    other_suppressed: bool
    meta: Mapping[str, Any]

    @property
    def has_other(self) -> bool:
        """Whether an ``(other)`` row is shown."""
        return any(row.other for row in self.rows)


def shape_table(dimension: str, meta: Mapping[str, Any], result: Result,
                selected: tuple[str, str | None] | None) -> Table:
    """Rows with their bars, ``(other)`` last (as the export orders it)."""
    top = max((r["hits"] for r in result.rows), default=0) or 1
    rows = []
    for r in result.rows:
        value = r[dimension]
        # A real value spelled "(other)" cannot be told from the fold by its text; the fold
        # is the export's last row, and exists only when cells were suppressed.
        other = value == OTHER and r is result.rows[-1] and result.suppressed_cells > 0
        rows.append(Row(value, r["hits"], r["visits"], r["returning_visitors"],
                        r["hits"] / top, other=other,
                        selected=selected is not None and not other and value == selected[1]))
    return Table(dimension, rows, result.suppressed_cells, result.other_suppressed, meta)


@dataclass(frozen=True, slots=True)
class Totals:
    """The key figures of a period; None where held back."""

    hits: int | None
    visits: int | None
    returning: int | None


def shape_totals(result: Result) -> Totals:
    """The one cell of a totals export: zero when there were no hits at all (no cell),
    held back when the cell was under k."""
    if not result.rows:
        if not result.suppressed_cells:
            return Totals(0, 0, 0)
        return Totals(None, None, None)
    row = result.rows[0]
    return Totals(row["hits"], row["visits"], row["returning_visitors"])


def change(current: int | None, before: int | None) -> tuple[str, float] | None:
    """``("up" | "down" | "same" | "new", ratio)`` from the period before, or None when
    either is held back."""
    if current is None or before is None:
        return None
    if before == 0:
        return ("same", 0.0) if current == 0 else ("new", 0.0)
    ratio = (current - before) / before
    if abs(ratio) < 0.005:
        return "same", 0.0
    return ("up" if ratio > 0 else "down"), abs(ratio)


@dataclass(frozen=True, slots=True)
class Series:
    """The chart's days and values (None: no cell that day, zero or held back)."""

    days: list[str]
    hits: list[int | None]
    visits: list[int | None]
    returning: list[int | None]
    other: Row | None
    suppressed_cells: int
    other_suppressed: bool
    meta: Mapping[str, Any]


def shape_series(period: Period, meta: Mapping[str, Any], result: Result) -> Series:
    """One value per day of the period; days the export has no row for stay None, since a
    missing day may have had no hits or fewer than k people."""
    by_day = {r["day"]: r for r in result.rows if r["day"] != OTHER}
    days = [d.isoformat() for d in period.each_day()]
    other = next((r for r in result.rows if r["day"] == OTHER), None)

    def column(metric: str) -> list[int | None]:
        return [by_day[d][metric] if d in by_day else None for d in days]

    return Series(days, column("hits"), column("visits"), column("returning_visitors"),
                  None if other is None else Row(OTHER, other["hits"], other["visits"],
                                                 other["returning_visitors"], 1.0, other=True),
                  result.suppressed_cells, result.other_suppressed, meta)


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """Decisions of a day (or ``(other)``, or all days together)."""

    label: str
    decisions: int
    shares: tuple[float, ...]
    gpc: int
    dnt: int
    granted: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Consent:
    """The consent panel: per-day shares (None for days not shown), the table's rows, the
    totals, and whether small days were held back."""

    days: list[str]
    shares: Mapping[str, list[float | None]]
    rows: list[ConsentRow]
    total: ConsentRow | None
    other_suppressed: bool
    suppressed_days: int


def consent_row(label: str, days: Sequence[ConsentCounts]) -> ConsentRow:
    """A row of one day, or of several days summed (decisions add up; people do not, and
    are counted apart): grants as shares of the decisions."""
    decisions = sum(c.decisions for c in days)
    granted = tuple(sum(c.granted[i] for c in days) for i in range(len(PURPOSES)))
    return ConsentRow(label, decisions, tuple(g / (decisions or 1) for g in granted),
                      sum(c.gpc for c in days), sum(c.dnt for c in days), granted)


def small_days(by_day: Iterable[ConsentCounts], k_min: int) -> list[str]:
    """Days on which fewer than ``k_min`` browsers decided: folded, as small cells are."""
    return [c.key for c in by_day if c.subjects < k_min]


def shape_consent(period: Period, by_day: Sequence[ConsentCounts], other_subjects: int,
                  total_subjects: int, k_min: int) -> Consent:
    """The panel, by the export's rule: a day of fewer than ``k_min`` deciding browsers is
    folded into ``(other)``, shown only when its browsers together reach ``k_min``
    (``other_subjects``, counted across those days); the totals likewise
    (``total_subjects``)."""
    shown = [c for c in by_day if c.subjects >= k_min]
    small = [c for c in by_day if c.subjects < k_min]
    days = [d.isoformat() for d in period.each_day()]
    index = {c.key: c for c in shown}
    shares: dict[str, list[float | None]] = {}
    for i, purpose in enumerate(PURPOSES):
        shares[purpose] = [index[d].granted[i] / index[d].decisions if d in index else None
                           for d in days]
    rows = [consent_row(c.key, [c]) for c in shown]
    other_suppressed = False
    if small:
        if other_subjects >= k_min:
            rows.append(consent_row(OTHER, small))
        else:
            other_suppressed = True
    total = consent_row("", by_day) if by_day and total_subjects >= k_min else None
    return Consent(days, shares, rows, total, other_suppressed, len(small))


@dataclass(frozen=True, slots=True)
class Dropped:
    """Hits not counted, by reason."""

    reasons: list[tuple[str, int]]
    bots_held_back: bool


def shape_dropped(dropped: Mapping[str, int], bots: Result) -> Dropped:
    """Reasons in a fixed order, then any the collector added since; this site's bots
    first, held back under k as any cell."""
    counts = dict(dropped)
    bots_hits = bots.rows[0]["hits"] if bots.rows else 0
    reasons = [("bot", bots_hits)] if bots_hits else []
    reasons += [(r, counts.pop(r)) for r in REASONS[1:] if counts.get(r)]
    reasons += sorted((r, n) for r, n in counts.items() if n)
    return Dropped(reasons, bots_held_back=bots.other_suppressed)


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """A campaign in the panel: its report's figures (None where held back)."""

    name: str
    sends: int
    human: int | None
    apple: int | None
    machine: int | None
    open_rate: float | None
    clicks: int | None
    unsubscribes: int | None
    links: list[Mapping[str, Any]]
    report: Mapping[str, Any]


def shape_campaign(report: Mapping[str, Any]) -> CampaignRow:
    """A campaign report (:func:`collector.mail.campaigns.report`) as a row."""
    opens = report["opens"]
    clicks = sum(link["clicks"] for link in report["clicks"]) if report["clicks"] else 0
    return CampaignRow(report["campaign"], report["sends"], opens["human"],
                       opens["apple_mpp"], opens["machine"], report["open_rate"],
                       clicks, report["unsubscribes"], list(report["clicks"]), report)
