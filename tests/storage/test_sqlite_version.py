"""An SQLite too old for the stores is refused when they are opened, with a sentence
naming the setting and what to do, not with a query that fails on the first export."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from collector.errors import ConfigError
from collector.storage import open_events, open_identity
from collector.storage.sqlite import _has_json, check_sqlite


@pytest.mark.parametrize(("version", "refused"), [
    ((3, 24, 0), True),
    ((3, 29, 9), True),
    ((3, 30, 0), False),
    ((3, 45, 1), False),
])
def test_the_oldest_sqlite(version: tuple[int, int, int], refused: bool) -> None:
    if refused:
        with pytest.raises(ConfigError, match=r"3\.30 or newer") as raised:
            check_sqlite("EVENTS_URL", version)
        assert raised.value.key == "EVENTS_URL"
        assert ".".join(map(str, version)) in str(raised.value)
    else:
        check_sqlite("EVENTS_URL", version)


def test_opening_a_store_checks_the_library(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 22, 0))
    with pytest.raises(ConfigError, match="IDENTITY_URL names an SQLite file"):
        open_identity(f"sqlite:///{tmp_path}/identity.db")
    with pytest.raises(ConfigError, match="EVENTS_URL names an SQLite file"):
        open_events(f"sqlite:///{tmp_path}/events.db")


def test_an_sqlite_without_json_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoJSON:
        def execute(self, sql: str) -> Any:
            raise sqlite3.OperationalError("no such function: json_array_length")

        def close(self) -> None:
            pass

    _has_json.cache_clear()
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: NoJSON())
    try:
        with pytest.raises(ConfigError, match="lacks its JSON functions"):
            check_sqlite("EVENTS_URL", (3, 35, 0))
    finally:
        _has_json.cache_clear()
