"""The SQL of aggregate queries over raw events, shared by both backends (their dialects
differ in the placeholder, the table's name and how a list of values is aggregated:
:class:`Dialect`).

One statement reads the query's time ranges off the ``ts`` index and groups as it goes:
a row's local day is computed from its own ``ts`` and the zone's UTC offsets
(:class:`collector.storage.protocols.CellQuery`), so no table of days is joined. The same
pass lists the distinct ids of the cells too small to show, so that the ``(other)`` row
they fold into is counted exactly without a second pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .protocols import (
    DAILY_COLUMNS,
    DAILY_DIMENSIONS,
    GROUPABLE,
    CellCounts,
    CellIds,
    CellQuery,
    day_label,
    day_number,
)

#: The columns a cell query may name, checked before they are written into SQL.
COLUMNS = frozenset(GROUPABLE) | {"revision"}
#: Added before the division by a day so that it floors (integer division truncates
#: toward zero); taken off again after it. A hundred thousand days.
_SHIFT_DAYS = 100_000


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the backends' SQL of cells.

    :ivar mark: the placeholder (``?`` or ``%s``).
    :ivar distinct: the aggregate listing an expression's distinct values, ``{}`` for
        the expression (it must leave NULLs out).
    :ivar length: the function giving a list's length.
    :ivar empty: an empty list.
    :ivar load: a list as the driver returns it, as a tuple of strings.
    """

    mark: str
    distinct: str
    length: str
    empty: str
    load: Callable[[Any], tuple[str, ...]]


#: SQLite: JSON arrays (its ``json1`` functions, and ``FILTER`` from SQLite 3.30).
SQLITE = Dialect("?", "json_group_array(DISTINCT {0}) FILTER (WHERE {0} IS NOT NULL)",
                 "json_array_length", "'[]'", lambda value: tuple(json.loads(value)))
#: PostgreSQL: arrays, which psycopg returns as lists.
POSTGRESQL = Dialect("%s", "array_agg(DISTINCT {0}) FILTER (WHERE {0} IS NOT NULL)",
                     "cardinality", "'{}'::text[]", tuple)


def raw_counts(dialect: Dialect, ids_below: int) -> str:
    """The columns of a cell of raw events, in the order :meth:`CellSQL.cells` reads them:
    hits, visits (distinct sessions), visitors (distinct visitor ids), the distinct
    sessions of hits without a visitor id, the hits without any id (DESIGN 1.6); then,
    for a cell whose size is under ``ids_below`` (NULL for the others), its distinct
    session ids, visitor ids and sessions without a visitor id.

    Each distinct count is the length of its list of ids, so the database sorts each
    cell's ids once for both. Empty ids count as none, as they always have."""
    session, visitor = "NULLIF(session_id, '')", "NULLIF(visitor_id, '')"
    lists = [dialect.distinct.format(expression) for expression in (
        session, visitor, f"CASE WHEN {visitor} IS NULL THEN {session} END")]
    hits, anonymous = "COUNT(*)", f"COUNT(*) - COUNT(COALESCE({visitor}, {session}))"
    sizes = [f"COALESCE({dialect.length}({values}), 0)" for values in lists]
    small = f"{sizes[1]} + {sizes[2]} + {anonymous} < {int(ids_below)}"
    ids = [f"CASE WHEN {small} THEN COALESCE({values}, {dialect.empty}) END"
           for values in lists]
    return ", ".join([hits, *sizes, anonymous, *ids])


