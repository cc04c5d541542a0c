"""Aggregate queries with small-count suppression (DESIGN 1.6): what to count, and the
rule that decides which cells may be shown.

Only aggregates leave the collector. A cell's *size* counts the people it may hold the
same way whatever mix of consent it contains: its distinct visitor ids, plus the distinct
session ids of its hits that carry no visitor id, plus its hits that carry no id at all (a
cookieless hit may be anyone, as a server log would count it). A cell under ``K_MIN`` is
suppressed and folded into an ``(other)`` row, itself dropped when under ``K_MIN`` too, so
consenting never makes a popular page vanish, and a cell of one consented visitor never
shows. The fold keeps exact distinct counts: the database counts the folded cells'
people together, never a sum of their sizes.

Days read from daily roll-ups (:mod:`collector.analytics.rollups`) bring distinct counts
that cannot be merged: their reported visits and visitors are sums of daily counts, and
their size is a lower bound: the hits without ids (which add up), plus the largest single
roll-up row's identified people.

The counting is done by the event store (:meth:`collector.storage.EventStore.cells`); this
module only decides, over the grouped rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..clock import day_bounds, utc_offsets
from ..storage import CellCounts, CellQuery

DIMENSIONS = ("day", "path", "referrer_host", "browser", "os", "device", "lang",
              "utm_source", "utm_medium", "utm_campaign", "site", "name")
#: What a query may be filtered by: every dimension but the day, and the kind of event.
FILTERABLE = (*DIMENSIONS[1:], "kind")
METRICS = ("hits", "visits", "returning_visitors")
OTHER = "(other)"
FIRST_YEAR, LAST_YEAR = 1970, 9998  # a day past 9999-12-31 cannot be computed
NOTES = (
    "Aggregates only. A cell's size is its distinct visitor ids, plus the distinct session "
    "ids of its hits without a visitor id, plus its hits without any id; cells under k are "
    "folded into (other), and (other) itself is dropped when under k.",
    "k-suppression does not resist differencing: subtracting overlapping exports (other "
    "periods, other dimensions) can reveal suppressed counts.",
    "visits = distinct session ids (analytics consent); returning_visitors = returning "
    "visitors (consented): distinct visitor ids, recorded only with analytics and "
    "personalization consent.",
)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class QueryError(ValueError):
    """A bad export parameter; the message says how to fix it."""


def parse_day(text: str | None, name: str) -> date:
    """A ``YYYY-MM-DD`` date, or :class:`QueryError` naming the parameter."""
    if not text:
        raise QueryError(f"--{name} is required, as a date such as 2026-01-31.")
    try:
        # fromisoformat alone would also take 20260131 and week dates like 2026-W05-6.
        if not _DAY.fullmatch(text.strip()):
            raise ValueError(text)
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"--{name} {text[:40]!r} is not a date; use YYYY-MM-DD, such as "
                         "2026-01-31.") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise QueryError(f"--{name} {day} is out of range; give a date from {FIRST_YEAR} to "
                         f"{LAST_YEAR}.")
    return day


def parse_dimensions(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """A comma-separated dimension list, each from :data:`DIMENSIONS`, no repeats."""
    if text is None or text == "":
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    dims = tuple(d.strip() for d in items if d.strip())
    for d in dims:
        if d not in DIMENSIONS:
            raise QueryError(f"Unknown dimension {d[:40]!r}; choose from "
                             + ", ".join(DIMENSIONS) + ".")
    if len(set(dims)) != len(dims):
        raise QueryError("A dimension is named twice in --by; name each once.")
    return dims


def parse_filter(text: str) -> tuple[str, str | None]:
    """A filter written ``dimension:value`` (``path:/pricing``), the dimension from
    :data:`FILTERABLE`; an empty value (``referrer_host:``) matches events without one."""
    name, sep, value = text.partition(":")
    if not sep or name.strip() not in FILTERABLE:
        raise QueryError(f"A filter is written dimension:value, such as path:/pricing, with "
                         f"a dimension from {', '.join(FILTERABLE)}; got {text[:60]!r}.")
    return name.strip(), value if value != "" else None


@dataclass(frozen=True, slots=True)
class Query:
    """What to aggregate."""

    since: date
    until: date  # inclusive
    by: tuple[str, ...] = ()
    revision: int | None = None
    include_bots: bool = False
    timezone: str = "UTC"
    #: Equality filters ``(dimension, value)``; a None value matches no value.
    filters: tuple[tuple[str, str | None], ...] = ()
    #: Read summarised days from daily totals where they answer the query (fast; visits
    #: and returning visitors become sums of daily counts: :mod:`.daily`).
    daily: bool = False

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise QueryError(f"--until ({self.until}) is before --since ({self.since}); "
                             "swap them.")
        for name, _ in self.filters:
            if name not in FILTERABLE:
                raise QueryError(f"Cannot filter by {name[:40]!r}; choose from "
                                 + ", ".join(FILTERABLE) + ".")

    def bounds(self) -> tuple[int, int]:
        """``[start, end)`` as Unix seconds: whole days in ``timezone``."""
        tz = ZoneInfo(self.timezone)
        start = datetime.combine(self.since, datetime.min.time(), tz)
        end = datetime.combine(self.until + timedelta(days=1), datetime.min.time(), tz)
        return int(start.timestamp()), int(end.timestamp())

    def describe(self, k_min: int) -> dict[str, Any]:
        """The metadata printed with every export."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "timezone": self.timezone, "by": list(self.by), "k_min": k_min,
                "revision": self.revision, "include_bots": self.include_bots,
                "filters": {name: value for name, value in self.filters},
                "daily": self.daily, "metrics": list(METRICS), "notes": list(NOTES)}


