"""DESIGN 1 invariants end to end: what hits carry never reaches any file under DATA_DIR."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from collector import create_app
from tests.conftest import SITE, events, make_config, sql

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

# Long enough not to turn up by chance among random ids, MACs and timestamps.
NEEDLES = [EMAIL, "jane.doe", CLIENT_IP, FORWARDED_IP, IPV6, "2001:db8", CARD.replace(" ", ""),
           "4111 1111", "41111111", "555-0132", "4155550132", UUID, JWT.split(".")[1],
           ITSDANGEROUS.split(".")[0], REMEMBER, "Sel3ctor", QUERY_SECRET, FRAGMENT, UA_NAME,
           API_KEY, "AppleWebKit", "Mozilla/5.0", "fr-CH"]


def raw_bytes(data_dir: Path) -> bytes:
    """Every byte of every file under DATA_DIR (databases, WAL and SHM files included)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


@pytest.mark.parametrize("granted", [False, True])
def test_nothing_identifying_reaches_any_file(tmp_path: Any, granted: bool) -> None:
    app = create_app(make_config(tmp_path, TRUSTED_PROXIES=1,
                                 PUBLIC_URL="https://stats.example.com"))
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
    # GET /u/ of a recipient tracked individually is recorded for burst detection.
    assert [(e["kind"], e["name"]) for e in events(app)] == [
        ("open", "open"), ("click", "click"), ("click", "unsubscribe_page")]
    assert sql(app, "identity",
        "SELECT list, recipient FROM suppressions") == [("news", "r-1")]
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    assert blob, "the stores were written"
    for needle in (REMEMBER, "Sel3ctor", "Val1dator", JWT.split(".")[1], CLIENT_IP):
        assert needle.encode() not in blob, needle


# --- shapes the privacy review found stored, end to end ------------------------------------

# A page path exactly as long as the snippet's cap, ending in the start of an address: the
# snippet cut it there, and "jdoe.xy@hid" no longer looks like one.
SNIPPET_CUT = "/" + "a/" * 506 + "jdoe.xy@hid"

# (how the hit is sent, its fields, what must not reach any file)
REVIEW_HITS: list[tuple[str, dict[str, str], list[str]]] = [
    ("post", {"p": "/x", "utm_source": "4111+1111+1111+1111"}, ["4111"]),
    ("post", {"p": "/pay/4111:1111:1111:1111"}, ["4111"]),
    ("post", {"p": "/x", "e": "card 4111\u20131111\u20131111\u20131111"}, ["4111"]),
    ("post", {"p": "/x", "e": "4111,1111,1111,1111"}, ["4111"]),
    ("post", {"p": "/x", "utm_campaign": "call 0049/30/1234567"}, ["1234567"]),
    ("post", {"p": "/share/jdoe\u034f@hidden.example"}, ["jdoe", "hidden"]),
    ("post", {"p": "/x", "utm_medium": "jdoe\u2066@hidden.example"}, ["jdoe", "hidden"]),
    ("post", {"p": "/x", "e": "jdoe@hidden\u3002example"}, ["jdoe", "hidden"]),
    ("post", {"p": '/u/"jdoe.x"@hidden.example'}, ["jdoe", "hidden"]),
    ("post", {"p": "/u/jdoe}@hidden.example"}, ["jdoe", "hidden"]),
    ("post", {"p": "/share/jdoe%25252540hidden.example"}, ["jdoe", "hidden"]),
    ("get", {"p": "/share/jdoe%2525252540hidden.example"}, ["jdoe", "hidden"]),
    ("get", {"p": "/search%253Fname%253DJdoe%2BRoe%2526dob%253D1985-04-12"},
     ["Jdoe", "Roe", "1985"]),
    ("post", {"p": "/" + "a1" * 1018 + "/jdoe.x@gmail.example"}, ["jdoe", "gmail"]),
    ("post", {"p": SNIPPET_CUT}, ["jdoe"]),
    ("post", {"p": "/x", "utm_source": "a1" * 193 + " jdoe.x@gmail.example"},
     ["jdoe", "gmail"]),
    ("post", {"p": "/users/./jdoe-roe"}, ["jdoe"]),
    ("post", {"p": "/Users/jdoe-roe"}, ["jdoe"]),
    ("post", {"p": "/users;v=1/jdoe-roe"}, ["jdoe"]),
]

# Click targets whose host is an address or holds a phone number (DESIGN 5: site).
CLICK_TARGETS = [
    ("http://192.168.1.77/welcome", ":ip", ["192.168.1.77"]),
    ("http://[2001:db8::77]/welcome", ":ip", ["2001:db8::77"]),
    ("https://shop-4155550132.example.com/x", "shop-:num.example.com", ["4155550132"]),
]


def test_review_shapes_reach_no_file(tmp_path: Any) -> None:
    from sdk import Mailer
    from tests.conftest import TOKEN

    app = create_app(make_config(tmp_path, PATH_PATTERNS=["/users/*"]))
    client = app.test_client()
    headers = {"Origin": SITE, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}
    assert len(SNIPPET_CUT) == 1024
    for method, fields, _ in REVIEW_HITS:
        if method == "get":
            r = client.get("/t.gif", query_string=fields, headers=headers)
            assert r.status_code == 200
        else:
            r = client.post("/t", json=fields, headers=headers)
            assert r.status_code == 204
    mailer = Mailer("https://stats.example.com", [TOKEN])
    sent = time.time() - 3600
    for target, _, _ in CLICK_TARGETS:
        url = mailer.click_url("spring-2026", "news", "cta", target, sent_at=sent)
        r = client.get(url.removeprefix("https://stats.example.com"), headers=headers)
        assert r.status_code == 302 and r.headers["Location"] == target
    stored = events(app)
    assert len(stored) == len(REVIEW_HITS) + len(CLICK_TARGETS)
    clicks = [e for e in stored if e["kind"] == "click"]
    assert [e["site"] for e in clicks] == [site for _, site, _ in CLICK_TARGETS]
    paths = [e["path"] for e in stored if e["kind"] == "pageview"]
    assert paths.count("/users/*") == 3
    assert "/search" in paths
    # Short needles ("Roe", "1985") could turn up by chance among random ids, MACs and
    # timestamps in the raw files: those are looked for in the stored text fields, the
    # longer ones in every byte of every file too.
    text = json.dumps([{k: v for k, v in e.items()
                        if k not in ("ts", "session_id", "visitor_id")} for e in stored])
    app.extensions["cleargif"].close()
    blob = raw_bytes(tmp_path / "data")
    for needle in {n for *_, needles in REVIEW_HITS + CLICK_TARGETS for n in needles}:
        assert needle not in text, needle
        if len(needle) >= 6:
            assert needle.encode() not in blob, needle


