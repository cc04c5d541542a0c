"""Daily totals (``collector.analytics.daily``): which queries they answer, what the
purge summarises, and that an export asked for ``daily`` keeps every hit while its
distinct counts become sums of daily counts."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.analytics import daily
from collector.analytics.export import export
from collector.analytics.query import OTHER, Query
from tests.conftest import pageview, seed

UTC = ZoneInfo("UTC")
FIRST = date(2026, 3, 1)
DAYS = 10
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC).timestamp()  # day 11: today, not summarised


@pytest.mark.parametrize(("by", "filters", "revision", "dimension"), [
    ((), (), None, ""),
    (("day",), (("site", "a.example"), ("kind", "pageview")), None, ""),
    (("path",), (("site", "a.example"),), None, "path"),
    (("day", "path"), (), None, "path"),
    (("path",), (("path", "/a"),), None, "path"),  # filtered by its own dimension
    ((), (("device", "bot"),), None, "device"),  # the bots of a site
    (("site", "kind"), (), None, ""),
    (("path",), (("referrer_host", None),), None, None),  # two dimensions
    (("path", "browser"), (), None, None),
    (("path",), (), 2, None),  # daily rows keep no revision
])
def test_which_queries_daily_totals_answer(by: tuple[str, ...],
                                           filters: tuple[tuple[str, Any], ...],
                                           revision: int | None,
                                           dimension: str | None) -> None:
    query = Query(since=FIRST, until=FIRST, by=by, filters=filters, revision=revision)
    assert daily.dimension_for(query) == dimension


def traffic(seed_: int = 3) -> list[dict[str, Any]]:
    """Ten days of mixed consent: returning visitors, session-only and cookieless hits,
    two sites, events and bots."""
    rng = random.Random(seed_)
    rows = []
    for day in range(DAYS + 1):
        base = int(datetime.combine(FIRST + timedelta(days=day), datetime.min.time(),
                                    UTC).timestamp())
        for _ in range(60):
            person = rng.randrange(25)
            mode = rng.random()
            rows.append(pageview(
                base + rng.randrange(86400),
                session=f"{person * 100 + day:032x}" if mode < 0.7 else None,
                visitor=f"{person:032x}" if mode < 0.4 else None,
                path=rng.choice(["/", "/a", "/b", "/c"]),
                referrer_host=rng.choice([None, "news.example"]),
                site=rng.choice(["a.example", "a.example", "b.example"]),
                kind=rng.choice(["pageview", "pageview", "event"]),
                device=rng.choice(["desktop", "desktop", "mobile", "bot"])))
    return rows


def query(by: tuple[str, ...], *filters: tuple[str, Any], use_daily: bool = True) -> Query:
    return Query(since=FIRST, until=FIRST + timedelta(days=DAYS), by=by,
                 filters=filters, daily=use_daily)


def hits(result: Any, by: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    return {tuple(row[d] for d in by): row["hits"] for row in result.rows}


def test_the_purge_summarises_complete_days_once(app: Any) -> None:
    seed(app, traffic())
    events = app.extensions["cleargif"].events
    assert daily.summarise(events, UTC, NOW) == DAYS  # today is not complete
    assert daily.summarise(events, UTC, NOW) == 0
    assert events.summarised_days("2026-01-01", "2026-12-31") == [
        (FIRST + timedelta(days=d)).isoformat() for d in range(DAYS)]


@pytest.mark.parametrize(("by", "filters"), [
    (("path",), (("site", "a.example"), ("kind", "pageview"))),
    (("day",), (("site", "a.example"),)),
    (("day", "path"), ()),
    ((), (("site", "b.example"),)),
    (("referrer_host",), ()),
])
def test_a_daily_export_keeps_every_hit(app: Any, by: tuple[str, ...],
                                        filters: tuple[tuple[str, Any], ...]) -> None:
    seed(app, traffic())
    events = app.extensions["cleargif"].events
    daily.summarise(events, UTC, NOW)
    # k = 1: nothing is suppressed, so the cells can be compared one by one.
    exact_meta, exact = export(events, query(by, *filters, use_daily=False), 1)
    meta, fast = export(events, query(by, *filters), 1)
    assert hits(fast, by) == hits(exact, by)
    assert meta["daily_days"] == DAYS and exact_meta["daily_days"] == 0
    assert daily.DAILY_NOTE in meta["notes"] and daily.DAILY_NOTE not in exact_meta["notes"]
    assert meta["daily"] is True
    # Distinct counts are sums of daily ones: never fewer than the period's distinct ids.
    visits = {tuple(r[d] for d in by): r["visits"] for r in exact.rows}
    for row in fast.rows:
        assert row["visits"] >= visits[tuple(row[d] for d in by)]


def test_a_query_daily_totals_cannot_answer_reads_raw_events(app: Any) -> None:
    seed(app, traffic())
    events = app.extensions["cleargif"].events
    daily.summarise(events, UTC, NOW)
    meta, result = export(events, query(("path", "browser")), 1)
    exact = export(events, query(("path", "browser"), use_daily=False), 1)[1]
    assert meta["daily_days"] == 0 and daily.DAILY_NOTE not in meta["notes"]
    assert result.rows == exact.rows


def test_daily_sizes_are_lower_bounds(app: Any) -> None:
    """Five different consenting visitors, one a day, on one page: five people over the
    period, but never more than one on a day. The exact export shows the page; the daily
    one cannot tell them from one person coming back, and folds it."""
    rows = [pageview(int(datetime.combine(FIRST + timedelta(days=d), datetime.min.time(),
                                          UTC).timestamp()) + 3600,
                     session=f"{d:032x}", visitor=f"{d + 50:032x}", path="/rare")
            for d in range(5)]
    seed(app, rows)
    events = app.extensions["cleargif"].events
    daily.summarise(events, UTC, NOW)
    exact = export(events, query(("path",), use_daily=False), 5)[1]
    fast = export(events, query(("path",)), 5)[1]
    assert [r["path"] for r in exact.rows] == ["/rare"]
    assert fast.rows == [] and fast.suppressed_cells == 1


def test_another_time_zone_summarises_again(app: Any) -> None:
    seed(app, traffic())
    events = app.extensions["cleargif"].events
    daily.summarise(events, UTC, NOW)
    berlin = ZoneInfo("Europe/Berlin")
    assert not daily.usable(events, Query(since=FIRST, until=FIRST, timezone=berlin.key))
    assert daily.summarise(events, berlin, NOW) == DAYS
    assert events.get_meta(daily.TIMEZONE_KEY) == "Europe/Berlin"
    meta, result = export(events, Query(since=FIRST, until=FIRST + timedelta(days=DAYS),
                                        by=("path",), timezone=berlin.key, daily=True), 1)
    exact = export(events, Query(since=FIRST, until=FIRST + timedelta(days=DAYS),
                                 by=("path",), timezone=berlin.key), 1)[1]
    assert meta["daily_days"] == DAYS and hits(result, ("path",)) == hits(exact, ("path",))


def test_export_command_and_api_take_daily(app: Any) -> None:
    seed(app, traffic())
    daily.summarise(app.extensions["cleargif"].events, UTC, NOW)
    out = app.test_cli_runner().invoke(args=[
        "export", "--since", "2026-03-01", "--until", "2026-03-11", "--by", "path",
        "--format", "json", "--daily"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["meta"]["daily"] is True and body["meta"]["daily_days"] == DAYS
    assert {r["path"] for r in body["rows"]} <= {"/", "/a", "/b", "/c", OTHER}
    from tests.test_export import new_token

    token = new_token(app, "aggregate", "analysts")
    client = app.test_client()
    for flag, days in (("&daily=1", DAYS), ("", 0)):
        r = client.get(f"/api/v1/aggregate?since=2026-03-01&until=2026-03-11&by=path{flag}",
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json["meta"]["daily_days"] == days, r.json
