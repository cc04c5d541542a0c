"""Retention: periods per data class, `cleargif purge`, and purging while hits arrive."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector import clock
from collector.analytics import retention
from collector.analytics.rollups import day_bounds, local_day
from collector.config import load_config
from collector.consent.receipts import verify_chain
from collector.errors import ConfigError
from sdk.remember import RememberStore
from tests.conftest import (
    SECRET,
    SITE,
    error_line,
    make_app,
    make_config,
    sql,
    sql_write,
    store_file,
)
from tests.test_rollups import cells, day_records, export, record, seed

TZ = ZoneInfo("Europe/Berlin")
NOW = int(datetime(2026, 3, 15, 10, 0, tzinfo=UTC).timestamp())
TODAY = local_day(NOW, TZ)
DAY = 86400
ALL = {"analytics": True, "personalization": True, "marketing": True}


# --- configuration ------------------------------------------------------------------------

CLASSES = ("EVENTS", "ROLLUPS", "RECEIPTS", "SUPPRESSIONS", "REMEMBER", "AUDIT")


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("value", [0, -1, "0", "-30", "a year", 1.5, True, "  "])
def test_bad_periods_are_refused_naming_the_key(cls: str, value: Any) -> None:
    key = f"RETENTION_DAYS_{cls}"
    with pytest.raises(ConfigError) as info:
        load_config({key: value}, environ={})
    assert info.value.key == key and key in str(info.value)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


@pytest.mark.parametrize("cls", [c for c in CLASSES if c != "SUPPRESSIONS"])
def test_only_suppressions_may_be_unlimited(cls: str) -> None:
    key = f"RETENTION_DAYS_{cls}"
    with pytest.raises(ConfigError, match="only the suppression list") as info:
        load_config({key: "unlimited"}, environ={})
    assert info.value.key == key


def test_periods_from_the_environment_and_defaults() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CLEARGIF_RETENTION_DAYS_AUDIT": "0"})
    assert info.value.key == "RETENTION_DAYS_AUDIT"
    cfg = load_config(environ={"CLEARGIF_RETENTION_DAYS_EVENTS": "30",
                               "CLEARGIF_RETENTION_DAYS_SUPPRESSIONS": "Unlimited"})
    assert cfg["RETENTION_DAYS_EVENTS"] == 30 and cfg["RETENTION_DAYS_SUPPRESSIONS"] is None
    assert cfg["RETENTION_DAYS_ROLLUPS"] == 761  # not given: the default applies
    with pytest.raises(ConfigError, match="set but empty") as info:  # given empty: a slip
        load_config(environ={"CLEARGIF_RETENTION_DAYS_ROLLUPS": ""})
    assert info.value.key == "RETENTION_DAYS_ROLLUPS"
    cfg = load_config({"REMEMBER_DAYS": 10, "RETENTION_DAYS_SUPPRESSIONS": 3650}, environ={})
    assert cfg["RETENTION_DAYS_REMEMBER"] == 17 and cfg["RETENTION_DAYS_SUPPRESSIONS"] == 3650
    with pytest.raises(ConfigError) as info:
        load_config({"REMEMBER_DAYS": 60, "RETENTION_DAYS_REMEMBER": 37}, environ={})
    assert info.value.key == "RETENTION_DAYS_REMEMBER" and "REMEMBER_DAYS" in str(info.value)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("source", ["env-empty", "env-null", "toml-empty", "test-none"])
def test_a_period_given_without_a_value_is_refused(cls: str, source: str,
                                                   tmp_path: Path) -> None:
    """Only a key that is not given at all takes its default; an empty one is refused,
    the suppression list's included (it is unlimited only when said so)."""
    key = f"RETENTION_DAYS_{cls}"
    test_config: dict[str, Any] = {}
    environ: dict[str, str] = {}
    if source.startswith("env"):
        environ[f"CLEARGIF_{key}"] = "" if source == "env-empty" else "null"
    elif source == "toml-empty":
        toml = tmp_path / "cleargif.toml"
        toml.write_text(f'{key.lower()} = ""\n')
        environ["CLEARGIF_CONFIG"] = str(toml)
    else:
        test_config[key] = None
    with pytest.raises(ConfigError) as info:
        load_config(test_config, environ=environ)
    message = str(info.value)
    assert info.value.key == key and message.startswith(f"{key} is set but empty; give ")
    assert message.endswith(".") and "\n" not in message
    assert ("unlimited" in message) == (cls == "SUPPRESSIONS")


