"""Aggregate exports with small-count suppression (DESIGN 1.6).

Only aggregates leave the collector. A cell whose distinct visitor ids, else distinct
session ids, else hits, number fewer than ``K_MIN`` is suppressed and folded into an
``(other)`` row, itself suppressed when it is under ``K_MIN`` too. The fold keeps exact
distinct counts: the id sets of folded cells are merged, not their sizes summed.

Days read from daily roll-ups (:mod:`collector.analytics.rollups`) bring distinct counts that cannot
be merged: the rows report their sums, but suppression must not count a person twice, so
it measures a cell by a lower bound of its distinct people instead: the largest of its
raw distinct count and of the counts of the single roll-up rows (one day, one roll-up
cell) folded into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DIMENSIONS = ("day", "path", "referrer_host", "browser", "os", "device", "lang",
              "utm_source", "utm_medium", "utm_campaign")
METRICS = ("hits", "visits", "returning_visitors")
OTHER = "(other)"
FIRST_YEAR, LAST_YEAR = 1970, 9998  # a day past 9999-12-31 cannot be computed
NOTES = (
    "Aggregates only. Cells with fewer than k distinct visitor ids (else session ids, else "
    "hits) are folded into (other); (other) itself is dropped when under k.",
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


@dataclass(frozen=True, slots=True)
class Query:
    """What to aggregate."""

    since: date
    until: date  # inclusive
    by: tuple[str, ...] = ()
    revision: int | None = None
    include_bots: bool = False
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise QueryError(f"--until ({self.until}) is before --since ({self.since}); "
                             "swap them.")

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
                "metrics": list(METRICS), "notes": list(NOTES)}


@dataclass(slots=True)
class _Acc:
    hits: int = 0
    sessions: set[str] = field(default_factory=set)
    visitors: set[str] = field(default_factory=set)
    # Pre-counted distincts from daily roll-ups, summed for the reported metrics (they
    # cannot be merged, so a person seen on two days or in two roll-up cells counts twice)
    extra_visits: int = 0
    extra_visitors: int = 0
    # … and the largest single roll-up row's count: a lower bound of the distinct people,
    # which is what suppression may rely on.
    most_visits: int = 0
    most_visitors: int = 0

    def add(self, other: _Acc) -> None:
        self.hits += other.hits
        self.sessions |= other.sessions
        self.visitors |= other.visitors
        self.extra_visits += other.extra_visits
        self.extra_visitors += other.extra_visitors
        self.most_visits = max(self.most_visits, other.most_visits)
        self.most_visitors = max(self.most_visitors, other.most_visitors)

    @property
    def visits(self) -> int:
        return len(self.sessions) + self.extra_visits

    @property
    def returning(self) -> int:
        return len(self.visitors) + self.extra_visitors

    def measure(self) -> int:
        """Distinct visitors, else distinct sessions, else hits: on raw events exact, on
        roll-ups a lower bound (never a sum of daily counts, which overstates people)."""
        if self.visitors or self.extra_visitors:
            return max(len(self.visitors), self.most_visitors)
        if self.sessions or self.extra_visits:
            return max(len(self.sessions), self.most_visits)
        return self.hits


@dataclass(frozen=True, slots=True)
class Result:
    """Rows (dimension values then metrics) and what was held back."""

    rows: list[dict[str, Any]]
    suppressed_cells: int
    other_suppressed: bool


class Aggregator:
    """Accumulate events (or roll-up rows) into cells keyed by the query's dimensions."""

    def __init__(self, by: Sequence[str]) -> None:
        self.by = tuple(by)
        self.cells: dict[tuple[Any, ...], _Acc] = {}

    def add_event(self, key: tuple[Any, ...], session_id: str | None,
                  visitor_id: str | None) -> None:
        """Count one raw event."""
        acc = self.cells.get(key)
        if acc is None:
            acc = self.cells[key] = _Acc()
        acc.hits += 1
        if session_id:
            acc.sessions.add(session_id)
        if visitor_id:
            acc.visitors.add(visitor_id)

    def add_counts(self, key: tuple[Any, ...], hits: int, visits: int, visitors: int,
                   most_visits: int | None = None, most_visitors: int | None = None) -> None:
        """Add pre-aggregated counts: daily roll-up rows, summed.

        :param visits: the sum of the rows' distinct session counts (reported as is).
        :param most_visits: the largest distinct session count of a single row (what
            suppression relies on); ``visits`` when one row is added.
        :param most_visitors: likewise for visitor ids.
        """
        acc = self.cells.get(key)
        if acc is None:
            acc = self.cells[key] = _Acc()
        acc.hits += hits
        acc.extra_visits += visits
        acc.extra_visitors += visitors
        acc.most_visits = max(acc.most_visits, visits if most_visits is None else most_visits)
        acc.most_visitors = max(acc.most_visitors,
                                visitors if most_visitors is None else most_visitors)

    def result(self, k_min: int) -> Result:
        """Suppress small cells and fold them into ``(other)``; rows sorted by hits."""
        kept: list[tuple[tuple[Any, ...], _Acc]] = []
        other = _Acc()
        folded = 0
        for key, acc in self.cells.items():
            if acc.measure() >= k_min:
                kept.append((key, acc))
            else:
                other.add(acc)
                folded += 1
        kept.sort(key=lambda item: (-item[1].hits, tuple(str(v) for v in item[0])))
        rows = [self._row(key, acc) for key, acc in kept]
        other_suppressed = False
        if folded:
            if other.measure() >= k_min:
                rows.append(self._row(tuple(OTHER for _ in self.by), other))
            else:
                other_suppressed = True
        return Result(rows, folded, other_suppressed)

    def _row(self, key: tuple[Any, ...], acc: _Acc) -> dict[str, Any]:
        row: dict[str, Any] = dict(zip(self.by, key, strict=True))
        row.update(hits=acc.hits, visits=acc.visits, returning_visitors=acc.returning)
        return row


def day_of(ts: int, tz: ZoneInfo) -> str:
    """The local day of a timestamp."""
    return datetime.fromtimestamp(ts, tz).date().isoformat()


def aggregate_events(events: Iterable[Mapping[str, Any]], query: Query,
                     agg: Aggregator | None = None) -> Aggregator:
    """Feed raw events (dicts with the record fields) into an aggregator."""
    agg = agg or Aggregator(query.by)
    tz = ZoneInfo(query.timezone)
    by = query.by
    for e in events:
        key = tuple(day_of(e["ts"], tz) if d == "day" else e.get(d) for d in by)
        agg.add_event(key, e.get("session_id"), e.get("visitor_id"))
    return agg


def event_filter(query: Query) -> tuple[str, list[Any]]:
    """The SQL condition (portable subset) selecting the query's raw page events."""
    start, end = query.bounds()
    where = ["ts >= ?", "ts < ?", "kind IN ('pageview', 'event')"]
    params: list[Any] = [start, end]
    if query.revision is not None:
        where.append("revision = ?")
        params.append(query.revision)
    if not query.include_bots:
        where.append("(device IS NULL OR device != 'bot')")
    return " AND ".join(where), params