def test_the_snippet_cap_is_the_one_the_collector_assumes() -> None:
    import re

    from collector.ingest.records import SNIPPET_CAP

    # The readable source: the served file is built from it, with shorter names.
    script = (Path(__file__).resolve().parents[1] / "static" / "js" / "src" / "cleargif.js")
    match = re.search(r"const CAP = (\d+);", script.read_text(encoding="utf-8"))
    assert match is not None and int(match.group(1)) == SNIPPET_CAP


# --- record helpers: cut values, the final form of utm values, click hosts ----------------


def at_cap(prefix: str) -> str:
    """A page exactly as long as the snippet's cut, as a cut one arrives."""
    return prefix + "x" * (1024 - len(prefix))


@pytest.mark.parametrize(
    ("page", "path", "utm"),
    [
        ("/a/b?utm_source=news", "/a/b", {"utm_source": "news"}),
        ("/" + "a" * 1022, "/" + "a" * 1022, {}),  # under the snippet's cap: as sent
        # Over the server's cap: the partial last segment goes.
        ("/" + "a1" * 1018 + "/jane.doe@gmail.com", "/" + "a1" * 1018 + "/", {}),
        # At the snippet's cap: it may have been cut there.
        (SNIPPET_CUT, SNIPPET_CUT.removesuffix("jdoe.xy@hid"), {}),
        ("/" + "a" * 1023, "/", {}),
        # A cut in the query drops the last utm pair only.
        (at_cap("/a?utm_source=news&utm_campaign="), "/a", {"utm_source": "news"}),
        (at_cap("/a?utm_campaign="), "/a", {}),
        # A cut in the fragment changes nothing: the fragment is never kept.
        (at_cap("/a?utm_source=news#"), "/a", {"utm_source": "news"}),
        (at_cap("https://www.example.com/p/"), "/p/", {}),
        # Longer than the snippet's cut and under the server's cap: it came whole.
        ("/p/" + "b" * 1030, "/p/" + "b" * 1030, {}),
        ("/a?utm_source=news&q=" + "x" * 1100, "/a", {"utm_source": "news"}),
    ],
)
def test_split_page_drops_what_a_cut_left_partial(page: str, path: str,
                                                  utm: dict[str, str]) -> None:
    from collector.ingest.records import split_page

    assert split_page(page) == (path, utm)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("signup", "signup"),
        ("word " * 60 + "jane.doe@gmail.com", ("word " * 60).strip()[:64]),
        ("x" * 300, ":token"),
        ("%20" * 10 + "word " * 200, ("word " * 13).strip()),
        ("y" * 1024, ":token"),
    ],
)
def test_clean_name_drops_what_a_cut_left_partial(name: str, expected: str) -> None:
    from collector.ingest.records import clean_name

    assert clean_name(name) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Spring+Sale", "spring sale"),
        ("jane+news@example.com", ":email"),  # plus-addressing is seen whole
        ("4111+1111+1111+1111", ":num"),
        ("4111++++1111++++1111", ":num"),  # a number only once '+' reads as a space
        ("a1" * 193 + " jane.doe@gmail.com", ":token"),
        ("word " * 79 + "jane.doe@gmail.com", ("word " * 20).strip()),
    ],
)
def test_clean_utm_scrubs_the_stored_form(value: str, expected: str) -> None:
    from collector.ingest.records import clean_utm

    assert clean_utm(value) == expected


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://shop.example.com/x", "shop.example.com"),
        ("https://Shop.Example.com:8443/x", "shop.example.com"),
        ("http://192.168.1.77/", ":ip"),
        ("http://[2001:db8::77]/", ":ip"),
        ("http://[::ffff:192.0.2.1]:80/", ":ip"),
        ("https://jane-doe-4155550132.example.com/x", ":token.example.com"),
        ("https://call-4155550132.example.com/x", "call-:num.example.com"),
        ("mailto:jane@example.com", None),
        (None, None),
    ],
)
def test_target_site(url: str | None, site: str | None) -> None:
    from collector.ingest.records import target_site

    assert target_site(url) == site


@pytest.mark.parametrize(("url", "site"), [
    ("https://xn--hxajbheg2az3al.gr/x", "xn--hxajbheg2az3al.gr"),  # a Greek IDN: a name
    ("https://spring-sale-2024.example.com/", "spring-sale-2024.example.com"),
    ("https://www.example.com/", "www.example.com"),
    ("https://call-4155550132.example.com/", "call-:num.example.com"),
    ("http://192.168.1.77/", ":ip"),
    ("http://[2001:db8::77]/", ":ip"),
])
def test_click_hosts_are_scrubbed_only_when_they_hold_personal_data(url: str,
                                                                    site: str) -> None:
    from collector.ingest.records import target_site

    assert target_site(url) == site