def equal_to(filters: Iterable[tuple[str, Any]], mark: str,
             expression: Callable[[str], str] = str,
             param: Callable[[str, Any], Any] = lambda _, value: value,
             ) -> tuple[list[str], list[Any]]:
    """The clauses and parameters of equality filters ``(column, value)``: ``IS NULL``
    for None; ``expression`` gives a column's SQL, ``param`` a value's parameter."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in filters:
        if value is None:
            clauses.append(f"{expression(column)} IS NULL")
        else:
            clauses.append(f"{expression(column)} = {mark}")
            params.append(param(column, value))
    return clauses, params


def check_columns(columns: Sequence[str]) -> None:
    """Refuse a column name that is not a cell column (names are written into SQL)."""
    for column in columns:
        if column not in COLUMNS:
            raise ValueError(f"{column!r} is not a column a cell may use.")


@dataclass(frozen=True, slots=True)
class CellSQL:
    """The statements of one cell query in one dialect.

    :ivar table: the events table's name as the statement writes it.
    """

    query: CellQuery
    dialect: Dialect
    table: str

    def __post_init__(self) -> None:
        if not self.query.ranges:
            raise ValueError("A cell query needs at least one range of time.")
        check_columns(self.query.by)
        check_columns([column for column, _ in self.query.where])

    @property
    def day(self) -> str:
        """A row's local day number: ``(ts + offset) // 86400`` with the offset in force
        at ``ts``. The numbers are ints of the query, written in as literals so that the
        same expression can be grouped by."""
        offsets = self.query.offsets
        shift = _SHIFT_DAYS * 86400
        if len(offsets) == 1:
            offset = f"{int(offsets[0][1]) + shift}"
        else:
            whens = " ".join(f"WHEN ts < {int(start)} THEN {int(before) + shift}"
                             for (_, before), (start, _) in pairwise(offsets))
            offset = f"CASE {whens} ELSE {int(offsets[-1][1]) + shift} END"
        return f"((ts + {offset}) / 86400 - {_SHIFT_DAYS})"

    @property
    def keys(self) -> list[str]:
        """The grouped expressions, in the order of ``query.by``."""
        return [self.day if column == "day" else column for column in self.query.by]

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (ranges, kinds, filters, revision, bots) and its parameters."""
        query, mark = self.query, self.dialect.mark
        ranges = " OR ".join(f"(ts >= {int(a)} AND ts < {int(b)})" for a, b in query.ranges)
        # The overall bounds, besides the ranges, let PostgreSQL skip whole partitions.
        low, high = min(a for a, _ in query.ranges), max(b for _, b in query.ranges)
        clauses = [f"ts >= {int(low)}", f"ts < {int(high)}", f"({ranges})",
                   f"kind IN ({', '.join(mark for _ in query.kinds)})"]
        params: list[Any] = list(query.kinds)
        matched = equal_to(query.where, mark, lambda c: self.day if c == "day" else c,
                           lambda c, v: day_number(v) if c == "day" else v)
        clauses += matched[0]
        params += matched[1]
        if query.revision is not None:
            clauses.append(f"revision = {mark}")
            params.append(query.revision)
        if not query.include_bots:
            clauses.append("(device IS NULL OR device != 'bot')")
        return " AND ".join(clauses), params

    def grouped(self, ids_below: int = 0) -> tuple[str, list[Any]]:
        """``SELECT <keys>, <counts> … GROUP BY <keys>``: one row per cell, with the ids
        of the cells smaller than ``ids_below`` (:func:`raw_counts`)."""
        where, params = self.where()
        keys = self.keys
        sql = (f"SELECT {''.join(k + ', ' for k in keys)}"
               f"{raw_counts(self.dialect, ids_below)} FROM {self.table} WHERE {where}")
        if keys:
            sql += f" GROUP BY {', '.join(keys)}"
        return sql, params

    def total(self, select: str) -> tuple[str, list[Any]]:
        """``SELECT <select>`` over all the query's rows, ungrouped."""
        where, params = self.where()
        return f"SELECT {select} FROM {self.table} WHERE {where}", params

    def cells(self, rows: Iterable[Sequence[Any]]) -> Iterator[CellCounts]:
        """The cells of the rows :meth:`grouped` answers, days as ``YYYY-MM-DD``."""
        width = len(self.query.by)
        day = self.query.by.index("day") if "day" in self.query.by else -1
        load = self.dialect.load
        for row in rows:
            hits, visits, visitors, lone_sessions, anonymous, *lists = row[width:]
            if not hits:
                continue
            key = tuple(row[:width])
            if day >= 0:
                key = (*key[:day], day_label(key[day]), *key[day + 1:])
            identified = visitors + lone_sessions
            ids = None if lists[0] is None else CellIds(*(load(ids) for ids in lists))
            yield CellCounts(key, hits, visits, visitors, identified, anonymous, identified,
                             ids)


def rollup_counts() -> str:
    """The five stored counts of a roll-up row, computed from raw events: hits, visits,
    visitors, identified (visitors plus sessions without a visitor id), anonymous."""
    session, visitor = "NULLIF(session_id, '')", "NULLIF(visitor_id, '')"
    return (f"COUNT(*), COUNT(DISTINCT {session}), COUNT(DISTINCT {visitor}), "
            f"COUNT(DISTINCT {visitor}) + COUNT(DISTINCT CASE WHEN {visitor} IS NULL THEN "
            f"{session} END), COUNT(*) - COUNT(COALESCE({visitor}, {session}))")


