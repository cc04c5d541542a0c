"""CORS and the Origin rules of consent-changing requests (DESIGN 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SITE


@pytest.mark.parametrize("path", ["/consent", "/consent/config", "/t"])
def test_preflight_allowed(client: Any, path: str) -> None:
    r = client.options(path, headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == SITE
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    assert "Origin" in r.headers["Vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://www.example.com",
                                    "https://www.example.com:8443", "null",
                                    "https://www.example.com.evil.example"])
def test_preflight_foreign_gets_no_cors(client: Any, origin: str) -> None:
    r = client.options("/consent", headers={"Origin": origin})
    assert r.status_code == 204
    assert "Access-Control-Allow-Origin" not in r.headers


def test_get_consent_cors_for_allowed_only(client: Any) -> None:
    r = client.get("/consent", headers={"Origin": SITE})
    assert r.headers["Access-Control-Allow-Origin"] == SITE
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = client.get("/consent", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Origin" in r.headers["Vary"]


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": SITE}, 200),
    ({"Origin": "http://localhost"}, 200),  # the collector's own origin
    ({"Origin": "https://evil.example"}, 403),
    ({"Origin": "null"}, 403),
    ({"Origin": "null", "Sec-Fetch-Site": "cross-site"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Sec-Fetch-Site": "same-origin"}, 403),
    ({"Referer": f"{SITE}/page"}, 200),  # no browser involved: an API client naming its site
    ({}, 403),  # nothing says where it comes from
    ({"Referer": "http://evil.test/x"}, 403),
    ({"Referer": "not a url"}, 403),
    ({"Referer": f"{SITE}/page", "Sec-Fetch-Site": "cross-site"}, 403),
])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_consent_change_origin_rules(client: Any, app: Any, headers: dict[str, str],
                                     status: int, method: str) -> None:
    r = client.open("/consent", method=method, json={"purposes": {"analytics": True}},
                    headers=headers)
    assert r.status_code == status, r.json
    if status == 403:
        assert r.json["error"] and r.headers.getlist("Set-Cookie") == []
        assert list(app.extensions["cleargif"].identity.receipt_rows()) == []


def test_beacon_cors(client: Any) -> None:
    r = client.post("/t", json={"p": "/"}, headers={"Origin": SITE})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == SITE
    r = client.post("/t", json={"p": "/"}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


# --- a refused origin is said in the collector's log ----------------------------------------


def test_refused_origins_are_said_once_an_hour_each() -> None:
    from collector.extension import RefusedOrigins

    notices = RefusedOrigins(limit=3, period=3600)
    first = notices.notice("http://localhost:8100", 0.0)
    assert first is not None and "http://localhost:8100" in first
    assert "CLEARGIF_ALLOWED_ORIGINS=http://localhost:8100" in first
    assert notices.notice("http://localhost:8100", 10.0) is None  # said within the hour
    assert notices.notice("https://a.example", 20.0) is not None  # another origin is said
    said = notices.notice("bad\norigin", 30.0)  # a line break cannot forge a log line
    assert said is not None and "\n" not in said and "bad" not in said
    assert notices.notice("https://b.example", 40.0) is None  # the hour's limit
    assert notices.notice("http://localhost:8100", 3600.0) is not None  # a new hour


@pytest.mark.parametrize(("method", "path"), [("GET", "/consent/config"), ("GET", "/consent"),
                                              ("POST", "/t"), ("OPTIONS", "/consent")])
def test_a_refused_origin_is_logged_once(client: Any, caplog: pytest.LogCaptureFixture,
                                         method: str, path: str) -> None:
    headers = {"Origin": "http://localhost:8100"}
    with caplog.at_level("WARNING", logger="cleargif"):
        for _ in range(3):
            client.open(path, method=method, headers=headers, data='{"p": "/"}')
        client.get("/consent/config", headers={"Origin": SITE})  # allowed: nothing to say
    lines = [r.getMessage() for r in caplog.records if r.name == "cleargif"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Refused a cross-origin request from http://localhost:8100")
    assert "ALLOWED_ORIGINS" in lines[0]


def test_without_demo_the_root_says_how_to_show_it(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 404 and "--demo" in r.json["error"]
