"""The collector on PostgreSQL, as several hosts run it: two roles in one database, the
same behaviour as on SQLite, and two ``cleargif serve`` processes sharing the database."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask

from tests.conftest import SECRET, SITE, TOKEN, make_app, make_config, wait_for
from tests.pgserver import TempPostgres

pytestmark = pytest.mark.postgres
BROWSER = ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")
_names = itertools.count()


@pytest.fixture
def urls(postgres: TempPostgres) -> tuple[str, str]:
    """``(EVENTS_URL, IDENTITY_URL)`` of a fresh database set up with two roles."""
    return postgres.cleargif_database(f"collector{next(_names)}")


@pytest.fixture
def app(tmp_path: Any, urls: tuple[str, str]) -> Iterator[Flask]:
    app = make_app(make_config(tmp_path, EVENTS_URL=urls[0], IDENTITY_URL=urls[1]))
    yield app
    app.extensions["cleargif"].close()


def test_hits_consent_export_and_subjects(app: Flask, postgres: TempPostgres) -> None:
    client = app.test_client()
    consent = client.post("/consent", json={"purposes": {"analytics": True,
                                                         "personalization": True}},
                          headers={"Origin": SITE})
    assert consent.status_code == 200
    for path in ("/a", "/a", "/b"):
        assert client.get(f"/t.gif?p={path}", headers={"Origin": SITE}).status_code == 200
    for _ in range(6):
        app.test_client().get("/t.gif?p=/a", headers={"Origin": SITE})  # cookieless
    runner = app.test_cli_runner()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    out = runner.invoke(args=["export", "--since", today, "--until", today, "--by", "path",
                              "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["path"]: r for r in json.loads(out.stdout)["rows"]}
    assert rows["/a"] == {"path": "/a", "hits": 8, "visits": 1, "returning_visitors": 1}
    assert "Using the events store postgresql://" in out.stderr
    assert "events-collector" not in out.stderr  # no password in what is printed
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0
    visitor = client.get_cookie("cg_vid").value.split(".")[0]
    exported = runner.invoke(args=["subject", "export", "--visitor", visitor, "--reason",
                                   "request"])
    assert exported.exit_code == 0 and len(json.loads(exported.stdout)["events"]) == 3
    erased = runner.invoke(args=["subject", "erase", "--visitor", visitor, "--reason",
                                 "request", "--yes"])
    assert erased.exit_code == 0 and "events deleted: 3" in erased.stdout
    assert runner.invoke(args=["purge", "--dry-run"]).exit_code == 0
    assert app.test_client().get("/healthz").status_code == 200


def test_the_events_role_cannot_read_identity_tables(app: Flask, urls: tuple[str, str]
                                                     ) -> None:
    app.test_client().post("/consent", json={"purposes": {"analytics": True}},
                           headers={"Origin": SITE})
    with psycopg.connect(urls[0]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM cleargif_identity.receipts")
    with psycopg.connect(urls[1]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM cleargif_identity.receipts"
                            ).fetchone() == (1,)


class Collector:
    """``cleargif serve`` on PostgreSQL, standing for one host of several."""

    def __init__(self, tmp: Any, urls: tuple[str, str], name: str) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
        env.update(CLEARGIF_DATA_DIR=str(tmp / name), CLEARGIF_ALLOWED_ORIGINS=SITE,
                   CLEARGIF_EVENTS_URL=urls[0], CLEARGIF_IDENTITY_URL=urls[1],
                   CLEARGIF_SECRET_KEYS=json.dumps([SECRET]),
                   CLEARGIF_TOKEN_KEYS=json.dumps([TOKEN]),
                   # Every client here is 127.0.0.1: over a rate limit a hit would still
                   # be answered 200 but not stored, and "acknowledged" would mean nothing.
                   CLEARGIF_RATE_LIMITS=json.dumps({"hits": "off"}))
        self.proc = subprocess.Popen([sys.executable, "-m", "collector", "serve", "--port",
                                      str(self.port), "--workers", "2"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        wait_for(lambda: self.status("/healthz") == 200, 30, f"collector {name}")

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Origin": SITE, **(headers or {})})
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        return resp

    def status(self, path: str) -> int:
        try:
            return self.request("GET", path).status
        except OSError:
            return 0

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.communicate(timeout=30)[1] or ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored_paths(events_url: str) -> list[str]:
    with psycopg.connect(events_url) as conn:
        return [p for (p,) in conn.execute("SELECT path FROM cleargif_events.events")]


@pytest.mark.slow
def test_two_collectors_share_one_database(tmp_path: Any, urls: tuple[str, str]) -> None:
    first = Collector(tmp_path, urls, "host-a")
    second = Collector(tmp_path, urls, "host-b")
    try:
        # A consent given through one host is honoured by the other: same keys.
        answer = first.request("POST", "/consent", {"purposes": {"analytics": True}},
                               {"Content-Type": "application/json"})
        cookies = [v.split(";")[0] for k, v in answer.getheaders() if k == "Set-Cookie"]
        jar = "; ".join(cookies)
        state = second.request("GET", "/consent", headers={"Cookie": jar})
        assert state.status == 200
        conn = http.client.HTTPConnection("127.0.0.1", second.port, timeout=10)
        conn.request("GET", "/consent", headers={"Cookie": jar, "Origin": SITE})
        assert json.loads(conn.getresponse().read())["purposes"]["analytics"] is True
        conn.close()
        # Hits through both, counted once each; kill -9 one host under load.
        ok: list[str] = []
        lock = threading.Lock()

        def client(host: Collector, n: int) -> None:
            for i in range(120):
                path = f"/both/{n}/{i}"
                try:
                    # Cookieless, as most visitors: each hit may be anyone (one browser's
                    # hits would be one person, suppressed in the export).
                    status = host.request("GET", f"/t.gif?p={path}",
                                          headers={"User-Agent": BROWSER}).status
                except (OSError, http.client.HTTPException):
                    continue  # the host died under this request (even mid-answer)
                if status == 200:
                    with lock:
                        ok.append(path)

        threads = [threading.Thread(target=client, args=(host, n))
                   for n, host in enumerate((first, second, first, second))]
        for t in threads:
            t.start()
        wait_for(lambda: len(ok) >= 40, 30, "the first hits")
        os.killpg(first.proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(60)
        stored = stored_paths(urls[0])
        assert len(ok) > 200 and not set(ok) - set(stored)  # no acknowledged hit lost
        assert len(stored) == len(set(stored))  # and none stored twice
        # An export through the surviving host sees the hits of both.
        today = time.strftime("%Y-%m-%d", time.gmtime())
        token_out = subprocess.run(
            [sys.executable, "-m", "collector", "token", "new", "--scope", "aggregate",
             "--name", "analysts"], env={**os.environ, "CLEARGIF_EVENTS_URL": urls[0],
                                         "CLEARGIF_IDENTITY_URL": urls[1],
                                         "CLEARGIF_SECRET_KEYS": json.dumps([SECRET]),
                                         "CLEARGIF_TOKEN_KEYS": json.dumps([TOKEN]),
                                         "CLEARGIF_DATA_DIR": str(tmp_path / "cli")},
            capture_output=True, text=True, timeout=60)
        assert token_out.returncode == 0, token_out.stderr
        conn = http.client.HTTPConnection("127.0.0.1", second.port, timeout=10)
        conn.request("GET", f"/api/v1/aggregate?since={today}&until={today}&by=",
                     headers={"Authorization": f"Bearer {token_out.stdout.strip()}"})
        body = json.loads(conn.getresponse().read())
        conn.close()
        assert body["rows"] and body["rows"][0]["hits"] == len(stored), body
    finally:
        log = second.stop()
        first.stop()
    # The start-up line names where the hits go, not a data folder they never reach.
    assert "stores postgresql://" in log and "data in" not in log, log
