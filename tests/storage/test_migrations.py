"""Numbered schema migrations (DESIGN 6): files made before them upgrade without loss, a
store newer than the code is refused in one line, and several processes starting at once
apply each step once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from collector.storage.migrations import latest, migrations
from tests.conftest import SITE, error_line, make_config

REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "tests" / "data" / "legacy"


def rows(path: Path, statement: str) -> list[Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(statement).fetchall()
    finally:
        conn.close()


def legacy_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("events.db", "identity.db"):
        shutil.copy(LEGACY / name, data / name)
    return data


def test_the_migrations_are_numbered_from_one() -> None:
    for store in ("events", "identity"):
        steps = migrations("sqlite", store)
        assert [s.version for s in steps] == list(range(1, len(steps) + 1))
        assert latest("sqlite", store) == len(steps)


def test_files_of_the_release_before_upgrade_without_loss(tmp_path: Path) -> None:
    from collector import create_app

    data = legacy_folder(tmp_path)
    before = {name: {t: rows(data / f"{name}.db", f"SELECT * FROM {t} ORDER BY rowid")
                     for (t,) in rows(data / f"{name}.db", "SELECT name FROM sqlite_master "
                                      "WHERE type = 'table'")}
              for name in ("events", "identity")}
    app = create_app(make_config(tmp_path, K_MIN=1))  # a dozen events: show them all
    out = app.test_cli_runner().invoke(args=["migrate"])
    assert out.exit_code == 0, out.output
    assert f"events store {data / 'events.db'}: schema version {latest('sqlite', 'events')}" \
        in out.stdout and "(applied 1, 2, 3" in out.stdout
    again = app.test_cli_runner().invoke(args=["migrate"])
    assert again.stdout.count("(up to date)") == 2
    # Every row of every table is still there, with the columns it had.
    for name, tables in before.items():
        for table, old in tables.items():
            new = rows(data / f"{name}.db", f"SELECT * FROM {table} ORDER BY rowid")
            assert [r[:len(old[0])] for r in new] == old if old else new == [], (name, table)
    # The roll-ups learnt what can be known of their sizes and names.
    rollups = rows(data / "events.db", "SELECT kind, name, hits, visits, visitors, "
                   "identified, anonymous FROM rollups")
    assert rollups and all((n == "pageview") == (k == "pageview") for k, n, *_ in rollups)
    for _, _, hits, visits, visitors, identified, anonymous in rollups:
        assert identified == (visitors or visits)
        assert anonymous == (hits if not visitors and not visits else 0)
    # The receipts learnt the facts the dashboard counts, from their bodies.
    facts = rows(data / "identity.db", "SELECT body, granted, gpc, dnt FROM receipts")
    assert facts
    for body, granted, gpc, dnt in facts:
        if body is None:
            assert (granted, gpc, dnt) == (None, None, None)
        else:
            decoded = json.loads(body)
            assert granted.split() == decoded["granted"]
            assert (gpc, dnt) == (int(decoded["gpc"] is True), int(decoded["dnt"] is True))
    # The collector reads them: the receipt chain still verifies, exports see the data.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0
    export = runner.invoke(args=["export", "--since", "2026-05-01", "--until", "2026-06-30",
                                 "--by", "", "--format", "json"])
    assert export.exit_code == 0 and json.loads(export.stdout)["rows"][0]["hits"] == 12
    assert "analyst" in runner.invoke(args=["token", "list"]).stdout
    app.extensions["cleargif"].close()


def test_a_store_newer_than_the_code_is_refused_in_one_line(tmp_path: Path) -> None:
    from collector import create_app

    data = legacy_folder(tmp_path)
    app = create_app(make_config(tmp_path))
    assert app.test_cli_runner().invoke(args=["migrate"]).exit_code == 0
    app.extensions["cleargif"].close()
    conn = sqlite3.connect(data / "events.db")
    with conn:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES "
                     "(99, 'from_the_future', 0)")
    conn.close()
    app = create_app(make_config(tmp_path))
    out = app.test_cli_runner().invoke(args=["export", "--since", "2026-05-01", "--until",
                                             "2026-06-30"])
    assert out.exit_code == 2 and out.stdout == ""
    line = error_line(out.stderr)
    assert "schema version 99, newer than this release of cleargif knows" in line
    assert "upgrade cleargif" in line
    # Hits are answered (the GIF) but not claimed as stored.
    r = app.test_client().get("/t.gif?p=/", headers={"Origin": SITE})
    assert r.status_code == 503 and r.mimetype == "image/gif"
    assert app.test_client().get("/healthz").status_code == 503
    app.extensions["cleargif"].close()


def test_processes_starting_at_once_apply_each_step_once(tmp_path: Path) -> None:
    code = ("import sys; from collector.storage import open_events, open_identity; "
            "e = open_events(sys.argv[1]); i = open_identity(sys.argv[2]); "
            "print(len(e.migrate()) + len(i.migrate()))")
    events, identity = tmp_path / "events.db", tmp_path / "identity.db"
    procs = [subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{events}",
                               f"sqlite:///{identity}"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    for path, store in ((events, "events"), (identity, "identity")):
        versions = [v for (v,) in rows(path, "SELECT version FROM schema_migrations "
                                       "ORDER BY version")]
        assert versions == list(range(1, latest("sqlite", store) + 1))


@pytest.mark.parametrize("store", ["events", "identity"])
def test_a_migration_that_fails_changes_nothing(tmp_path: Path, store: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A step runs whole or not at all: a failing statement rolls the step back."""
    from collector.storage import migrations as module
    from collector.storage import open_events, open_identity

    broken = (*module.migrations("sqlite", store),
              module.Migration(len(module.migrations("sqlite", store)) + 1, "broken",
                               "CREATE TABLE half_made (x);\nSELECT * FROM no_such_table;"))
    monkeypatch.setattr("collector.storage.sqlite.migrations", lambda b, s: broken)
    opened = (open_events if store == "events" else open_identity)(
        f"sqlite:///{tmp_path}/{store}.db")
    from collector.errors import StorageError

    with pytest.raises(StorageError):
        opened.ping()
    opened.close()
    tables = {t for (t,) in rows(tmp_path / f"{store}.db",
                                 "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_made" not in tables and tables == set()  # the first steps rolled back too
