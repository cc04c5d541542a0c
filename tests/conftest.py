"""Shared fixtures: an app on a fresh SQLite data folder, its client and CLI runner."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from collector import create_app
from collector.ingest.records import FIELDS, empty_record
from tests.pgserver import TempPostgres

SECRET = "test-secret-key-0123456789abcdef"
TOKEN = "test-token-key-0123456789abcdef"
SITE = "https://www.example.com"

# Environment variables of the developer's shell must not leak into the tests.
for _name in list(os.environ):
    if _name.startswith("CLEARGIF_") and _name != "CLEARGIF_REQUIRE_ALL":
        del os.environ[_name]


def require_or_skip(reason: str) -> None:
    """Fail when ``CLEARGIF_REQUIRE_ALL=1`` (``.ci/run`` sets it: CI runs everything),
    else skip with ``reason``, which says how to enable the test."""
    if os.environ.get("CLEARGIF_REQUIRE_ALL") == "1":
        pytest.fail(f"CLEARGIF_REQUIRE_ALL=1 but: {reason}")
    else:
        pytest.skip(reason)


def wait_for(condition: Callable[[], Any], timeout: float = 20.0,
             what: str = "the condition") -> Any:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``timeout`` seconds (never a fixed sleep that passes by luck on a slow machine)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def error_line(stderr: str) -> str:
    """The one error line of a failed command's stderr: ``Error: …``, alone, or after the
    line that names the stores the command uses (or copies)."""
    lines = [line for line in stderr.strip().splitlines()
             if not line.startswith(("Using the ", "Copying "))]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """A throwaway PostgreSQL server for the session, or a skip saying how to enable it
    (a failure under ``CLEARGIF_REQUIRE_ALL=1``)."""
    from tests.pgserver import available

    why = available()
    if why:
        require_or_skip(why)
    server = TempPostgres().start()
    yield server
    server.stop()


def make_config(tmp_path: Any, **overrides: Any) -> dict[str, Any]:
    """A test configuration on ``tmp_path``."""
    config: dict[str, Any] = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEYS": [SECRET],
        "TOKEN_KEYS": [TOKEN],
        "ALLOWED_ORIGINS": [SITE],
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(tmp_path: Any) -> dict[str, Any]:
    """Overrides for the ``app`` fixture; tests may update it before using ``app``."""
    return make_config(tmp_path)


def make_app(config: dict[str, Any]) -> Flask:
    """The collector as ``cleargif serve`` leaves it: configured, its stores created."""
    app = create_app(config)
    col = app.extensions["cleargif"]
    col.events.ping()
    col.identity.ping()
    return app


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The collector on a temporary data folder, its stores created."""
    app = make_app(app_config)
    yield app
    app.extensions["cleargif"].close()


def set_cookies(response: Any) -> dict[str, list[dict[str, Any]]]:
    """Parse every ``Set-Cookie`` header: name -> list of attribute dicts (with value)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attrs: dict[str, Any] = {"value": morsel.value}
            lowered = header.lower()
            attrs["httponly"] = "httponly" in lowered
            attrs["secure"] = "; secure" in lowered
            attrs["samesite"] = morsel["samesite"]
            attrs["max_age"] = int(morsel["max-age"]) if morsel["max-age"] != "" else None
            attrs["expires"] = morsel["expires"] or None
            attrs["domain"] = morsel["domain"] or None
            attrs["path"] = morsel["path"] or None
            out.setdefault(name, []).append(attrs)
    return out


def store_file(app: Flask, store: str) -> Path:
    """The SQLite file of the app's ``events`` or ``identity`` store."""
    url = app.config[f"{store.upper()}_URL"]
    assert url.startswith("sqlite:///"), url
    return Path(url[len("sqlite:///"):])


def sql(app: Flask, store: str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
    """Rows of a read-only query on a store's SQLite file, read from outside the collector
    (as an operator with ``sqlite3`` would): what is stored, not how the collector asks."""
    conn = sqlite3.connect(f"file:{store_file(app, store)}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(statement, tuple(params)).fetchall()
    finally:
        conn.close()


def sql_write(app: Flask, store: str, statement: str, params: Sequence[Any] = ()) -> int:
    """Change a store's file behind the collector's back (a test's set-up, an operator's
    edit or an attacker's): one statement, committed; returns the rows it touched."""
    conn = sqlite3.connect(store_file(app, store), timeout=10)
    try:
        with conn:
            return conn.execute(statement, tuple(params)).rowcount
    finally:
        conn.close()


def events(app: Flask) -> list[dict[str, Any]]:
    """Every stored event, oldest first (none when the store was never created)."""
    if not store_file(app, "events").exists():
        return []
    conn = sqlite3.connect(f"file:{store_file(app, 'events')}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [{k: row[k] for k in FIELDS}
                for row in conn.execute("SELECT * FROM events ORDER BY ts, id")]
    finally:
        conn.close()


class Clock:
    """A clock the tests move by hand (seconds since the epoch)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A :class:`Clock` at a fixed moment in November 2023."""
    return Clock()


def pageview(ts: int, session: str | None = None, visitor: str | None = None,
             **fields: Any) -> dict[str, Any]:
    """A stored page-view record with sensible defaults; ``fields`` override them."""
    r = empty_record()
    r.update(ts=ts, kind="pageview", name="pageview", site="www.example.com", path="/",
             browser="Firefox", os="Linux", device="desktop", lang="en", revision=1,
             purposes="", session_id=session, visitor_id=visitor)
    r.update(fields)
    return r


def seed(app: Flask, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to the app's event store as the hit path would."""
    store = app.extensions["cleargif"].events
    for r in rows:
        store.add_event(r)