# --- a collector with two and a half years of data, on a moved clock --------------------


@dataclass
class World:
    """What was seeded, and what each class must keep."""

    app: Any
    events_kept: list[tuple[Any, ...]] = field(default_factory=list)
    page_days_to_roll: set[str] = field(default_factory=set)
    page_days_to_summarise: set[str] = field(default_factory=set)
    receipts_gone: set[str] = field(default_factory=set)
    receipts_kept: set[str] = field(default_factory=set)
    remember_kept: int = 0
    audit_gone: int = 0


def at(monkeypatch: Any, ts: float) -> None:
    monkeypatch.setattr(clock, "now", lambda: ts)


def decide(client: Any, monkeypatch: Any, ts: float) -> str:
    at(monkeypatch, ts)
    r = client.post("/consent", json={"purposes": ALL}, headers={"Origin": SITE})
    assert r.status_code == 200
    rows = sql(client.application, "identity",
        "SELECT receipt_id FROM receipts ORDER BY seq DESC LIMIT 1")
    return str(rows[0][0])


def events_of(app: Any) -> list[tuple[Any, ...]]:
    return sql(app, "events", "SELECT * FROM events ORDER BY id")


def snapshot(app: Any) -> dict[str, Any]:
    out = {t: sql(app, "events", f"SELECT * FROM {t} ORDER BY rowid") for t in
           ("events", "rollups")}
    out.update({t: sql(app, "identity", f"SELECT * FROM {t} ORDER BY rowid") for t in
                ("receipts", "suppressions", "audit", "remember_tokens")})
    return out


@pytest.fixture
def app_config(tmp_path: Any) -> dict[str, Any]:
    return make_config(tmp_path, TIMEZONE="Europe/Berlin", K_MIN=1)


@pytest.fixture
def world(app: Any, monkeypatch: Any) -> World:
    w = World(app)
    rng = random.Random(11)
    first_kept = TODAY - timedelta(days=390)
    first_rolled = TODAY - timedelta(days=761)
    for back in range(820, -1, -1):
        day = TODAY - timedelta(days=back)
        rows = day_records(day, rng, n=4)
        seed(app, rows)
        if day < first_kept and day >= first_rolled and any(
                r["kind"] in ("pageview", "event") for r in rows):
            w.page_days_to_roll.add(day.isoformat())
        if first_rolled <= day < TODAY and any(r["kind"] in ("pageview", "event")
                                               for r in rows):
            w.page_days_to_summarise.add(day.isoformat())
    w.events_kept = [e for e in events_of(app) if local_day(e[1], TZ) >= first_kept]

    period = 1826 * DAY
    old = decide(app.test_client(), monkeypatch, NOW - period - 30 * DAY)  # gone
    w.receipts_gone.add(old)
    edge = decide(app.test_client(), monkeypatch, NOW - period - 60)  # gone, just
    w.receipts_gone.add(edge)
    inside = decide(app.test_client(), monkeypatch, NOW - period + 60)  # kept, just
    returning = app.test_client()
    first = decide(returning, monkeypatch, NOW - 2000 * DAY)  # kept: decided again later
    again = decide(returning, monkeypatch, NOW - 1000 * DAY)
    recent = decide(app.test_client(), monkeypatch, NOW - DAY)
    w.receipts_kept = {inside, first, again, recent}

    for i, created in enumerate((NOW - 4000 * DAY, NOW - 10 * DAY)):
        sql_write(app, "identity", "INSERT INTO suppressions (list, recipient, campaign, "
                             "created_at) VALUES (?, ?, ?, ?)", ("news", f"r{i}", "c", created))

    url = app.config["IDENTITY_URL"]
    for issued, kept in ((NOW - 37 * DAY - 1, False), (NOW - 37 * DAY + 1, True),
                         (NOW - 100 * DAY, False), (NOW - DAY, True)):
        with RememberStore(url, keys=[SECRET], clock=lambda t=issued: t) as store:
            store.issue(f"account-{issued}")
        w.remember_kept += kept

    for ts, action, gone in ((NOW - 2000 * DAY, "export", True),
                             (NOW - 1500 * DAY, "tombstone", False),
                             (NOW - 1096 * DAY - 1, "erase", True),
                             (NOW - 1096 * DAY + 1, "export", False),
                             (NOW - DAY, "erase", False)):
        sql_write(app, "identity", "INSERT INTO audit (ts, actor, action, subject_hmac, reason, "
                             "detail) VALUES (?, 'officer', ?, 'hmac', 'request', 'x')",
                             (ts, action))
        w.audit_gone += gone
    at(monkeypatch, NOW)
    return w


