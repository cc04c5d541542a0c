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
    ({}, 200),  # no browser involved: an API client
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
