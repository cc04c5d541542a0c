"""``cleargif copy``: both stores from SQLite to PostgreSQL and back, resumable, checked."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collector.errors import StorageError
from sdk.remember import RememberStore
from tests.conftest import SITE, error_line, make_app, make_config, pageview, seed
from tests.pgserver import TempPostgres

_names = itertools.count()
MONTHS = [1_764_547_200 + i * 31 * 86400 for i in range(4)]  # from 2025-12-01, UTC


def full_collector(tmp_path: Path) -> Flask:
    """A SQLite collector holding a little of every table."""
    app = make_app(make_config(tmp_path, K_MIN=1))
    client = app.test_client()
    client.post("/consent", json={"purposes": {"analytics": True}}, headers={"Origin": SITE})
    seed(app, [pageview(ts + i * 3600, f"{i % 4:032x}", path=f"/p{i % 3}")
               for ts in MONTHS for i in range(25)])
    runner = app.test_cli_runner()
    assert runner.invoke(args=["campaign", "sent", "spring", "100"]).exit_code == 0
    assert runner.invoke(args=["token", "new", "--scope", "aggregate", "--name", "a"]
                         ).exit_code == 0
    app.extensions["cleargif"].events.count_dropped("2026-01-01", "site")
    from zoneinfo import ZoneInfo

    from collector.analytics.rollups import roll_up_day
    from collector.clock import local_day

    roll_up_day(app.extensions["cleargif"].events, local_day(MONTHS[0], ZoneInfo("UTC")),
                ZoneInfo("UTC"))
    with RememberStore(app.config["IDENTITY_URL"], keys=["k" * 32]) as remember:
        remember.issue("alice")
    return app


def export_rows(app: Flask, since: str = "2025-11-01", until: str = "2026-04-30") -> Any:
    out = app.test_cli_runner().invoke(args=["export", "--since", since, "--until", until,
                                             "--by", "day,path", "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)["rows"]


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back(tmp_path: Path, postgres: TempPostgres) -> None:
    source = full_collector(tmp_path / "a")
    before = export_rows(source)
    events_url, identity_url = postgres.cleargif_database(f"copy{next(_names)}")
    to = ["--to", events_url, "--to-identity", identity_url]
    out = source.test_cli_runner().invoke(args=[
        "copy", "--from", f"sqlite:///{tmp_path / 'a' / 'data'}", *to])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert any(line.startswith("events: 100 rows copied; source 100, destination 100 "
                               "(complete)") for line in lines), lines
    for table in ("receipts", "suppressions", "api_tokens", "audit", "rollups",
                  "campaign_sends", "dropped", "store_meta", "remember_tokens"):
        assert any(line.startswith(f"{table}:") and "(complete)" in line
                   for line in lines), (table, lines)
    assert lines[-1] == "receipt chain at the destination: 1 receipts, intact"
    # The collector reads the same numbers from PostgreSQL.
    moved = make_app(make_config(tmp_path / "b", K_MIN=1, EVENTS_URL=events_url,
                                 IDENTITY_URL=identity_url))
    assert export_rows(moved) == before
    assert moved.test_cli_runner().invoke(args=["consent", "verify"]).exit_code == 0
    assert "a\taggregate" in moved.test_cli_runner().invoke(args=["token", "list"]).stdout
    # Copying again adds nothing, and back to SQLite gives the same again.
    again = source.test_cli_runner().invoke(args=[
        "copy", "--from", f"sqlite:///{tmp_path / 'a' / 'data'}", *to])
    assert again.exit_code == 0 and "events: 0 rows copied; source 100" in again.stdout
    back = moved.test_cli_runner().invoke(args=[
        "copy", "--from", events_url, "--from-identity", identity_url, "--to",
        f"sqlite:///{tmp_path / 'c' / 'data'}"])
    assert back.exit_code == 0, back.output
    returned = make_app(make_config(tmp_path / "c", K_MIN=1))
    assert export_rows(returned) == before
    for app in (source, moved, returned):
        app.extensions["cleargif"].close()


def test_an_interrupted_copy_finishes_when_run_again(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.storage.sqlite import SQLiteEvents

    source = full_collector(tmp_path / "a")
    target = f"sqlite:///{tmp_path / 'b'}"
    real = SQLiteEvents.write_rows
    calls = itertools.count()

    def failing(self: Any, table: str, columns: Any, rows: Any) -> int:
        if table == "events" and next(calls) == 2:
            raise StorageError("The disk is full.")  # the third batch never lands
        return real(self, table, columns, rows)

    monkeypatch.setattr(SQLiteEvents, "write_rows", failing)
    args = ["copy", "--from", f"sqlite:///{tmp_path / 'a' / 'data'}", "--to", target,
            "--batch", "100"]
    seed(source, [pageview(MONTHS[3] + 90_000 + i, path="/late") for i in range(150)])
    out = source.test_cli_runner().invoke(args=args)
    assert out.exit_code == 2 and error_line(out.stderr) == "Error: The disk is full."
    out = source.test_cli_runner().invoke(args=args)
    assert out.exit_code == 0, out.output
    assert "events: 50 rows copied; source 250, destination 250 (complete)" in out.stdout
    source.extensions["cleargif"].close()


@pytest.mark.parametrize(("args", "words"), [
    (["--from", "sqlite:///x/events.db", "--to", "sqlite:///y"], "names a SQLite file"),
    (["--from", "mysql://db/x", "--to", "sqlite:///y"], "--from must be sqlite:///"),
    (["--from", "sqlite:///nowhere", "--to", "sqlite:///y"], "No cleargif data at"),
    (["--from", "sqlite:///same", "--to", "sqlite:///same"], "the same stores"),
])
def test_bad_places_are_one_line(app: Flask, tmp_path: Path, args: list[str],
                                 words: str) -> None:
    args = [a.replace("sqlite:///", f"sqlite:///{tmp_path}/") for a in args]
    out = app.test_cli_runner().invoke(args=["copy", *args])
    assert out.exit_code == 2 and words in error_line(out.stderr)
    assert not (tmp_path / "nowhere").exists()