def by_name(reports: list[retention.PurgeResult]) -> dict[str, retention.PurgeResult]:
    return {r.name: r for r in reports}


def test_each_class_loses_exactly_what_is_past_its_period(world: World) -> None:
    app, col = world.app, world.app.extensions["cleargif"]
    seeded = len(events_of(app))
    reports = by_name(retention.purge(app.extensions["cleargif"], NOW))
    assert list(reports) == ["daily", *retention.CLASSES]

    # daily totals: every complete day with page events within the roll-ups' period,
    # summarised before its raw events went
    summarised = col.events.summarised_days("0000-01-01", "9999-12-31")
    assert set(summarised) == world.page_days_to_summarise
    assert reports["daily"].detail == f"summarised {len(summarised)} days"
    assert reports["daily"].count == 0 and reports["daily"].oldest_kept == min(summarised)

    # events: exactly the local days before TODAY - 390 went
    assert events_of(app) == world.events_kept
    assert reports["events"].oldest_kept == (TODAY - timedelta(days=390)).isoformat()
    assert reports["events"].count == seeded - len(world.events_kept) > 0
    assert reports["events"].detail == f"rolled up {len(world.page_days_to_roll)} days"

    # rollups: the purged days within 761 days, none older
    days = {d for (d,) in sql(app, "events", "SELECT DISTINCT day FROM rollups")}
    assert days == world.page_days_to_roll and reports["rollups"].count == 0
    assert reports["rollups"].oldest_kept == min(world.page_days_to_roll)

    # receipts: tombstones for subjects silent for 5 years; the chain still verifies
    rows = {r.receipt_id: r for r in col.identity.receipt_rows()}
    assert {i for i, r in rows.items() if r.body is None} == world.receipts_gone
    assert {i for i, r in rows.items() if r.body is not None} == world.receipts_kept
    assert {r.tombstone_reason for r in rows.values() if r.body is None} == {"retention"}
    problems, tombstones = verify_chain(list(col.identity.receipt_rows()), col.receipt_keys)
    assert problems == [] and len(tombstones) == 2 and reports["receipts"].count == 2
    assert reports["receipts"].oldest_kept == local_day(NOW - 2000 * DAY, TZ).isoformat()

    # suppressions: unlimited by default
    assert sql(app, "identity", "SELECT COUNT(*) FROM suppressions") == [(2,)]
    assert reports["suppressions"].line().startswith("suppressions: kept, unlimited")

    # remember-me tokens: lifetime + 7 days
    assert sql(app, "identity", "SELECT COUNT(*) FROM remember_tokens") == [
        (world.remember_kept,)]
    assert reports["remember"].count == 2

    # audit: tombstoned in place, no gaps in the numbering
    audit = sql(app, "identity", "SELECT seq, actor, action, subject_hmac, reason, detail "
                "FROM audit ORDER BY seq")
    assert [a[0] for a in audit] == [1, 2, 3, 4, 5]
    assert [a[2] for a in audit] == ["tombstone", "tombstone", "tombstone", "export", "erase"]
    assert audit[0][1:] == ("-", "tombstone", None, "retention", None)
    assert reports["audit"].count == world.audit_gone == 2

    # Nothing more to do the next day but the day that then falls out.
    again = by_name(retention.purge(app.extensions["cleargif"], NOW))
    assert all(r.count == 0 for r in again.values())