def local_days(since: date, until: date, tz: ZoneInfo) -> list[tuple[str, int, int]]:
    """``(day, start, end)`` of each local day from ``since`` to ``until`` (inclusive), as
    Unix seconds ``[start, end)``: 23 or 25 hours across a DST change."""
    days = []
    day = since
    while day <= until:
        days.append((day.isoformat(), *day_bounds(day, tz)))
        day += timedelta(days=1)
    return days


def cell_query(query: Query, skip_days: Iterable[str] = ()) -> CellQuery | None:
    """The storage side of ``query`` over its local days but ``skip_days`` (read from
    roll-ups): the remaining days as few ``[start, end)`` ranges as they make, and the
    zone's offsets over them. None when no day remains."""
    skipped = set(skip_days)
    ranges: list[tuple[int, int]] = []
    tz = ZoneInfo(query.timezone)
    for label, start, end in local_days(query.since, query.until, tz):
        if label in skipped:
            continue
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    if not ranges:
        return None
    return CellQuery(by=query.by, ranges=tuple(ranges),
                     offsets=utc_offsets(ranges[0][0], ranges[-1][1], tz),
                     where=query.filters, revision=query.revision,
                     include_bots=query.include_bots)


@dataclass(slots=True)
class Cell:
    """One cell of a result, from raw events, roll-up rows or both."""

    key: tuple[Any, ...]
    raw: CellCounts | None = None
    rolled: CellCounts | None = None

    @property
    def hits(self) -> int:
        """All hits: exact."""
        raw, rolled = self.raw, self.rolled
        return (raw.hits if raw else 0) + (rolled.hits if rolled else 0)

    @property
    def visits(self) -> int:
        """Distinct sessions (on roll-up days, sums of daily counts)."""
        raw, rolled = self.raw, self.rolled
        return (raw.visits if raw else 0) + (rolled.visits if rolled else 0)

    @property
    def visitors(self) -> int:
        """Distinct visitor ids (on roll-up days, sums of daily counts)."""
        raw, rolled = self.raw, self.rolled
        return (raw.visitors if raw else 0) + (rolled.visitors if rolled else 0)

    @property
    def size(self) -> int:
        """The people the cell may hold (DESIGN 1.6): exact on raw events, a lower bound
        where roll-ups are in it."""
        return size_of(self.raw, self.rolled)


def size_of(raw: CellCounts | None, rolled: CellCounts | None) -> int:
    """A cell's size from its raw part (exact) and roll-up part (a lower bound): hits
    without ids add up; identified people are at least the larger of the raw distinct
    count and the largest single roll-up row's."""
    anonymous = (raw.anonymous if raw else 0) + (rolled.anonymous if rolled else 0)
    identified = max(raw.identified if raw else 0, rolled.most_identified if rolled else 0)
    return anonymous + identified


@dataclass(frozen=True, slots=True)
class Result:
    """Rows (dimension values then metrics) and what was held back."""

    rows: list[dict[str, Any]]
    suppressed_cells: int
    other_suppressed: bool


