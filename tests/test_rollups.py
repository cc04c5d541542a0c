"""Daily roll-ups: exact cells, whole local days, and exports that read them seamlessly."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.analytics.export import export as aggregate
from collector.analytics.query import Query
from collector.analytics.rollups import (
    ROLLED_UP_NOTE,
    day_bounds,
    days_with_events,
    roll_up_before,
    roll_up_day,
    rolled_up_days,
)
from collector.errors import ConfigError
from tests.conftest import error_line, make_app, make_config, seed, sql, sql_write
from tests.conftest import pageview as record

TZ = ZoneInfo("Europe/Berlin")
PATHS = ("/", "/a", "/blog/post", "/shop")
REFERRERS = (None, "news.example", "search.example")
AGENTS = (("Firefox", "Linux", "desktop"), ("Chrome", "Android", "mobile"),
          ("Safari", "iOS", "tablet"), ("Googlebot", "Other", "bot"))
UTMS = ((None, None, None), ("mail", "email", "spring"))
BY_COMBOS = ("", "day", "path", "day,path", "browser,os,device", "referrer_host,lang",
             "utm_source,utm_medium,utm_campaign", "day,device,utm_campaign",
             "day,path,referrer_host,browser,os,device,lang,utm_source,utm_medium,utm_campaign")


def day_records(day: date, rng: random.Random, n: int = 12) -> list[dict[str, Any]]:
    """Varied events on one local day, including the first and last second of the day, a
    few email events and sessions/visitors that come back on other days."""
    start, end = day_bounds(day, TZ)
    rows = []
    for i in range(n):
        ts = start if i == 0 else end - 1 if i == 1 else start + rng.randrange(end - start)
        browser, os_, device = rng.choice(AGENTS)
        source, medium, campaign = rng.choice(UTMS)
        session = rng.choice((None, f"{rng.randrange(8):032x}"))
        visitor = f"{rng.randrange(5) + 100:032x}" if session and rng.random() < 0.6 else None
        kind = rng.choice(("pageview", "pageview", "event"))
        rows.append(record(ts, session, visitor, kind=kind,
                           name="pageview" if kind == "pageview" else "signup",
                           path=rng.choice(PATHS), referrer_host=rng.choice(REFERRERS),
                           browser=browser, os=os_, device=device,
                           lang=rng.choice((None, "en", "de")), utm_source=source,
                           utm_medium=medium, utm_campaign=campaign,
                           revision=rng.choice((1, 2))))
    if rng.random() < 0.3:
        rows.append(record(start + 3600, kind="open", name="open", site=None, path=None,
                           campaign="spring", list="news", agent="human"))
    return rows


def store_of(app: Any) -> Any:
    return app.extensions["cleargif"].events


def export(app: Any, since: date, until: date, by: str = "day", **options: Any) -> Any:
    by_dims = tuple(d for d in by.split(",") if d)
    query = Query(since=since, until=until, by=by_dims, timezone="Europe/Berlin", **options)
    return aggregate(store_of(app), query, app.config["K_MIN"])


def cells(result: Any, by: str) -> dict[tuple[Any, ...], dict[str, int]]:
    dims = [d for d in by.split(",") if d]
    return {tuple(r[d] for d in dims): {m: r[m] for m in ("hits", "visits",
                                                           "returning_visitors")}
            for r in result.rows}


def purge_days_before(app: Any, cutoff_day: date) -> None:
    """What the events purge does: roll up, then delete the raw events before the day."""
    cutoff = day_bounds(cutoff_day, TZ)[0]
    roll_up_before(store_of(app), cutoff, TZ)
    store_of(app).delete_events_between(-(2**62), cutoff, batch=7)


@pytest.fixture
def app_config(tmp_path: Any) -> dict[str, Any]:
    # K_MIN 1: no cell is suppressed, so every cell's hits can be compared.
    return make_config(tmp_path, TIMEZONE="Europe/Berlin", K_MIN=1)


FIRST = date(2025, 3, 20)  # spans the DST change of 2025-03-30
DAYS = [FIRST + timedelta(days=i) for i in range(20)]


@pytest.fixture
def seeded(app: Any) -> Any:
    rng = random.Random(7)
    seed(app, [r for day in DAYS for r in day_records(day, rng)])
    return app


def test_day_bounds_follow_dst() -> None:
    start, end = day_bounds(date(2025, 3, 30), TZ)
    assert end - start == 23 * 3600
    start, end = day_bounds(date(2025, 10, 26), TZ)
    assert end - start == 25 * 3600


def test_roll_up_day_counts_each_cell_exactly(app: Any) -> None:
    start, end = day_bounds(date(2025, 6, 1), TZ)
    s1, s2, v1 = "1" * 32, "2" * 32, "9" * 32
    seed(app, [record(start, s1, v1), record(start + 10, s1, v1), record(end - 1, s2, v1),
               record(start + 20, s2), record(start + 30),
               record(start + 40, s1, path="/b", referrer_host="x.example"),
               record(end, "3" * 32),  # the next local day
               record(start + 50, kind="open", name="open", campaign="c", list="l")])
    assert roll_up_day(store_of(app), date(2025, 6, 1), TZ) == 2
    rows = sql(app, "events", "SELECT day, kind, path, referrer_host, utm_source, revision, "
                               "hits, visits, visitors FROM rollups ORDER BY hits DESC")
    assert rows == [("2025-06-01", "pageview", "/", None, None, 1, 5, 2, 1),
                    ("2025-06-01", "pageview", "/b", "x.example", None, 1, 1, 1, 0)]


def test_roll_up_day_is_idempotent_and_never_overwrites(seeded: Any) -> None:
    store, day = store_of(seeded), DAYS[3]
    added = roll_up_day(store, day, TZ)
    order = "ORDER BY path, kind, browser, revision, hits"
    before = sql(seeded, "events", f"SELECT * FROM rollups {order}")
    assert added == len(before) > 0
    assert roll_up_day(store, day, TZ) == 0
    # A purge interrupted half way: rolling the day up again must not shrink any cell.
    start, end = day_bounds(day, TZ)
    sql_write(seeded, "events", "DELETE FROM events WHERE id IN (SELECT id FROM events "
              "WHERE ts >= ? AND ts < ? LIMIT 6)", (start, end))
    assert roll_up_day(store, day, TZ) == 0
    assert sql(seeded, "events", "SELECT * FROM rollups ORDER BY path, kind, browser, revision, "
                       "hits") == before


def test_roll_up_before_takes_whole_days_only(seeded: Any) -> None:
    store = store_of(seeded)
    cutoff = day_bounds(DAYS[5], TZ)[0]
    with pytest.raises(ValueError, match="start of a day"):
        roll_up_before(store, cutoff + 3600, TZ)
    done: list[tuple[int, int]] = []
    assert roll_up_before(store, cutoff, TZ, lambda d, t: done.append((d, t))) == DAYS[:5]
    assert done == [(i, 5) for i in range(1, 6)]
    assert rolled_up_days(store, DAYS[0], DAYS[-1]) == DAYS[:5]
    (hits,), = sql(seeded, "events", "SELECT SUM(hits) FROM rollups")
    (raw,), = sql(seeded, "events", "SELECT COUNT(*) FROM events WHERE ts < ? AND kind IN "
                          "('pageview', 'event')", (cutoff,))
    assert hits == raw


def test_days_with_events_skips_empty_stretches(app: Any) -> None:
    a, b = day_bounds(date(2024, 1, 1), TZ)[0], day_bounds(date(2025, 1, 1), TZ)[1] - 1
    seed(app, [record(a), record(b, kind="open", name="open")])
    end = day_bounds(date(2026, 1, 1), TZ)[0]
    assert days_with_events(store_of(app), end, TZ) == [date(2024, 1, 1), date(2025, 1, 1)]
    assert days_with_events(store_of(app), end, TZ, pages_only=True) == [date(2024, 1, 1)]


@pytest.mark.parametrize("by", BY_COMBOS)
def test_export_gives_the_same_hits_across_the_rollup_boundary(seeded: Any, by: str) -> None:
    since, until = DAYS[2], DAYS[-3]
    before = cells(export(seeded, since, until, by)[1], by)
    purge_days_before(seeded, DAYS[10])
    meta, result = export(seeded, since, until, by)
    after = cells(result, by)
    assert {k: v["hits"] for k, v in after.items()} == {k: v["hits"] for k, v in
                                                         before.items()}
    # Sums of daily distinct counts never undercount.
    assert all(after[k]["visits"] >= v["visits"] and after[k]["returning_visitors"] >=
               v["returning_visitors"] for k, v in before.items())
    assert meta["rolled_up_days"] == 8 and ROLLED_UP_NOTE in meta["notes"]
    assert sql(seeded, "events", "SELECT COUNT(*) FROM events WHERE ts < ?",
                                  (day_bounds(DAYS[10], TZ)[0],)) == [(0,)]


def test_one_day_per_full_cell_keeps_exact_distinct_counts(app: Any) -> None:
    by = "day,path,referrer_host,browser,os,device,lang,utm_source,utm_medium,utm_campaign"
    start = day_bounds(date(2025, 6, 1), TZ)[0]
    seed(app, [record(start + i, f"{i % 3:032x}", f"{i % 2:032x}", path=f"/{i % 4}")
               for i in range(40)])
    before = cells(export(app, date(2025, 6, 1), date(2025, 6, 1), by)[1], by)
    purge_days_before(app, date(2025, 6, 2))
    meta, result = export(app, date(2025, 6, 1), date(2025, 6, 1), by)
    assert meta["rolled_up_days"] == 1 and cells(result, by) == before


@pytest.mark.parametrize("options", [{"revision": 2}, {"include_bots": True},
                                     {"revision": 1, "include_bots": True}])
def test_filters_apply_to_rollups(seeded: Any, options: dict[str, Any]) -> None:
    before = cells(export(seeded, DAYS[0], DAYS[-1], "day,device", **options)[1], "day,device")
    purge_days_before(seeded, DAYS[12])
    after = cells(export(seeded, DAYS[0], DAYS[-1], "day,device", **options)[1], "day,device")
    assert {k: v["hits"] for k, v in after.items()} == {k: v["hits"] for k, v in
                                                         before.items()}
    assert any(k[1] == "bot" for k in after) == bool(options.get("include_bots"))


def test_a_rolled_up_day_is_never_counted_twice(seeded: Any) -> None:
    # Rolled up but not yet deleted (the purge deletes right after): roll-ups win.
    before = export(seeded, DAYS[0], DAYS[-1], "")[1].rows
    roll_up_before(store_of(seeded), day_bounds(DAYS[4], TZ)[0], TZ)
    meta, result = export(seeded, DAYS[0], DAYS[-1], "")
    assert result.rows[0]["hits"] == before[0]["hits"] and meta["rolled_up_days"] == 4


def test_export_without_rollups_is_unchanged(seeded: Any) -> None:
    meta, _ = export(seeded, DAYS[0], DAYS[-1])
    assert meta["rolled_up_days"] == 0 and ROLLED_UP_NOTE not in meta["notes"]


def test_suppression_uses_rolled_up_counts(tmp_path: Any) -> None:

    app = make_app(make_config(tmp_path, TIMEZONE="Europe/Berlin"))  # K_MIN 5
    start = day_bounds(date(2025, 6, 1), TZ)[0]
    seed(app, [record(start + i, f"{i % 2:032x}", path="/few") for i in range(9)] +
         [record(start + i, f"{i + 10:032x}", path="/many") for i in range(6)])
    purge_days_before(app, date(2025, 6, 2))
    rows = {r["path"]: r for r in export(app, date(2025, 6, 1), date(2025, 6, 1),
                                         "path")[1].rows}
    assert rows == {"/many": {"path": "/many", "hits": 6, "visits": 6,
                              "returning_visitors": 0}}
    app.extensions["cleargif"].close()


def test_cli_and_api_read_rollups(seeded: Any, client: Any) -> None:
    import json

    purge_days_before(seeded, DAYS[10])
    runner = seeded.test_cli_runner()
    out = runner.invoke(args=["export", "--since", DAYS[0].isoformat(), "--until",
                              DAYS[-1].isoformat(), "--by", "day", "--format", "json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["meta"]["rolled_up_days"] == 10 and len(body["rows"]) == 20
    out = runner.invoke(args=["export", "--since", DAYS[0].isoformat(), "--until",
                              DAYS[-1].isoformat()])
    assert "# rolled_up_days: 10" in out.stderr and "sums of daily distinct" in out.stderr
    token = runner.invoke(args=["token", "new", "--scope", "aggregate", "--name", "a"])
    r = client.get(f"/api/v1/aggregate?since={DAYS[0]}&until={DAYS[-1]}&by=day",
                   headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    assert r.status_code == 200 and r.json["rows"] == body["rows"]
    assert r.json["meta"]["rolled_up_days"] == 10


@pytest.fixture
def k5(tmp_path: Any) -> Any:
    """A collector with the default K_MIN of 5."""

    app = make_app(make_config(tmp_path, TIMEZONE="Europe/Berlin"))
    assert app.config["K_MIN"] == 5
    yield app
    app.extensions["cleargif"].close()


ALICE, ALICE_SESSION = "a" * 32, "5" * 32
FIVE_DAYS = [date(2025, 6, 1) + timedelta(days=i) for i in range(5)]


def on_days(days: list[date], path: str, people: int = 1, *, visitor: bool = True,
            same_session: bool = True, hour: int = 10) -> list[dict[str, Any]]:
    """``people`` persons hitting ``path`` once on each of ``days``."""
    rows = []
    for n, day in enumerate(days):
        start = day_bounds(day, TZ)[0] + hour * 3600
        for p in range(people):
            session = f"{p:016x}{0 if same_session else n:016x}"
            rows.append(record(start + p, session, f"{p:032x}" if visitor else None,
                               path=path))
    return rows


# Without a visitor id, sessions of different days are different people by the export's
# own measure (distinct session ids), so that case is not here.
@pytest.mark.parametrize(("visitor", "same_session"), [(True, True), (True, False),
                                                       (False, True)])
def test_suppression_over_several_rolled_up_days_counts_people_once(
        k5: Any, visitor: bool, same_session: bool) -> None:
    # One person on /only-alice on five days, by visitor id (else by one session id); five
    # other people on /crowd every day, so the export is not empty.
    seed(k5, on_days(FIVE_DAYS, "/only-alice", visitor=visitor, same_session=same_session)
         + on_days(FIVE_DAYS, "/crowd", people=5, hour=12))
    since, until = FIVE_DAYS[0], FIVE_DAYS[-1]
    for by in ("path", "day,path", ""):
        before = export(k5, since, until, by)[1]
        assert not any(r.get("path") == "/only-alice" for r in before.rows)
    raw_rows = export(k5, since, until, "path")[1].rows
    purge_days_before(k5, FIVE_DAYS[-1] + timedelta(days=1))
    meta, result = export(k5, since, until, "path")
    assert meta["rolled_up_days"] == 5
    paths = {r["path"]: r for r in result.rows}
    assert "/only-alice" not in paths and "(other)" not in paths
    assert result.suppressed_cells == 1 and result.other_suppressed
    # Kept cells are reported as documented: hits exact, distinct counts summed by day.
    assert paths["/crowd"]["hits"] == 25 == raw_rows[0]["hits"]
    if visitor:
        assert paths["/crowd"]["returning_visitors"] == 25


def test_suppression_over_raw_and_rolled_up_days_takes_the_larger_bound(k5: Any) -> None:
    # Alice on three rolled-up days and two raw ones: one person, never five.
    seed(k5, on_days(FIVE_DAYS, "/only-alice", same_session=False)
         + on_days(FIVE_DAYS, "/pair", people=2)
         + on_days(FIVE_DAYS[:1], "/five-once", people=5)
         + on_days(FIVE_DAYS[3:], "/five-late", people=5))
    purge_days_before(k5, FIVE_DAYS[3])
    meta, result = export(k5, FIVE_DAYS[0], FIVE_DAYS[-1], "path")
    assert meta["rolled_up_days"] == 3
    # /five-once: five people on one rolled-up day; /five-late: five on raw days.
    assert {r["path"] for r in result.rows} == {"/five-once", "/five-late"}
    assert result.suppressed_cells == 2 and result.other_suppressed  # (other): 2 people


def test_rolled_up_suppression_never_shows_what_raw_suppressed(tmp_path: Any) -> None:

    app = make_app(make_config(tmp_path, TIMEZONE="Europe/Berlin", K_MIN=3))
    rng = random.Random(7)
    seed(app, [r for day in DAYS for r in day_records(day, rng)])
    since, until = DAYS[0], DAYS[-1]
    for by in ("path", "browser,os", "referrer_host,lang", "utm_source", ""):
        sql_write(app, "events", "DELETE FROM rollups")
        before = cells(export(app, since, until, by)[1], by)
        assert before, by
        roll_up_before(store_of(app), day_bounds(DAYS[12], TZ)[0], TZ)
        after = cells(export(app, since, until, by)[1], by)
        # A lower bound only ever suppresses more (so (other) may grow, or appear); the
        # cells that stay show the same hits.
        kept = {k: v for k, v in after.items() if k[:1] != ("(other)",)}
        assert set(kept) <= set(before), by
        assert all(v["hits"] == before[k]["hits"] for k, v in kept.items()), by
    app.extensions["cleargif"].close()


@pytest.mark.parametrize(("a", "b", "same"), [
    ("UTC", "UTC", True), ("UTC", "Etc/UTC", True), ("Asia/Calcutta", "Asia/Kolkata", True),
    ("Europe/Berlin", "Europe/Paris", False),  # alike today, not in their history
    ("UTC", "Europe/Berlin", False), ("Nowhere/Zone", "Etc/Nowhere", False),
])
def test_same_zone_knows_aliases(a: str, b: str, same: bool) -> None:
    from collector.analytics.rollups import same_zone

    assert same_zone(a, b) is same and same_zone(b, a) is same


def test_an_alias_of_the_roll_ups_zone_reads_them(seeded: Any, tmp_path: Any,
                                                   monkeypatch: Any) -> None:
    from collector import clock

    monkeypatch.setattr(clock, "now", lambda: day_bounds(date(2026, 6, 1), TZ)[0])
    purge_days_before(seeded, DAYS[10])
    # As if the roll-ups had been filed under the old name of India's zone.
    sql_write(seeded, "events", "UPDATE store_meta SET value = 'Asia/Calcutta'"
              " WHERE key = 'rollups_timezone'")
    for zone, code in (("Asia/Kolkata", 0), ("Asia/Calcutta", 0), ("Asia/Dhaka", 2)):
        app = make_app(make_config(tmp_path, TIMEZONE=zone, K_MIN=1))
        with app.app_context():
            out = app.test_cli_runner().invoke(args=[
                "export", "--since", DAYS[0].isoformat(), "--until", DAYS[-1].isoformat()])
        assert out.exit_code == code, (zone, out.output)


def rollups_zone(app: Any) -> list[tuple[Any, ...]]:
    return sql(app, "events", "SELECT value FROM store_meta WHERE key = 'rollups_timezone'")


def test_roll_ups_remember_their_time_zone(seeded: Any, tmp_path: Any,
                                          monkeypatch: Any) -> None:
    """Changing TIMEZONE while roll-ups exist would lose or double-count hits: exports
    that reach them and the purge refuse, saying which zone the roll-ups are in."""
    from collector import clock

    # A year after DAYS: every day is past the events' period of 390 days.
    monkeypatch.setattr(clock, "now", lambda: day_bounds(date(2026, 6, 1), TZ)[0])
    purge_days_before(seeded, DAYS[10])
    assert rollups_zone(seeded) == [("Europe/Berlin",)]
    utc = make_app(make_config(tmp_path, TIMEZONE="UTC", K_MIN=1))
    runner = utc.test_cli_runner()
    # The commands run in the context of the app they are given (not the fixture's).
    with utc.app_context():
        before = snapshot_events(utc)
        for since in (DAYS[0], DAYS[9], DAYS[11]):  # rolled up, the last one, just after
            out = runner.invoke(args=["export", "--since", since.isoformat(), "--until",
                                      DAYS[-1].isoformat()])
            assert out.exit_code == 2 and out.stdout == "", since
            line = error_line(out.stderr)
            assert "filed by day in Europe/Berlin" in line
            assert "TIMEZONE=Europe/Berlin" in line and f"--since {DAYS[12]}" in line
        out = runner.invoke(args=["export", "--since", DAYS[12].isoformat(), "--until",
                                  DAYS[-1].isoformat(), "--by", "day", "--format", "json"])
        assert out.exit_code == 0, out.output  # only raw days: any zone will do
        token = runner.invoke(args=["token", "new", "--scope", "aggregate", "--name", "a"])
        r = utc.test_client().get(f"/api/v1/aggregate?since={DAYS[0]}&until={DAYS[-1]}",
                                  headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert r.status_code == 409 and "filed by day in Europe/Berlin" in r.json["error"]
        assert "--" not in r.json["error"]
        for args in (["purge", "--dry-run"], ["purge"]):
            out = runner.invoke(args=args)
            assert out.exit_code == 2 and out.stdout == "", args
            line = error_line(out.stderr)
            assert line.startswith("Error: TIMEZONE is UTC, but the roll-ups") and \
                "set TIMEZONE back to Europe/Berlin" in line
        assert snapshot_events(utc) == before  # the refused purge changed nothing
        # The same zone still reads them; once no roll-up is left, a new zone may start.
        assert export(seeded, DAYS[0], DAYS[-1])[0]["rolled_up_days"] == 10
        sql_write(seeded, "events", "DELETE FROM rollups")
        assert runner.invoke(args=["purge"]).exit_code == 0
        assert rollups_zone(seeded) == [("UTC",)]
        assert sql(seeded, "events", "SELECT MAX(day) FROM rollups") == [(DAYS[-1].isoformat(),)]
    utc.extensions["cleargif"].close()


def test_roll_ups_from_before_the_zone_was_recorded(seeded: Any) -> None:
    store = store_of(seeded)
    purge_days_before(seeded, DAYS[5])
    sql_write(seeded, "events", "DELETE FROM store_meta")  # as an older release left them
    assert export(seeded, DAYS[0], DAYS[-1])[0]["rolled_up_days"] == 5
    purge_days_before(seeded, DAYS[10])  # the purge's TIMEZONE is taken as theirs
    assert rollups_zone(seeded) == [("Europe/Berlin",)]
    with pytest.raises(ConfigError, match="filed by day in Europe/Berlin"):
        roll_up_before(store, day_bounds(DAYS[12], ZoneInfo("UTC"))[0], ZoneInfo("UTC"))


def snapshot_events(app: Any) -> dict[str, Any]:
    return {t: sql(app, "events", f"SELECT * FROM {t} ORDER BY rowid") for t in
            ("events", "rollups", "store_meta", "campaign_sends")}