def test_dry_run_changes_nothing_and_predicts_the_purge(world: World) -> None:
    before = snapshot(world.app)
    dry = by_name(retention.purge(world.app.extensions["cleargif"], NOW, dry_run=True))
    assert snapshot(world.app) == before
    real = by_name(retention.purge(world.app.extensions["cleargif"], NOW))
    assert dry["daily"].detail == "would summarise " + real["daily"].detail.split(" ", 1)[1]
    for name in retention.CLASSES:
        assert (dry[name].count, dry[name].oldest_kept) == (real[name].count,
                                                            real[name].oldest_kept), name
        assert dry[name].dry_run and not real[name].dry_run
    assert dry["events"].detail == f"would roll up {len(world.page_days_to_roll)} days"
    assert real["events"].detail == f"rolled up {len(world.page_days_to_roll)} days"
    assert dry["events"].line().startswith("events: would delete ")
    assert real["receipts"].line() == (f"receipts: tombstoned 2 (oldest kept "
                                       f"{real['receipts'].oldest_kept})")


@pytest.mark.parametrize("by", ["day", "path", "day,path,browser", "referrer_host,lang",
                                "device,utm_source,utm_medium,utm_campaign", ""])
def test_export_across_the_purge_boundary_keeps_every_hit(world: World, by: str) -> None:
    since, until = TODAY - timedelta(days=500), TODAY - timedelta(days=300)
    before = cells(export(world.app, since, until, by)[1], by)
    retention.purge(world.app.extensions["cleargif"], NOW)
    meta, result = export(world.app, since, until, by)
    assert {k: v["hits"] for k, v in cells(result, by).items()} == {
        k: v["hits"] for k, v in before.items()}
    assert meta["rolled_up_days"] > 0 and any("sums of daily" in n for n in meta["notes"])


def test_moving_clock_purges_day_by_day(world: World) -> None:
    retention.purge(world.app.extensions["cleargif"], NOW)
    rolled = sql(world.app, "events", "SELECT COUNT(DISTINCT day) FROM rollups")[0][0]
    tomorrow = by_name(retention.purge(world.app.extensions["cleargif"], NOW + DAY))
    day = TODAY - timedelta(days=390)
    start, end = day_bounds(day, TZ)
    assert tomorrow["events"].count == sum(1 for e in world.events_kept if start <= e[1] < end)
    assert tomorrow["events"].oldest_kept == (day + timedelta(days=1)).isoformat()
    # One day joins the roll-ups, the oldest roll-up day leaves.
    assert sql(world.app, "events", "SELECT COUNT(DISTINCT day) FROM rollups")[0][0] == rolled
    assert sql(world.app, "events", "SELECT MIN(day) FROM rollups")[0][0] > min(
        world.page_days_to_roll)


def test_epoch_rows_go_once_no_token_is_left(app: Any) -> None:
    """An account's epoch row (after "log out everywhere") is purged when the account has
    no remember-me token and the row is older than RETENTION_DAYS_REMEMBER (37 days); no
    ended token or epoch comes back."""
    url = app.config["IDENTITY_URL"]

    def store(ts: float) -> RememberStore:
        return RememberStore(url, keys=[SECRET], clock=lambda: ts)

    stolen: dict[str, str] = {}
    plan = {  # account: (when its epoch was bumped, when a token was issued after that)
        "gone": (NOW - 37 * DAY - 1, None),
        "recent": (NOW - 37 * DAY + 1, None),
        "live-token": (NOW - 100 * DAY, NOW - DAY),
        "expired-token": (NOW - 100 * DAY, NOW - 80 * DAY),  # the same purge deletes it
    }
    for account, (bumped, issued) in plan.items():
        with store(bumped - 60) as s:
            stolen[account] = s.issue(account).cookie_value  # ended by the bump below
        with store(bumped) as s:
            s.forget_everywhere(account)
        if issued is not None:
            with store(issued) as s:
                stolen[f"{account}:new"] = s.issue(account).cookie_value
    with store(NOW - 1000 * DAY) as s:
        s.issue("never-bumped")  # no epoch row at all; the token expired long ago

    def accounts() -> set[str]:
        return {a for (a,) in sql(app, "identity", "SELECT account FROM remember_accounts")}

    dry = by_name(retention.purge(app.extensions["cleargif"], NOW, dry_run=True))["remember"]
    assert accounts() == set(plan) and dry.detail == "would forget 2 account epochs"
    report = by_name(retention.purge(app.extensions["cleargif"], NOW))["remember"]
    assert (report.count, report.detail) == (dry.count, "forgot 2 account epochs") == (
        2, "forgot 2 account epochs")
    assert report.line().endswith("; forgot 2 account epochs")
    assert accounts() == {"recent", "live-token"}
    with store(NOW) as s:
        # The tokens ended by "log out everywhere" stay ended, row or no row.
        for account in plan:
            assert s.recall(stolen[account]).account is None, account
        assert s.recall(stolen["live-token:new"]).account == "live-token"
        assert s.epoch("gone") == 0 and s.epoch("recent") > 0
    assert by_name(retention.purge(app.extensions["cleargif"], NOW))["remember"].detail == ""


