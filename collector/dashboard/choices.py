"""What a dashboard page shows, read from its query string (pure: no Flask, no I/O).

A page is a plain GET form: ``site``, ``period`` (``today``, ``7d``, ``30d``, ``month`` with
``month=YYYY-MM``, ``custom`` with ``since`` and ``until`` as ``YYYY-MM-DD``), any number
of ``f=dimension:value`` filters (a row click adds one), the tab shown in a group of
tables (``sources=utm_medium``), ``all=dimension`` to list a table whole, and ``lang``.
Every bad value raises :class:`ChoiceError`, which names a text the page shows.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from ..analytics.query import FIRST_YEAR, LAST_YEAR

PERIODS = ("today", "7d", "30d", "month", "custom")
DEFAULT_PERIOD = "30d"
#: What a row click may filter by (the site and the kind of event are the page's own).
FILTER_DIMENSIONS = ("path", "referrer_host", "utm_source", "utm_medium", "utm_campaign",
                     "name", "browser", "os", "device", "lang")
#: The ranked tables, in groups shown as tabs (the first of each group by default).
GROUPS: Mapping[str, tuple[str, ...]] = {
    "pages": ("path",),
    "sources": ("referrer_host", "utm_source", "utm_medium", "utm_campaign"),
    "events": ("name",),
    "devices": ("browser", "os", "device"),
    "languages": ("lang",),
}
MAX_FILTERS = 10
MAX_VALUE = 1024
#: The longest custom period, in days: two years and a little, for year-on-year views.
MAX_SPAN = 800
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)


class Args(Protocol):
    """A query string: Werkzeug's ``MultiDict`` has this shape."""

    def get(self, key: str) -> str | None:
        """The first value of ``key``."""

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key``."""


class ChoiceError(ValueError):
    """A bad choice; ``key`` names the text that says how to fix it, ``values`` fill it."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days from ``since`` to ``until`` (inclusive)."""

    kind: str
    since: date
    until: date
    month: str | None = None

    @property
    def days(self) -> int:
        """How many days it covers."""
        return (self.until - self.since).days + 1

    def previous(self) -> Period | None:
        """The period of the same length just before (None before 1970)."""
        since = self.since - timedelta(days=self.days)
        if since.year < FIRST_YEAR:
            return None
        return Period(self.kind, since, self.since - timedelta(days=1))

    def each_day(self) -> list[date]:
        """Its days in order."""
        return [self.since + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True, slots=True)
class Choices:
    """A dashboard view."""

    site: str
    period: Period
    filters: tuple[tuple[str, str | None], ...] = ()
    tabs: Mapping[str, str] = field(default_factory=dict)
    expanded: str | None = None
    lang: str | None = None

    def tab(self, group: str) -> str:
        """The dimension shown in a group of tables."""
        return self.tabs.get(group) or GROUPS[group][0]

    def filter_of(self, dimension: str) -> tuple[str, str | None] | None:
        """The filter on ``dimension``, if any."""
        for found in self.filters:
            if found[0] == dimension:
                return found
        return None


def _day(text: str | None) -> date:
    if not text or not _DAY.fullmatch(text.strip()):
        raise ChoiceError("err_day")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ChoiceError("err_day") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ChoiceError("err_day")
    return day