def rolled_up(query: CellQuery, mark: str, table: str, since: str,
              until: str) -> tuple[str, list[Any]]:
    """Roll-up rows of the days ``[since, until]`` grouped as ``query`` groups (its
    ranges and offsets do not apply: roll-ups are filed by local day): sums, and the
    largest row's ``identified``."""
    check_columns(query.by)
    check_columns([column for column, _ in query.where])
    clauses = [f"day >= {mark}", f"day <= {mark}",
               f"kind IN ({', '.join(mark for _ in query.kinds)})"]
    params: list[Any] = [since, until, *query.kinds]
    matched = equal_to(query.where, mark)
    clauses += matched[0]
    params += matched[1]
    if query.revision is not None:
        clauses.append(f"revision = {mark}")
        params.append(query.revision)
    if not query.include_bots:
        clauses.append("(device IS NULL OR device != 'bot')")
    keys = "".join(column + ", " for column in query.by)
    sql = (f"SELECT {keys}SUM(hits), SUM(visits), SUM(visitors), SUM(identified), "
           f"SUM(anonymous), MAX(identified) FROM {table} WHERE {' AND '.join(clauses)}")
    if query.by:
        sql += f" GROUP BY {', '.join(query.by)}"
    return sql, params


def summarise_day(mark: str, events: str, daily: str, kinds: Sequence[str]) -> str:
    """``WITH e AS (…) INSERT INTO <daily> …``: one local day's page events summarised
    by every one of :data:`DAILY_DIMENSIONS`, per site, kind and bot or not; its
    parameters are :func:`summarise_params`."""
    dims = [d for d in DAILY_DIMENSIONS if d]
    source = (f"WITH e AS (SELECT site, kind, CASE WHEN device = 'bot' THEN 1 ELSE 0 END AS "
              f"bot, {', '.join(dims)}, session_id, visitor_id FROM {events} WHERE ts >= "
              f"{mark} AND ts < {mark} AND kind IN ({', '.join(mark for _ in kinds)})) ")
    branches = []
    for dim in DAILY_DIMENSIONS:
        value = dim or "NULL"
        group = f"site, kind, bot{', ' + dim if dim else ''}"
        branches.append(f"SELECT {mark}, site, kind, bot, '{dim}', {value}, {rollup_counts()} "
                        f"FROM e GROUP BY {group}")
    return (f"{source}INSERT INTO {daily} (day, site, kind, bot, dimension, value, hits, "
            f"visits, visitors, identified, anonymous) {' UNION ALL '.join(branches)}")


def summarise_params(day: str, start: int, end: int,
                     kinds: Sequence[str]) -> list[Any]:
    """The parameters of :func:`summarise_day` for one day."""
    return [int(start), int(end), *kinds, *(day for _ in DAILY_DIMENSIONS)]


def daily_read(query: CellQuery, dimension: str, mark: str, daily: str, since: str,
               until: str) -> tuple[str, list[Any]]:
    """Daily rows of ``dimension`` on the days ``[since, until]``, grouped as ``query``
    groups and filtered as it filters: sums, and the largest row's ``identified``.

    ``query.by`` and ``query.where`` may name only :data:`DAILY_COLUMNS` and
    ``dimension`` (its value); the caller checks that first
    (:func:`collector.analytics.daily.dimension_for`)."""
    if dimension not in DAILY_DIMENSIONS:
        raise ValueError(f"{dimension!r} is not summarised by day.")

    def column(name: str) -> str:
        if name in DAILY_COLUMNS:
            return name
        if name == dimension:
            return "value"
        raise ValueError(f"Daily rows of {dimension or 'totals'!r} cannot give {name!r}.")

    keys = [column(name) for name in query.by]
    clauses = [f"dimension = {mark}", f"day >= {mark}", f"day <= {mark}",
               f"kind IN ({', '.join(mark for _ in query.kinds)})"]
    params: list[Any] = [dimension, since, until, *query.kinds]
    matched = equal_to(query.where, mark, column)
    clauses += matched[0]
    params += matched[1]
    if query.revision is not None:
        raise ValueError("Daily rows keep no policy revision.")
    if not query.include_bots:
        clauses.append("bot = 0")
    sql = (f"SELECT {''.join(k + ', ' for k in keys)}SUM(hits), SUM(visits), SUM(visitors), "
           f"SUM(identified), SUM(anonymous), MAX(identified) FROM {daily} WHERE "
           f"{' AND '.join(clauses)}")
    if keys:
        sql += f" GROUP BY {', '.join(keys)}"
    return sql, params