def test_configured_periods(tmp_path: Any, monkeypatch: Any) -> None:
    app = make_app(make_config(tmp_path, RETENTION_DAYS_SUPPRESSIONS=100,
                                 RETENTION_DAYS_EVENTS=10, RETENTION_DAYS_ROLLUPS=5,
                                 RETENTION_DAYS_AUDIT=30))
    seed(app, [record(NOW - back * DAY) for back in range(20)])
    for i, created in enumerate((NOW - 101 * DAY, NOW - 99 * DAY)):
        sql_write(app, "identity", "INSERT INTO suppressions (list, recipient, created_at) VALUES "
                             "('news', ?, ?)", (f"r{i}", created))
    reports = by_name(retention.purge(app.extensions["cleargif"], NOW))
    assert reports["suppressions"].count == 1 and reports["suppressions"].period_days == 100
    assert sql(app, "identity", "SELECT recipient FROM suppressions") == [("r1",)]
    assert reports["events"].count == 9 and reports["events"].detail == "rolled up 0 days"
    assert sql(app, "events", "SELECT COUNT(*) FROM rollups") == [(0,)]  # past 5 days anyway
    assert reports["remember"].count == 0 and reports["remember"].oldest_kept is None
    app.extensions["cleargif"].close()


def test_progress_is_reported_per_class(world: World) -> None:
    calls: list[tuple[str, int, int]] = []
    retention.purge(world.app.extensions["cleargif"], NOW, progress=lambda *a: calls.append(a))
    seen = {name for name, _, _ in calls}
    assert {"events", "receipts", "audit"} <= seen
    for name in seen:
        mine = [(d, t) for n, d, t in calls if n == name]
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
        assert all(d <= t for d, t in mine) and mine[-1][0] == mine[-1][1]


# --- the command ---------------------------------------------------------------------------


