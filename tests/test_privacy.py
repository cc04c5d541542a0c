"""DESIGN 1 invariants end to end: what hits carry never reaches any file under DATA_DIR."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from collector import create_app
from tests.conftest import SITE, events, make_config

EMAIL = "jane.doe+news@example.org"
CLIENT_IP = "203.0.113.77"
FORWARDED_IP = "198.51.100.23"
IPV6 = "2001:db8:85a3::8a2e:370:7334"
CARD = "4111 1111 1111 1111"
PHONE = "+1 415-555-0132"
UUID = "123e4567-e89b-12d3-a456-426614174000"
JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0."
       "dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk")
ITSDANGEROUS = "eyJ1c2VyIjo0Mn0.ZXhhbXBsZQ.kT3kC0Ztm1Ecd7XhFqVbVpY2Zxo"
REMEMBER = "Sel3ctorAbcdefgh1234.Val1datorXyz9876543210qwerty"
QUERY_SECRET = "hunter2hunter2"
FRAGMENT = "fragsecret"
UA_NAME = "JaneDoeSpider"
API_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"

NEEDLES = [EMAIL, "jane.doe", CLIENT_IP, FORWARDED_IP, IPV6, "2001:db8", CARD.replace(" ", ""),
           "4111", "555-0132", "4155550132", UUID, JWT.split(".")[1], ITSDANGEROUS.split(".")[0],
           REMEMBER, "Sel3ctor", QUERY_SECRET, FRAGMENT, UA_NAME, API_KEY, "AppleWebKit",
           "Mozilla/5.0", "fr-CH"]


def raw_bytes(data_dir: Path) -> bytes:
    """Every byte of every file under DATA_DIR (databases, WAL and SHM files included)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


@pytest.mark.parametrize("granted", [False, True])
def test_nothing_identifying_reaches_any_file(tmp_path: Any, granted: bool) -> None:
    app = create_app(make_config(tmp_path, TRUSTED_PROXIES=1))
    client = app.test_client()
    environ = {"REMOTE_ADDR": CLIENT_IP}
    headers = {
        "Origin": SITE,
        "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                      f"Gecko) Chrome/120.0 Safari/537.36; {UA_NAME}/1.0 ({EMAIL})",
        "Accept-Language": "fr-CH, fr;q=0.9",
        "X-Forwarded-For": FORWARDED_IP,
        "Referer": f"https://www.example.com/account?email={EMAIL}",
    }
    client.set_cookie("cg_remember", REMEMBER, domain="localhost")
    client.set_cookie("session", JWT, domain="localhost")
    if granted:
        r = client.post("/consent", json={"purposes": {"analytics": True,
                                                       "personalization": True}},
                        headers=headers, environ_base=environ)
        assert r.status_code == 200
    pages = [
        f"/users/{EMAIL}/profile?secret={QUERY_SECRET}&utm_source=news&utm_campaign={EMAIL}"
        f"#{FRAGMENT}",
        f"/ip/{CLIENT_IP}/v6/{IPV6}",
        f"/pay/{CARD}/call/{PHONE}",
        f"/order/{UUID}",
        f"/reset/{JWT}",
        f"/confirm/{ITSDANGEROUS}",
        f"/keys/{API_KEY}",
        f"https://www.example.com/a?token={JWT}&utm_medium={PHONE}",
    ]
    for page in pages:
        r = client.get("/t.gif", query_string={"p": page, "r": f"https://{FORWARDED_IP}/?q="
                                               f"{EMAIL}", "e": "pageview",
                                               "utm_source": EMAIL},
                       headers=headers, environ_base=environ)
        assert r.status_code == 200
        r = client.post("/t", json={"p": page, "e": f"clicked {EMAIL} {PHONE}",
                                    "r": f"https://mail.example.net/?u={EMAIL}"},
                        headers=headers, environ_base=environ)
        assert r.status_code == 204
    stored = events(app)
    assert len(stored) == 2 * len(pages)
    if granted:
        assert all(e["session_id"] and e["visitor_id"] for e in stored)
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    assert blob, "the stores were written"
    for needle in NEEDLES:
        assert needle.encode() not in blob, needle
    paths = {e["path"] for e in stored}
    assert "/users/:email/profile" in paths
    assert "/pay/:num/call/:num" in paths


def test_client_address_not_stored_even_when_excluding(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path, EXCLUDE_NETWORKS=["203.0.113.0/24"]))
    client = app.test_client()
    client.get("/t.gif?p=/", headers={"Origin": SITE}, environ_base={"REMOTE_ADDR": CLIENT_IP})
    client.get("/t.gif?p=/", headers={"Origin": SITE},
               environ_base={"REMOTE_ADDR": "192.0.2.200"})
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    assert CLIENT_IP.encode() not in blob and b"192.0.2.200" not in blob


def test_receipts_hold_no_identifying_data(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path))
    client = app.test_client()
    client.set_cookie("cg_remember", REMEMBER, domain="localhost")
    client.post("/consent", json={"purposes": {"analytics": True}},
                headers={"Origin": SITE, "User-Agent": f"{UA_NAME} {EMAIL}"},
                environ_base={"REMOTE_ADDR": CLIENT_IP})
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    for needle in (CLIENT_IP, EMAIL, UA_NAME, REMEMBER):
        assert needle.encode() not in blob, needle


def test_email_endpoints_ignore_the_remember_cookie(tmp_path: Any) -> None:
    """/o/, /c/ and /u/ with real tokens, GET and POST, carrying cg_remember (and a
    session cookie): no Set-Cookie, and no trace of either value under DATA_DIR."""
    from sdk import Mailer
    from tests.conftest import TOKEN

    app = create_app(make_config(tmp_path))
    client = app.test_client()
    client.set_cookie("cg_remember", REMEMBER, domain="localhost")
    client.set_cookie("session", JWT, domain="localhost")
    mailer = Mailer("https://stats.example.com", [TOKEN])
    sent = time.time() - 3600
    urls = {
        "o": str(mailer.open_url("spring-2026", "news", mode="individual", recipient="r-1",
                                 sent_at=sent)),
        "c": mailer.click_url("spring-2026", "news", "cta", "https://shop.example.com/",
                              recipient="r-1", sent_at=sent),
        "u": mailer.unsubscribe_url("spring-2026", "news", recipient="r-1", sent_at=sent),
    }
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
               "Origin": SITE}
    answers = {}
    for kind, url in urls.items():
        path = url.removeprefix("https://stats.example.com")
        for method in ("GET", "POST"):
            r = client.open(path, method=method, headers=headers,
                            data="List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded",
                            environ_base={"REMOTE_ADDR": CLIENT_IP})
            answers[kind, method] = r.status_code
            assert r.headers.getlist("Set-Cookie") == [], (kind, method)
            assert REMEMBER.encode() not in r.get_data()
    # A pixel answers the GIF whatever the method (DESIGN 3); POST /o/ records nothing.
    assert answers == {("o", "GET"): 200, ("o", "POST"): 200, ("c", "GET"): 302,
                       ("c", "POST"): 405, ("u", "GET"): 200, ("u", "POST"): 200}
    assert [e["kind"] for e in events(app)] == ["open", "click"]
    assert app.extensions["cleargif"].identity.query(
        "SELECT list, recipient FROM suppressions") == [("news", "r-1")]
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    assert blob, "the stores were written"
    for needle in (REMEMBER, "Sel3ctor", "Val1dator", JWT.split(".")[1], CLIENT_IP):
        assert needle.encode() not in blob, needle
