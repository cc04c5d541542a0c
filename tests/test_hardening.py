"""Production hardening in one process (DESIGN 3): rate limits, headers, the collector's
own origin, /metrics, failure floods, the purge's retries, logs without client data and
the worker's body deadline."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from collector import create_app
from collector.errors import ConfigError
from sdk import TokenCodec
from tests.conftest import SITE, TOKEN, make_config, sql, sql_write

METRICS = "metrics-token-0123456789abcdef"
GIF_PREFIX = b"GIF89a"


def app_with(tmp_path: Any, **config: Any) -> Any:
    app = create_app(make_config(tmp_path, **config))
    col = app.extensions["cleargif"]
    col.events.ping()
    col.identity.ping()
    return app


def dropped(app: Any) -> dict[str, int]:
    return {r: n for r, n in sql(app, "events", "SELECT reason, SUM(n) FROM dropped GROUP BY "
                                                "reason")}


# --- rate limits ----------------------------------------------------------------------

def test_over_limit_hits_answer_the_gif_uncounted(tmp_path: Any) -> None:
    app = app_with(tmp_path, RATE_LIMITS={"hits": "2/minute"})
    client = app.test_client()
    for i in range(4):
        r = client.get(f"/t.gif?p=/p{i}", headers={"Origin": SITE})
        assert r.status_code == 200 and r.data.startswith(GIF_PREFIX)
    assert [p for (p,) in sql(app, "events", "SELECT path FROM events ORDER BY id")] == \
        ["/p0", "/p1"]
    assert dropped(app) == {"rate": 2}
    # POST /t is a JSON endpoint: 429 with Retry-After, counted as a drop too.
    r = client.post("/t", json={"p": "/beacon"}, headers={"Origin": SITE})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "error" in r.json
    assert dropped(app) == {"rate": 3}
    # Another address has a budget of its own.
    r = client.get("/t.gif?p=/other", headers={"Origin": SITE},
                   environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 200
    assert ("/other",) in sql(app, "events", "SELECT path FROM events")


def test_email_hits_share_the_hits_limit(tmp_path: Any) -> None:
    app = app_with(tmp_path, RATE_LIMITS={"hits": "1/minute"})
    client = app.test_client()
    codec = TokenCodec([TOKEN])
    opened = codec.dump_open("spring", "news")
    assert client.get(f"/o/{opened}.gif").status_code == 200
    assert client.get(f"/o/{opened}.gif").status_code == 200  # still the GIF
    click = codec.dump_click("spring", "news", "cta", "https://shop.example/x")
    r = client.get(f"/c/{click}")
    assert r.status_code == 302  # the reader still gets there
    assert sql(app, "events", "SELECT COUNT(*) FROM events")[0][0] == 1
    assert dropped(app) == {"rate": 2}


def test_consent_changes_and_the_api_answer_429(tmp_path: Any) -> None:
    app = app_with(tmp_path, RATE_LIMITS={"consent": "1/minute", "api": "1/minute"})
    client = app.test_client()
    body = {"purposes": {"analytics": True}}
    assert client.post("/consent", json=body, headers={"Origin": SITE}).status_code == 200
    r = client.post("/consent", json=body, headers={"Origin": SITE})
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert r.headers["Access-Control-Allow-Origin"] == SITE  # the page can read why
    assert client.get("/consent").status_code == 200  # reading the choice is not limited
    assert client.get("/api/v1/aggregate").status_code == 401
    r = client.get("/api/v1/aggregate")
    assert r.status_code == 429 and r.headers["Retry-After"]


def test_rate_limits_off(tmp_path: Any) -> None:
    app = app_with(tmp_path, RATE_LIMITS={"hits": "off"})
    client = app.test_client()
    for i in range(150):
        assert client.get(f"/t.gif?p=/p{i}", headers={"Origin": SITE}).status_code == 200
    assert sql(app, "events", "SELECT COUNT(*) FROM events")[0][0] == 150


# --- headers and origins --------------------------------------------------------------

def test_nosniff_everywhere_and_no_framing(tmp_path: Any) -> None:
    app = app_with(tmp_path, DEMO=True)
    client = app.test_client()
    codec = TokenCodec([TOKEN])
    unsub = codec.dump_unsubscribe("spring", "news", recipient="r-1")
    answers = {
        "pixel": client.get("/t.gif?p=/x", headers={"Origin": SITE}),
        "pixel, other method": client.post("/t.gif"),
        "beacon": client.post("/t", json={"p": "/x"}, headers={"Origin": SITE}),
        "consent": client.get("/consent"),
        "config": client.get("/consent/config"),
        "health": client.get("/healthz"),
        "snippet": client.get("/static/js/cleargif.js"),
        "unsubscribe page": client.get(f"/u/{unsub}"),
        "broken link page": client.get("/c/broken"),
        "not found": client.get("/nothing-here"),
        "method not allowed": client.put("/consent/config"),
        "api": client.get("/api/v1/aggregate"),
        "demo": client.get("/"),
    }
    for r in answers.values():
        r.close()
    for name, r in answers.items():
        assert r.headers.get("X-Content-Type-Options") == "nosniff", name
        csp = r.headers.get("Content-Security-Policy", "")
        if name == "demo":
            assert "frame-ancestors 'self'" in csp
        else:
            assert "frame-ancestors 'none'" in csp, (name, csp)
    assert answers["unsubscribe page"].mimetype == "text/html"
    assert answers["broken link page"].status_code == 400


def test_public_url_is_the_collectors_own_origin(tmp_path: Any) -> None:
    app = app_with(tmp_path, PUBLIC_URL="https://stats.example.com/", ALLOWED_ORIGINS=[])
    client = app.test_client()
    body = {"purposes": {"analytics": True}}
    r = client.post("/consent", json=body, headers={"Origin": "https://stats.example.com"})
    assert r.status_code == 200
    # The Host header names whatever the client likes: it is not the collector's origin.
    r = client.post("/consent", json=body, headers={"Origin": "http://evil.test",
                                                     "Host": "evil.test"})
    assert r.status_code == 403
    r = client.get("/consent", headers={"Origin": "http://localhost"})
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(("config", "fragment"), [
    ({"TRUSTED_PROXIES": 1}, "PUBLIC_URL must be set when TRUSTED_PROXIES"),
    ({"PUBLIC_URL": "stats.example.com"}, "PUBLIC_URL must be the collector's URL"),
    ({"PUBLIC_URL": "ftp://stats.example.com"}, "PUBLIC_URL must be the collector's URL"),
    ({"PUBLIC_URL": "https://stats.example.com/?x=1"}, "PUBLIC_URL must be"),
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
])
def test_bad_public_url_and_metrics_token(tmp_path: Any, config: dict[str, Any],
                                          fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_app(make_config(tmp_path, **config))
    assert fragment in str(err.value)


def test_public_url_keeps_a_port_and_drops_a_default_one(tmp_path: Any) -> None:
    for given, origin in (("https://stats.example.com:8443/x", "https://stats.example.com:8443"),
                          ("https://Stats.Example.com:443", "https://stats.example.com")):
        app = create_app(make_config(tmp_path, PUBLIC_URL=given))
        assert app.config["PUBLIC_URL"] == origin


def test_referer_from_the_issue_is_refused(client: Any, app: Any) -> None:
    r = client.post("/consent", json={"purposes": {"analytics": True}},
                    headers={"Referer": "http://evil.test/x"})
    assert r.status_code == 403 and "evil.test/x" not in r.json["error"]
    assert not list(app.extensions["cleargif"].identity.receipt_rows())


# --- /metrics -------------------------------------------------------------------------

def test_metrics_off_without_a_token(client: Any) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_with_a_token(tmp_path: Any) -> None:
    app = app_with(tmp_path, METRICS_TOKEN=METRICS, SITES=["www.example.com"])
    client = app.test_client()
    client.post("/consent", json={"purposes": {"analytics": True}}, headers={"Origin": SITE})
    client.get("/t.gif?p=/secret-page?email=a@b.example", headers={"Origin": SITE})
    client.get("/t.gif?p=https://unlisted.example/x")
    client.get("/t.gif?p=/x", headers={"Origin": SITE, "Sec-Purpose": "prefetch"})
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-123456789"}
                      ).status_code == 401
    r = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert "cleargif_hits_counted_total 1.0" in text
    assert 'cleargif_hits_dropped_total{reason="site"} 1.0' in text
    assert 'cleargif_hits_dropped_total{reason="prefetch"} 1.0' in text
    assert 'cleargif_store_commit_seconds_count{store="events"} 1.0' in text
    assert 'cleargif_consent_decisions_total{source="dialog"} 1.0' in text
    for private in ("secret-page", "email", "127.0.0.1", "unlisted", "/x"):
        assert private not in text, private


def test_metrics_count_5xx_by_route(tmp_path: Any) -> None:
    app = app_with(tmp_path, METRICS_TOKEN=METRICS)
    client = app.test_client()
    client.get("/t.gif?p=/warm", headers={"Origin": SITE})
    sql_write(app, "events", "DROP TABLE events")
    assert client.get("/t.gif?p=/x", headers={"Origin": SITE}).status_code == 503
    assert client.post("/t", json={"p": "/x"}, headers={"Origin": SITE}).status_code == 503
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"}
                      ).get_data(as_text=True)
    assert 'cleargif_http_5xx_total{route="tracking.pixel"} 1.0' in text
    assert 'cleargif_http_5xx_total{route="tracking.beacon"} 1.0' in text


# --- failures -------------------------------------------------------------------------

def test_a_flood_of_store_failures_is_a_few_lines(tmp_path: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    app = app_with(tmp_path)
    client = app.test_client()
    client.get("/t.gif?p=/warm", headers={"Origin": SITE})
    sql_write(app, "events", "DROP TABLE events")
    with caplog.at_level(logging.ERROR, logger="cleargif"):
        for i in range(60):
            r = client.get(f"/t.gif?p=/x{i}", headers={"Origin": SITE})
            assert r.status_code == 503
    lines = [rec for rec in caplog.records if rec.name == "cleargif"]
    assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]


def test_api_store_failures_are_503_without_a_path(tmp_path: Any) -> None:
    from collector.privacy import apitokens

    app = app_with(tmp_path)
    col = app.extensions["cleargif"]
    token = apitokens.create(col.identity, "sender", frozenset({"sender"}), 1)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/campaigns/spring/sends", json={"count": 3},
                       headers=auth).status_code == 200
    sql_write(app, "events", "DROP TABLE campaign_sends")
    sql_write(app, "identity", "DROP TABLE suppressions")
    for path, body in (("/api/v1/campaigns/spring/sends", {"count": 3}),
                       ("/api/v1/suppressions",
                        {"suppressions": [{"list": "news", "recipient": "r-1"}]})):
        r = client.post(path, json=body, headers=auth)
        assert r.status_code == 503 and r.headers["Retry-After"], (path, r.json)
        assert str(tmp_path) not in r.get_data(as_text=True)
    r = client.post("/consent", json={"purposes": {}}, headers={"Origin": SITE})
    assert r.status_code == 200  # the receipts table is still there


def test_consent_503_has_retry_after(tmp_path: Any) -> None:
    app = app_with(tmp_path)
    client = app.test_client()
    sql_write(app, "identity", "DROP TABLE receipts")
    for method in ("POST", "DELETE"):
        r = client.open("/consent", method=method, json={"purposes": {"analytics": True}},
                        headers={"Origin": SITE})
        assert r.status_code == 503 and r.headers["Retry-After"], method
        assert str(tmp_path) not in r.get_data(as_text=True)


def test_the_purge_thread_retries_with_back_off(caplog: pytest.LogCaptureFixture) -> None:
    from collector.server.purge import PurgeNotStarted, start_daily_purge

    calls: list[float] = []
    done = threading.Event()

    def run(data_dir: str, env: Any) -> int | None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise PurgeNotStarted("Resource temporarily unavailable")
        if len(calls) == 2:
            return 1  # the purge ran and failed
        done.set()
        return 0

    with caplog.at_level(logging.ERROR, logger="cleargif"):
        stop = start_daily_purge("unused", {}, every=3600, run=run, first_retry=0.05,
                                 max_retry=1.0)
        assert done.wait(5)
        stop.set()
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not start (Resource temporarily unavailable); trying again in" in m
               for m in messages), messages
    assert any("failed (exit status 1); trying again in" in m for m in messages), messages
    assert calls[2] - calls[1] >= calls[1] - calls[0] * 1.0  # the wait doubled


def test_run_purge_once_reports_a_child_that_cannot_start(monkeypatch: Any) -> None:
    import subprocess

    from collector.server import purge

    def cannot(*args: Any, **kwargs: Any) -> Any:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "run", cannot)
    with pytest.raises(purge.PurgeNotStarted):
        purge.run_purge_once("unused", {})


# --- logs -----------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "leak"), [
    ("Invalid request from ip=203.0.113.9: Invalid HTTP request line", "203.0.113.9"),
    ("connection from 2001:db8::17 reset", "2001:db8::17"),
    ("Error handling request GET /t.gif?email=a@b.example", "a@b.example"),
    ("bad header User-Agent: JaneDoe-Spider/1.0", "JaneDoe"),
    ("from ::ffff:198.51.100.4 port 1", "198.51.100.4"),
])
def test_scrub_line(line: str, leak: str) -> None:
    from collector.logs import scrub_line

    assert leak not in scrub_line(line)


def test_scrub_line_keeps_times_and_versions() -> None:
    from collector.logs import scrub_line

    line = "at 12:30:45 gunicorn 23.0.1 failed: disk full"
    assert scrub_line(line) == line


def test_private_logger_rewrites_gunicorn_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from gunicorn.config import Config

    from collector.server.logger import PrivateLogger

    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("loglevel", "warning")
    log = PrivateLogger(cfg)
    for _ in range(5):
        log.warning("Invalid request from ip=192.0.2.1: Invalid HTTP request line: "
                    "'GET /t.gif?q=secret HTTP/1.1'")
    try:
        raise ValueError("boom /t.gif?email=a@b.example from 192.0.2.1")
    except ValueError:
        log.exception("Error handling request %s %s", "GET", "/t.gif?email=a@b.example")
    log.access(None, None, {"REMOTE_ADDR": "192.0.2.1"}, None)
    err = capsys.readouterr().err
    for leak in ("192.0.2.1", "secret", "a@b.example"):
        assert leak not in err, err
    assert err.count("Refused a request because its request line is invalid") == 1, err
    assert "Error handling a request" in err and "Traceback" in err


def test_app_log_records_are_scrubbed(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = app_with(tmp_path)
    with caplog.at_level(logging.WARNING):
        app.logger.warning("from %s asked %s", "192.0.2.44", "/x?email=a@b.example")
        logging.getLogger("cleargif").warning("peer 2001:db8::5 gone")
    text = caplog.text
    assert "192.0.2.44" not in text and "a@b.example" not in text and "2001:db8::5" not in text


def test_a_refused_sites_origin_is_logged_as_it_is(tmp_path: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = app_with(tmp_path).test_client()
    with caplog.at_level(logging.WARNING, logger="cleargif"):
        client.get("/consent", headers={"Origin": "http://192.0.2.80:8100"})
    assert "Refused a cross-origin request from http://192.0.2.80:8100," in caplog.text


# --- the worker's body deadline -------------------------------------------------------

def test_a_body_that_does_not_arrive_in_time_is_a_timeout() -> None:
    gevent = pytest.importorskip("gevent")
    from collector.server.worker import BodyDeadline, BodyTimeout

    class Trickling:
        def read(self, size: Any = None) -> bytes:
            gevent.sleep(5)
            return b"{}"

    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:  # what the views answer 400 for
            seen.append(exc)
        start_response("400 Bad Request", [])
        return [b""]

    started = time.monotonic()
    BodyDeadline(app, seconds=0.2)({"wsgi.input": Trickling(), "CONTENT_LENGTH": "2"},
                                   lambda *a: None)
    assert time.monotonic() - started < 2
    assert len(seen) == 1 and isinstance(seen[0], BodyTimeout)


def test_serve_uses_the_gevent_worker_and_the_private_logger() -> None:
    from collector.server import gunicorn_options

    options = gunicorn_options("0.0.0.0", 8000, 2)
    assert options["worker_class"] == "collector.server.worker.CollectorWorker"
    assert options["logger_class"] == "collector.server.logger.PrivateLogger"
    assert options["accesslog"] is None and options["keepalive"] > 0
    json.dumps({k: v for k, v in options.items() if not callable(v)})