def test_purge_command(world: World) -> None:
    runner = world.app.test_cli_runner()
    before = snapshot(world.app)
    out = runner.invoke(args=["purge", "--dry-run"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["daily", *retention.CLASSES]
    assert lines[0].startswith("daily: would delete 0 (") and "; would summarise " in lines[0]
    lines = lines[1:]
    assert lines[0].startswith("events: would delete ") and "(oldest kept " in lines[0]
    assert lines[2].startswith("receipts: would tombstone 2 (oldest kept ")
    assert "Dry run" in out.stderr and snapshot(world.app) == before
    out = runner.invoke(args=["purge"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()[1:]
    assert lines[0].startswith("events: deleted ") and "rolled up" in lines[0]
    assert lines[5] == f"audit: tombstoned 2 (oldest kept {(TODAY - timedelta(days=1096))})"
    assert "Dry run" not in out.stderr
    out = runner.invoke(args=["purge"])
    assert out.stdout.splitlines()[0].endswith("; summarised 0 days")
    assert out.stdout.splitlines()[1].startswith("events: deleted 0 (oldest kept ")


def test_purge_command_store_error_is_one_line(app: Any, tmp_path: Any) -> None:
    sql_write(app, "events", "DROP TABLE rollups")
    seed(app, [record(NOW - 1000 * DAY)])
    out = app.test_cli_runner().invoke(args=["purge"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    error_line(out.stderr)


# --- hits keep flowing -----------------------------------------------------------------------


def test_purge_while_hits_arrive_loses_none(app: Any, monkeypatch: Any) -> None:
    from collector.web.ratelimit import RateLimiter

    # Four test clients share one address and send faster than the hits limit allows.
    app.extensions["cleargif"].limits = RateLimiter({"hits": None})
    old = [record(NOW - 800 * DAY + i * 1800, f"{i % 50:032x}", path=f"/{i % 7}")
           for i in range(24_000)]  # 500 days, 48 events a day
    from collector.ingest.records import FIELDS

    conn = sqlite3.connect(store_file(app, "events"))  # one transaction: seeding is not
    with conn:                                          # what is tested
        conn.executemany(f"INSERT INTO events ({', '.join(FIELDS)}) VALUES "
                         f"({', '.join('?' for _ in FIELDS)})",
                         [tuple(r.get(f) for f in FIELDS) for r in old])
    conn.close()
    at(monkeypatch, NOW)
    stop = threading.Event()
    answers: list[int] = []
    errors: list[BaseException] = []
    started = threading.Barrier(5)

    def send(n: int) -> None:
        client = app.test_client()
        try:
            started.wait()
            while not stop.is_set() or len(answers) < 40:
                r = client.get(f"/t.gif?p=/live/{n}", headers={"Origin": SITE})
                answers.append(r.status_code)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    started.wait()

    def overlap(name: str, done: int, total: int) -> None:
        # Between the days of the events purge, let a hit through: the purge and the hits
        # really interleave, however fast either side is on this machine.
        if name == "events":
            target = len(answers) + 1
            deadline = time.monotonic() + 5
            while len(answers) < target and time.monotonic() < deadline:
                time.sleep(0.001)

    try:
        first = len(answers)
        reports = by_name(retention.purge(app.extensions["cleargif"], NOW, progress=overlap))
        during = len(answers) - first  # hits answered while the purge ran
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == [] and during > 0 and set(answers) == {200}
    (live,), = sql(app, "events", "SELECT COUNT(*) FROM events WHERE path LIKE '/live/%'")
    assert live == len(answers)
    cutoff = day_bounds(TODAY - timedelta(days=390), TZ)[0]
    assert reports["events"].count == sum(1 for r in old if r["ts"] < cutoff)
    rolled_from = day_bounds(TODAY - timedelta(days=761), TZ)[0]
    (hits,), = sql(app, "events", "SELECT SUM(hits) FROM rollups")
    assert hits == sum(1 for r in old if rolled_from <= r["ts"] < cutoff)


def test_report_lines() -> None:
    assert retention.PurgeResult("events", 1234, "2025-11-02", 390, True).line() == (
        "events: would delete 1234 (oldest kept 2025-11-02)")
    assert retention.PurgeResult("audit", 3, None, 1096, action="tombstone").line() == (
        "audit: tombstoned 3 (nothing left)")
    assert retention.PurgeResult("suppressions", 0, "2020-01-01", None).line() == (
        "suppressions: kept, unlimited (oldest kept 2020-01-01)")


def test_progress_bars_skip_classes_with_nothing_to_do(capsys: Any) -> None:
    from collector.cli import Bars

    bars = Bars(12)
    for call in (("events", 1, 3), ("events", 3, 3), ("rollups", 0, 0), ("audit", 2, 2)):
        bars(*call)
    bars.close()
    err = capsys.readouterr().err
    assert "events" in err and "audit" in err and "rollups" not in err


def test_purged_ids_leave_the_files_while_the_stores_stay_open(world: World) -> None:
    """A live server keeps its connections: the purge itself must push old pages out of
    the WAL, or tombstoned subject ids linger on disk."""
    app = world.app
    marks = ",".join("?" * len(world.receipts_gone))
    gone_subjects = [s for (s,) in sql(app, "identity",
        f"SELECT subject_id FROM receipts WHERE receipt_id IN ({marks})",
        tuple(world.receipts_gone))]
    assert gone_subjects
    sql_write(app, "events", "INSERT INTO campaign_sends (campaign, list, count, recorded_at) "
                       "VALUES ('old', 'news', 10, ?), ('new', 'news', 10, ?)",
                       (NOW - 400 * DAY, NOW - DAY))
    retention.purge(app.extensions["cleargif"], NOW)
    data = Path(app.config["DATA_DIR"])
    blob = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())
    for subject in gone_subjects:
        assert subject.encode() not in blob
    assert sql(app, "events", "SELECT campaign FROM campaign_sends") == [("new",)]