def parse_period(args: Args, today: date) -> Period:
    """The period a query string asks for, in days of the collector's ``TIMEZONE``."""
    kind = args.get("period") or DEFAULT_PERIOD
    if kind == "today":
        return Period(kind, today, today)
    if kind == "7d":
        return Period(kind, today - timedelta(days=6), today)
    if kind == "30d":
        return Period(kind, today - timedelta(days=29), today)
    if kind == "month":
        text = args.get("month") or f"{today.year:04d}-{today.month:02d}"
        match = _MONTH.fullmatch(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or \
                not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
            raise ChoiceError("err_month")
        year, month = int(match.group(1)), int(match.group(2))
        since = date(year, month, 1)
        until = date(year, month, calendar.monthrange(year, month)[1])
        # The month in progress ends today: days to come would only show as empty.
        if since <= today < until:
            until = today
        return Period(kind, since, until, f"{year:04d}-{month:02d}")
    if kind == "custom":
        since, until = _day(args.get("since")), _day(args.get("until"))
        if until < since:
            raise ChoiceError("err_order")
        if (until - since).days + 1 > MAX_SPAN:
            raise ChoiceError("err_span", days=MAX_SPAN)
        return Period(kind, since, until)
    raise ChoiceError("err_period")


def parse_filters(values: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """``dimension:value`` filters, one per dimension (a later one replaces an earlier);
    an empty value means "none" (direct visits have no referrer)."""
    found: dict[str, str | None] = {}
    for text in values:
        name, sep, value = text.partition(":")
        if not sep or name not in FILTER_DIMENSIONS or len(value) > MAX_VALUE:
            raise ChoiceError("err_filter", dimensions=", ".join(FILTER_DIMENSIONS))
        found.pop(name, None)
        found[name] = value or None
    if len(found) > MAX_FILTERS:
        raise ChoiceError("err_filters", n=MAX_FILTERS)
    return tuple(found.items())


def parse(args: Args, *, sites: Sequence[str], today: date,
          lang: str | None = None) -> Choices:
    """Every choice of a page.

    :param sites: ``SITES``; the first is shown when none is asked for.
    :param today: today in ``TIMEZONE``.
    :param lang: the language asked for by ``?lang=``, kept in the page's links.
    :raises ChoiceError: a bad value; the page answers 400 with its text.
    """
    site = args.get("site") or (sites[0] if sites else "")
    if site not in sites:
        raise ChoiceError("err_site")
    tabs = {group: args.get(group) or dims[0] for group, dims in GROUPS.items()
            if len(dims) > 1}
    for group, chosen in tabs.items():
        if chosen not in GROUPS[group]:
            tabs[group] = GROUPS[group][0]
    expanded = args.get("all")
    return Choices(site=site, period=parse_period(args, today),
                   filters=parse_filters(args.getlist("f")), tabs=tabs,
                   expanded=expanded if expanded in FILTER_DIMENSIONS else None, lang=lang)


def query_string(choices: Choices, **changes: object) -> list[tuple[str, str]]:
    """The query string of ``choices`` with ``changes`` (``filters=``, ``tabs=``,
    ``expanded=``, ``site=``): what a link to that view carries. Defaults are left out."""
    site = changes.get("site", choices.site)
    period = choices.period
    filters = changes.get("filters", choices.filters)
    tabs = changes.get("tabs", choices.tabs)
    expanded = changes.get("expanded", choices.expanded)
    params: list[tuple[str, str]] = [("site", str(site))]
    if period.kind != DEFAULT_PERIOD:
        params.append(("period", period.kind))
    if period.kind == "month" and period.month:
        params.append(("month", period.month))
    if period.kind == "custom":
        params += [("since", period.since.isoformat()), ("until", period.until.isoformat())]
    assert isinstance(filters, tuple) and isinstance(tabs, Mapping)
    params += [("f", f"{name}:{value or ''}") for name, value in filters]
    params += [(group, dim) for group, dim in tabs.items() if dim != GROUPS[group][0]]
    if expanded:
        params.append(("all", str(expanded)))
    if choices.lang:
        params.append(("lang", choices.lang))
    return params


def with_filter(choices: Choices, name: str, value: str | None) -> tuple[
        tuple[str, str | None], ...]:
    """The filters with ``name`` set to ``value`` (replacing another value of it)."""
    return (*((n, v) for n, v in choices.filters if n != name), (name, value))


def without_filter(choices: Choices, name: str) -> tuple[tuple[str, str | None], ...]:
    """The filters without the one on ``name``."""
    return tuple((n, v) for n, v in choices.filters if n != name)


def recent_months(today: date, count: int = 25) -> list[str]:
    """``YYYY-MM`` of this month and the ``count - 1`` before, newest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        if year < FIRST_YEAR:
            break
    return out