def rolled_together(parts: Iterable[CellCounts]) -> CellCounts | None:
    """Roll-up parts of several cells as one: sums, and the largest single row's people
    (a lower bound: distinct counts of roll-ups cannot be merged)."""
    found = list(parts)
    if not found:
        return None
    return CellCounts((), sum(c.hits for c in found), sum(c.visits for c in found),
                      sum(c.visitors for c in found), sum(c.identified for c in found),
                      sum(c.anonymous for c in found), max(c.most_identified for c in found))


def _together(a: CellCounts, b: CellCounts) -> CellCounts:
    """Two roll-up parts of one cell as one (sums, the larger single row)."""
    return CellCounts(a.key, a.hits + b.hits, a.visits + b.visits, a.visitors + b.visitors,
                      a.identified + b.identified, a.anonymous + b.anonymous,
                      max(a.most_identified, b.most_identified))


def fold(raw: Iterable[CellCounts], rolled: Iterable[CellCounts], by: Sequence[str],
         k_min: int) -> Result:
    """Merge a query's raw cells and roll-up cells by key, suppress the cells under
    ``k_min`` and fold them into ``(other)``; rows sorted by hits, largest first.

    The roll-up cells are read first and held; the raw cells stream past them once. The
    raw cells must list their ids when smaller than ``k_min`` (``cells(query,
    ids_below=k_min)``): of a suppressed cell only its ids are kept, united with the
    others', so that ``(other)`` counts its people exactly. (A raw cell at least
    ``k_min`` large is kept whatever its roll-up part adds.)
    """
    waiting: dict[tuple[Any, ...], CellCounts] = {}
    for counts in rolled:  # a key may come from roll-ups and from daily totals
        held = waiting.get(counts.key)
        waiting[counts.key] = counts if held is None else _together(held, counts)
    kept: list[Cell] = []
    small = 0
    folded = _Folded()
    small_rolled: list[CellCounts] = []
    for counts in raw:
        part = waiting.pop(counts.key, None) if waiting else None
        size = counts.identified + counts.anonymous if part is None else size_of(counts, part)
        if size >= k_min:
            kept.append(Cell(counts.key, raw=counts, rolled=part))
            continue
        small += 1
        folded.add(counts)
        if part is not None:
            small_rolled.append(part)
    for part in waiting.values():  # cells of roll-up days only
        if size_of(None, part) >= k_min:
            kept.append(Cell(part.key, rolled=part))
        else:
            small += 1
            small_rolled.append(part)
    kept.sort(key=lambda cell: (-cell.hits, tuple(map(str, cell.key))))
    rows = [_row(by, c.key, c) for c in kept]
    other_suppressed = False
    if small:
        other = Cell(tuple(OTHER for _ in by), raw=folded.counts(),
                     rolled=rolled_together(small_rolled))
        if other.size >= k_min:
            rows.append(_row(by, other.key, other))
        else:
            other_suppressed = True
    return Result(rows, small, other_suppressed)


class _Folded:
    """The raw parts of the cells folded into ``(other)``: hits summed, ids united."""

    def __init__(self) -> None:
        self.hits = self.anonymous = 0
        self.sessions: set[str] = set()
        self.visitors: set[str] = set()
        self.lone_sessions: set[str] = set()

    def add(self, counts: CellCounts) -> None:
        """Fold in one small cell of raw events."""
        if counts.ids is None:
            raise ValueError("A raw cell under k_min came without its ids: read the cells "
                             "with ids_below=k_min.")
        self.hits += counts.hits
        self.anonymous += counts.anonymous
        self.sessions.update(counts.ids.sessions)
        self.visitors.update(counts.ids.visitors)
        self.lone_sessions.update(counts.ids.lone_sessions)

    def counts(self) -> CellCounts | None:
        """The folded cells as one (None when there is none)."""
        if not self.hits:
            return None
        identified = len(self.visitors) + len(self.lone_sessions)
        return CellCounts((), self.hits, len(self.sessions), len(self.visitors),
                          identified, self.anonymous, identified)


def _row(by: Sequence[str], key: tuple[Any, ...], cell: Cell) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(by, key, strict=True))
    row.update(hits=cell.hits, visits=cell.visits, returning_visitors=cell.visitors)
    return row
