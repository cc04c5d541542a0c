"""The dashboard through Flask's test client (DESIGN 10): accounts and sign-in, the page's
panels, filters and periods, the CSV downloads against ``cleargif export``, bad input and
failing stores. The real browser, keyboard and axe-core are in tests/browser/."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector import clock
from collector.analytics import daily
from collector.analytics.query import OTHER
from collector.dashboard import auth, charts, choices, panels, texts
from collector.errors import StorageError
from tests.conftest import SITE, events, make_app, make_config, pageview, seed, set_cookies

PASSWORD = "correct horse battery"
HOST = "www.example.com"
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC).timestamp()
TODAY = date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _fast_scrypt_and_a_fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cost (N=2**15) is tested once below; here each hash costs a millisecond.
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    monkeypatch.setattr(auth, "_decoy", None)
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def dash(app: Flask) -> Flask:
    """The collector with an account ``alice``."""
    auth.add_user(app.extensions["cleargif"].identity, "alice", PASSWORD)
    return app


def csrf(client: FlaskClient, path: str = "/dashboard/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def sign_in(client: FlaskClient, *, user: str = "alice", password: str = PASSWORD,
            remember: bool = False, next_: str | None = None) -> Any:
    data = {"csrf_token": csrf(client), "username": user, "password": password}
    if remember:
        data["remember"] = "yes"
    url = "/dashboard/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data=data)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


def at(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


def visitors(path: str, n: int, day: date = TODAY, **fields: Any) -> list[dict[str, Any]]:
    """Hits of ``n`` distinct consenting visitors."""
    return [pageview(at(day), session=f"{path}-s{i}".encode().hex()[:32].ljust(32, "0"),
                     visitor=f"{path}-v{i}".encode().hex()[:32].ljust(32, "1"), path=path,
                     **fields) for i in range(n)]


# --- accounts -------------------------------------------------------------------------------

def test_passwords_are_scrypt_hashes_checked_in_constant_time() -> None:
    stored = auth.hash_password("a long enough password", n=2**15)
    kind, n, r, p, salt, digest = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", "32768", "8", "1") and salt and digest
    assert "a long enough password" not in stored
    assert auth.verify_password(stored, "a long enough password")
    assert not auth.verify_password(stored, "a long enough passwore")
    assert auth.hash_password("same password here") != auth.hash_password("same password here")
    assert not auth.verify_password(None, "anything at all")  # the decoy: same work, False
    for broken in ("", "scrypt$x", "bcrypt$1$2$3$4$5", "scrypt$99$8$1$AA$AA"):
        assert not auth.verify_password(broken, "anything")


@pytest.mark.parametrize("name", ["", "-alice", "a b", "alice\n", "ä", "x" * 65, "a/b"])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(auth.AccountError, match="user name"):
        auth.check_name(name)


@pytest.mark.parametrize("password", ["short", " " * 12, "x" * 1025, "pass\udcffword12"])
def test_bad_passwords_are_refused(password: str) -> None:
    with pytest.raises(auth.AccountError, match="password"):
        auth.check_password(password)


def test_user_commands(app: Flask) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(args=["user", "add", "alice", "--password-stdin"],
                        input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    assert "Added alice" in out.stdout
    stored = app.extensions["cleargif"].identity.user_password_hash("alice")
    assert stored and stored.startswith("scrypt$") and PASSWORD not in stored
    out = runner.invoke(args=["user", "add", "alice", "--password-stdin"], input=PASSWORD)
    assert out.exit_code == 2 and "already a user named alice" in out.stderr
    out = runner.invoke(args=["user", "add", "bob"], input="too short\ntoo short\n")
    assert out.exit_code == 2 and "password of 10" in out.stderr
    out = runner.invoke(args=["user", "add", "bob"],
                        input="bob's long password\nbob's long password\n")
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["user", "add", "-x", "--password-stdin"], input=PASSWORD)
    assert out.exit_code == 2
    out = runner.invoke(args=["user", "add", "carol", "--password-stdin"],
                        input=b"caf\xe9 caf\xe9 caf\xe9\n")
    assert out.exit_code == 2 and "not UTF-8" in out.stderr
    out = runner.invoke(args=["user", "list"])
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["alice", "bob"]
    assert "last sign-in never" in lines[0] and "scrypt" not in out.stdout
    out = runner.invoke(args=["user", "remove", "alice"])
    assert out.exit_code == 0 and "Removed alice" in out.stdout
    out = runner.invoke(args=["user", "remove", "alice"])
    assert out.exit_code == 2 and "No user is named alice" in out.stderr


def test_user_commands_refuse_a_missing_data_folder(tmp_path: Path) -> None:
    from collector import create_app

    app = create_app(make_config(tmp_path))
    out = app.test_cli_runner().invoke(args=["user", "list"])
    assert out.exit_code == 2 and "No cleargif data here" in out.stderr
    assert not (tmp_path / "data").exists()


# --- signing in -----------------------------------------------------------------------------

def test_signed_out_requests_go_to_the_form(dash: Flask) -> None:
    client = dash.test_client()
    for path in ("/dashboard/", "/dashboard/?period=7d", "/dashboard/csv?table=path"):
        r = client.get(path)
        assert r.status_code == 302, path
        assert r.headers["Location"].startswith("/dashboard/login?next=/dashboard/")
    form = client.get("/dashboard/login")
    assert form.status_code == 200
    assert 'name="username"' in form.text and 'name="password"' in form.text
    assert 'type="hidden" name="csrf_token"' in form.text


def test_from_another_site_the_page_reloads_itself_with_its_cookie(dash: Flask) -> None:
    """SameSite=Strict keeps the session cookie home on a link from another site; the page
    answers with a same-site reload instead of throwing the session away."""
    r = dash.test_client().get("/dashboard/?period=7d",
                               headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200
    assert '<meta http-equiv="refresh" content="0; url=/dashboard/?period=7d">' in r.text
    assert "cg_dashboard" not in r.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("secure", [True, False])
def test_session_cookie_flags(tmp_path: Path, secure: bool) -> None:
    app = make_app(make_config(tmp_path, COOKIE_SECURE=secure, COOKIE_DOMAIN="example.com"))
    auth.add_user(app.extensions["cleargif"].identity, "alice", PASSWORD)
    client = app.test_client()
    r = client.get("/dashboard/login")
    (cookie,) = set_cookies(r)["cg_dashboard"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/dashboard" and cookie["domain"] is None  # host-only
    assert cookie["secure"] is secure
    r = sign_in(client)
    assert set_cookies(r)["cg_dashboard"][0]["samesite"] == "Strict"
    assert "cg_remember" not in set_cookies(r)
    app.extensions["cleargif"].close()


def test_sign_in_and_the_pages_headers(dash: Flask) -> None:
    client = dash.test_client()
    r = sign_in(client, next_="/dashboard/?period=7d")
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/?period=7d"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert "Signed in as" in page.text and "alice" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # No inline script, style or event handler for the CSP to refuse.
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", page.text)
    users = dash.extensions["cleargif"].identity.users()
    assert users[0].last_login_at == int(NOW)


@pytest.mark.parametrize("user, password", [("alice", "wrong password!"),
                                            ("mallory", PASSWORD), ("", ""),
                                            ("x" * 500, PASSWORD)])
def test_a_wrong_password_says_so_without_saying_which_part(dash: Flask, user: str,
                                                            password: str) -> None:
    client = dash.test_client()
    r = sign_in(client, user=user, password=password)
    assert r.status_code == 403
    assert "The user name or password is not right." in r.text
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_missing_or_wrong_csrf_token_is_refused(dash: Flask, token: str | None) -> None:
    client = dash.test_client()
    client.get("/dashboard/login")
    data = {"username": "alice", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    r = client.post("/dashboard/login", data=data)
    assert r.status_code == 400 and "The form had expired" in r.text
    assert client.get("/dashboard/").status_code == 302


def test_a_token_from_another_browser_is_refused(dash: Flask) -> None:
    theirs = csrf(dash.test_client())
    client = dash.test_client()
    client.get("/dashboard/login")
    r = client.post("/dashboard/login", data={"csrf_token": theirs, "username": "alice",
                                              "password": PASSWORD})
    assert r.status_code == 400


def test_sign_in_is_rate_limited(tmp_path: Path) -> None:
    app = make_app(make_config(tmp_path, RATE_LIMITS={"login": "2/minute"}))
    auth.add_user(app.extensions["cleargif"].identity, "alice", PASSWORD)
    client = app.test_client()
    assert sign_in(client, password="wrong one, 1").status_code == 403
    assert sign_in(client, password="wrong one, 2").status_code == 403
    r = sign_in(client)  # even the right password waits
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 30
    assert re.search(r"Wait \d+ s, then try again", r.text)  # no "1 seconds"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(other).status_code == 302  # another client has its own bucket
    app.extensions["cleargif"].close()


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/",
                                    "/dashboard/\\evil", "/\t/evil.example", "/consent",
                                    "javascript:alert(1)", "/dashboard/../consent"])
def test_no_redirect_off_the_dashboard(dash: Flask, target: str) -> None:
    r = sign_in(dash.test_client(), next_=target)
    assert r.headers["Location"] == "/dashboard/"


def test_sign_out(dash: Flask) -> None:
    client = signed_in(dash)
    page = client.get("/dashboard/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    assert client.post("/dashboard/logout", data={}).status_code == 400  # no token
    assert client.get("/dashboard/").status_code == 200
    r = client.post("/dashboard/logout", data={"csrf_token": token.group(1)})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/login?out=1"
    assert "You are signed out." in client.get("/dashboard/login?out=1").text
    assert client.get("/dashboard/").status_code == 302


def test_sessions_end_after_twelve_hours(dash: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in(dash)
    monkeypatch.setattr(clock, "now", lambda: NOW + auth.SESSION_SECONDS - 1)
    assert client.get("/dashboard/").status_code == 200
    monkeypatch.setattr(clock, "now", lambda: NOW + auth.SESSION_SECONDS)
    assert client.get("/dashboard/").status_code == 302


def test_removing_an_account_ends_its_sessions_and_remembered_logins(dash: Flask) -> None:
    client = dash.test_client()
    r = sign_in(client, remember=True)
    remembered = set_cookies(r)["cg_remember"][0]["value"]
    out = dash.test_cli_runner().invoke(args=["user", "remove", "alice"])
    assert out.exit_code == 0, out.output
    assert client.get("/dashboard/").status_code == 302
    fresh = dash.test_client()
    fresh.set_cookie("cg_remember", remembered, path="/")
    assert fresh.get("/dashboard/").status_code == 302
    # A new account of the same name is another account: the old session stays dead.
    auth.add_user(dash.extensions["cleargif"].identity, "alice", "another long password")
    assert client.get("/dashboard/").status_code == 302


def test_remember_me_restores_the_sign_in_only_on_the_dashboard(dash: Flask) -> None:
    r = sign_in(dash.test_client(), remember=True)
    (cookie,) = set_cookies(r)["cg_remember"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert cookie["domain"] is None and cookie["max_age"] == 30 * 86400
    value = cookie["value"]
    # Elsewhere on the collector nobody reads it: no sign-in, no rotation.
    other = dash.test_client()
    other.set_cookie("cg_remember", value, path="/")
    for path in ("/consent/config", "/healthz", "/static/js/cleargif.js"):
        resp = other.get(path)
        resp.close()
        assert "cg_remember" not in set_cookies(resp), path
        assert "cg_dashboard" not in set_cookies(resp), path
    resp = other.post("/t", data=json.dumps({"p": "/x"}), headers={"Origin": SITE})
    assert "cg_remember" not in set_cookies(resp)
    # On the dashboard it signs the browser in (not fresh) and rotates.
    browser = dash.test_client()
    browser.set_cookie("cg_remember", value, path="/")
    page = browser.get("/dashboard/")
    assert page.status_code == 200 and "alice" in page.text
    rotated = set_cookies(page)["cg_remember"][0]["value"]
    assert rotated != value
    # Signing out forgets it.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    out = browser.post("/dashboard/logout", data={"csrf_token": token.group(1)})
    assert set_cookies(out)["cg_remember"][0]["max_age"] == 0
    later = dash.test_client()
    later.set_cookie("cg_remember", rotated, path="/")
    assert later.get("/dashboard/").status_code == 302


def test_a_host_apps_remembered_account_cannot_sign_in(dash: Flask) -> None:
    """Accounts share the identity store's token tables with host apps; a token of the
    host's account "alice" is not the dashboard's alice."""
    remember = dash.extensions["cg_remember"]
    with dash.test_request_context("/dashboard/"):
        value = remember.store.issue("alice").cookie_value
    browser = dash.test_client()
    browser.set_cookie("cg_remember", value, path="/")
    assert browser.get("/dashboard/").status_code == 302


def test_no_password_or_session_reaches_the_stores_or_the_log(
        dash: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    client = dash.test_client()
    sign_in(client, password="a wrong password here")
    r = sign_in(client, remember=True)
    session = set_cookies(r)["cg_dashboard"][0]["value"]
    remembered = set_cookies(r)["cg_remember"][0]["value"]
    client.get("/dashboard/")
    dash.extensions["cleargif"].close()
    data = Path(dash.config["DATA_DIR"])
    blob = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for secret in (PASSWORD, "a wrong password here", session, remembered,
                   remembered.split(".")[1]):
        assert secret.encode() not in blob
        assert secret not in caplog.text
    assert events(dash) == []  # signing in and looking are no events


# --- the page -------------------------------------------------------------------------------

def test_the_page_shows_the_numbers_and_folds_small_ones(dash: Flask) -> None:
    seed(dash, visitors("/pricing", 7) + visitors("/", 9) + visitors("/rare", 3)
         + visitors("/rare-too", 2) + visitors("/old", 6, TODAY - timedelta(days=40)))
    page = signed_in(dash).get(f"/dashboard/?site={HOST}")
    assert page.status_code == 200
    text = page.text
    assert '<h1>www.example.com</h1>' in text
    pages = text[text.index('id="panel-pages"'):text.index('id="panel-sources"')]
    # Ranked by views.
    assert pages.index("<bdi>/</bdi></a>") < pages.index("<bdi>/pricing</bdi></a>")
    assert "<bdi>/rare</bdi></a>" not in pages and "<bdi>/rare-too</bdi></a>" not in pages
    assert "<bdi>(other)</bdi></span>" in pages  # folded, and no link to filter by it
    assert "(other) gathers the rows of fewer than 5 people each." in pages
    assert "<bdi>/old</bdi></a>" not in pages  # outside the period
    assert re.search(r'class="value">21<', text)  # page views of the period
    assert "<svg class=\"chart-svg\"" in text and "Show as a table" in text


def test_other_is_held_back_when_it_is_small_too(dash: Flask) -> None:
    seed(dash, visitors("/pricing", 6) + visitors("/rare", 2) + visitors("/rare-too", 1))
    page = signed_in(dash).get("/dashboard/").text
    pages = page[page.index('id="panel-pages"'):page.index('id="panel-sources"')]
    assert "(other)" not in pages.replace("(other) gathers", "")
    assert "2 rows of fewer than 5 people are not shown" in pages


def test_nothing_to_show_says_why(dash: Flask) -> None:
    seed(dash, visitors("/pricing", 2))
    page = signed_in(dash).get("/dashboard/").text
    assert "Nothing can be shown for this period yet" in page
    assert '<code dir="ltr">CLEARGIF_K_MIN=1</code>' in page


def test_a_row_filters_the_other_panels(dash: Flask) -> None:
    seed(dash, visitors("/pricing", 6, browser="Chrome") + visitors("/", 8, browser="Firefox")
         + visitors("/docs", 5, browser="Chrome"))
    client = signed_in(dash)
    page = client.get("/dashboard/").text
    link = re.search(r'href="([^"]+)"[^>]*><bdi>/pricing</bdi>', page)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert "f=path%3A%2Fpricing" in url
    filtered = client.get(url).text
    assert "Page is <bdi" in filtered and "/pricing" in filtered  # the chip
    devices = filtered[filtered.index('id="panel-devices"'):filtered.index('id="panel-events"')]
    assert "<bdi>Chrome</bdi></a>" in devices and "<bdi>Firefox</bdi></a>" not in devices
    pages = filtered[filtered.index('id="panel-pages"'):filtered.index('id="panel-sources"')]
    # Its own panel keeps every row, the chosen one marked.
    assert "<bdi>/</bdi></a>" in pages and 'class="selected"' in pages
    assert re.search(r'class="value">6<', filtered)
    # Filters combine, and each can be removed.
    chrome = re.search(r'href="([^"]+)"[^>]*><bdi>Chrome</bdi>', filtered)
    assert chrome
    both = client.get(chrome.group(1).replace("&amp;", "&")).text
    assert both.count('class="chip"') == 2 and "Clear all filters" in both
    remove = re.search(r'<a href="([^"]+)" data-nav title="Remove the filter Page is '
                       r'/pricing"', both)
    assert remove
    assert client.get(remove.group(1).replace("&amp;", "&")).text.count('class="chip"') == 1


def test_the_direct_row_filters_by_no_referrer(dash: Flask) -> None:
    seed(dash, visitors("/a", 6) + visitors("/b", 5, referrer_host="news.example.org"))
    client = signed_in(dash)
    page = client.get("/dashboard/?f=referrer_host:").text
    assert "Referrer is <bdi" in page and "(direct)" in page
    pages = page[page.index('id="panel-pages"'):page.index('id="panel-sources"')]
    assert "<bdi>/a</bdi></a>" in pages and "<bdi>/b</bdi></a>" not in pages


def test_an_event_filter_counts_events(dash: Flask) -> None:
    rows = visitors("/pricing", 6) + [
        {**r, "kind": "event", "name": "signup"} for r in visitors("/signup-page", 5)]
    seed(dash, rows)
    page = signed_in(dash).get("/dashboard/?f=name:signup").text
    assert '<span class="swatch s-views" aria-hidden="true"></span>Events' in page
    pages = page[page.index('id="panel-pages"'):page.index('id="panel-sources"')]
    assert "<bdi>/signup-page</bdi></a>" in pages and "<bdi>/pricing</bdi></a>" not in pages


def test_tabs_and_the_whole_list(dash: Flask) -> None:
    seed(dash, [r for i in range(14) for r in visitors(f"/p{i:02d}", 5, utm_source=f"s{i}")])
    client = signed_in(dash)
    page = client.get("/dashboard/?sources=utm_source").text
    sources = page[page.index('id="panel-sources"'):page.index('id="panel-devices"')]
    assert 'aria-current="page">UTM source<' in sources and "<bdi>s0</bdi></a>" in sources
    pages = page[page.index('id="panel-pages"'):page.index('id="panel-sources"')]
    assert pages.count('class="text"') == 10 and "All 14 rows" in pages
    whole = client.get("/dashboard/?all=path").text
    pages = whole[whole.index('id="panel-pages"'):whole.index('id="panel-sources"')]
    assert pages.count('class="text"') == 14 and "Only the top 10" in pages


def test_nothing_before_is_zero_not_held_back(dash: Flask) -> None:
    seed(dash, visitors("/a", 6))
    page = signed_in(dash).get("/dashboard/").text
    assert "none in the period before" in page and "was 0" in page
    empty = signed_in(dash).get("/dashboard/?period=custom&since=2025-01-01"
                                "&until=2025-01-31").text
    assert re.search(r'class="value">0<', empty) and 'class="held"' not in empty


def test_comparison_with_the_period_before(dash: Flask) -> None:
    seed(dash, visitors("/a", 10) + visitors("/a", 5, TODAY - timedelta(days=31)))
    page = signed_in(dash).get("/dashboard/").text
    assert "up 100% on the period before" in page and "was 5" in page
    assert "Compared with <bdi dir=\"ltr\">2026-01-15</bdi> to <bdi dir=\"ltr\">2026-02-13" \
           "</bdi>" in page


@pytest.mark.parametrize("query", [
    "period=decade", "period=month&month=2026-13", "period=month&month=x",
    "period=custom&since=2026-03-10&until=2026-03-01", "period=custom&since=yesterday",
    "period=custom&since=2020-01-01&until=2026-01-01", "period=custom&since=0001-01-01"
    "&until=0001-01-02", "site=evil.example", "f=visitor_id:x", "f=path",
    "f=" + "&f=".join(f"{d}:x" for d in choices.FILTER_DIMENSIONS) + "&f=kind:x",
    "f=path:" + "x" * 2000, "period=%ff", "site=%00",
])
def test_bad_choices_answer_a_sentence_not_an_error(dash: Flask, query: str) -> None:
    client = signed_in(dash)
    r = client.get(f"/dashboard/?{query}")
    assert r.status_code == 400, (query, r.status_code)
    assert '<p class="alert" role="alert">' in r.text
    assert "Traceback" not in r.text
    assert client.get(f"/dashboard/csv?table=path&{query}").status_code == 400


def test_a_failing_store_is_a_503_with_retry_after(dash: Flask,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in(dash)
    events_store = dash.extensions["cleargif"].events

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("Reading /srv/secret/path/events.db failed: disk I/O error.")

    monkeypatch.setattr(events_store, "cells", broken)
    for path in ("/dashboard/", "/dashboard/csv?table=path"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers["Retry-After"] == "30", path
        assert "/srv/secret" not in r.text and "not available" in r.text


def test_timezone_mismatch_with_roll_ups_is_a_sentence(dash: Flask) -> None:
    events_store = dash.extensions["cleargif"].events
    events_store.set_meta("rollups_timezone", "Europe/Berlin")
    seed(dash, visitors("/a", 5, TODAY - timedelta(days=3)))
    events_store.roll_up((TODAY - timedelta(days=3)).isoformat(), 0, 2**40)
    r = signed_in(dash).get("/dashboard/")
    assert r.status_code == 409 and "Europe/Berlin" in r.text


def test_languages(dash: Flask) -> None:
    client = signed_in(dash)
    german = client.get("/dashboard/?lang=de").text
    assert '<html lang="de" dir="ltr">' in german and "Seitenaufrufe" in german
    arabic = client.get("/dashboard/", headers={"Accept-Language": "ar-EG,ar;q=0.9"}).text
    assert '<html lang="ar" dir="rtl">' in arabic and "مشاهدات الصفحات" in arabic
    english = client.get("/dashboard/", headers={"Accept-Language": "fr-CH, fr"}).text
    assert '<html lang="en" dir="ltr">' in english
    # A chosen language stays in the page's links.
    assert '<input type="hidden" name="lang" value="de">' in german
    assert "lang=de" in german[german.index('id="panel-pages"'):]
    login = dash.test_client().get("/dashboard/login?lang=ar").text
    assert 'dir="rtl"' in login and "تسجيل الدخول" in login


def test_every_text_exists_in_every_language() -> None:
    placeholders = re.compile(r"\{(\w+)\}")
    for lang in texts.LANGUAGES:
        assert set(texts.TEXTS[lang]) == set(texts.TEXTS["en"]), lang
        for key, english in texts.TEXTS["en"].items():
            assert set(placeholders.findall(texts.TEXTS[lang][key])) == \
                set(placeholders.findall(english)), (lang, key)
    assert len(texts.month_names("ar")) == 12
    assert texts.number("de", 12345) == "12.345" and texts.number("en", 12345) == "12,345"
    assert texts.percent("de", 0.125) == "12\u00a0%" and texts.percent("ar", 0.5) == "50٪"


def test_static_files_and_other_routes(dash: Flask) -> None:
    client = dash.test_client()
    for name, kind in (("dashboard.css", "text/css"), ("dashboard.js", "text/javascript"),
                       ("icon.svg", "image/svg+xml")):
        r = client.get(f"/dashboard/static/{name}")
        assert r.status_code == 200 and r.mimetype == kind, name
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        r.close()
    # The collector's own routes never open a dashboard session.
    for resp in (client.get("/consent/config"), client.get("/t.gif?p=/", headers={
            "Origin": SITE}), client.post("/consent", json={"purposes": {}},
                                          headers={"Origin": SITE})):
        assert "cg_dashboard" not in set_cookies(resp)
        assert "Cookie" not in resp.headers.get("Vary", "")


def test_the_dashboard_cookie_is_in_the_registry(client: FlaskClient) -> None:
    table = {c["name"]: c for c in client.get("/consent/config").json["cookies"]}
    assert table["cg_dashboard"]["purpose"] == "necessary"


def test_no_sites_configured(tmp_path: Path) -> None:
    app = make_app(make_config(tmp_path, ALLOWED_ORIGINS=[], SITES=None))
    auth.add_user(app.extensions["cleargif"].identity, "alice", PASSWORD)
    page = signed_in(app).get("/dashboard/")
    assert page.status_code == 200 and "No site is configured" in page.text
    app.extensions["cleargif"].close()


# --- the panels that are not page views -------------------------------------------------------

def test_consent_panel_counts_receipts(dash: Flask) -> None:
    client = dash.test_client()
    for i in range(6):
        browser = dash.test_client()
        purposes = {"analytics": True, "personalization": i % 2 == 0, "marketing": i < 2}
        headers = {"Origin": SITE, **({"Sec-GPC": "1"} if i == 5 else {}),
                   **({"DNT": "1"} if i == 4 else {})}
        assert browser.post("/consent", json={"purposes": purposes},
                            headers=headers).status_code == 200
    assert sign_in(client).status_code == 302
    page = client.get("/dashboard/").text
    consent = page[page.index('id="panel-consent"'):page.index('id="panel-campaigns"')]
    assert re.search(r"Decisions</dt><dd class=\"value\">6<", consent)
    # DNT refuses analytics: five of six grant it.
    assert re.search(r"Granting Analytics</dt><dd class=\"value\">83%<", consent)
    assert re.search(r"With GPC</dt><dd class=\"value\">1<", consent)
    assert re.search(r"With DNT</dt><dd class=\"value\">1<", consent)
    rows = client.get("/dashboard/csv?table=consent").text.splitlines()
    body = [line for line in rows if not line.startswith("#")]
    assert body[0] == ("day,decisions,granting_analytics,granting_personalization,"
                       "granting_marketing,with_gpc,with_dnt")
    assert body[1:] == ["2026-03-15,6,5,2,2,1,1", "all,6,5,2,2,1,1"]


def test_consent_of_too_few_browsers_is_held_back(dash: Flask) -> None:
    for _ in range(3):
        dash.test_client().post("/consent", json={"purposes": {"analytics": True}},
                                headers={"Origin": SITE})
    page = signed_in(dash).get("/dashboard/").text
    consent = page[page.index('id="panel-consent"'):page.index('id="panel-campaigns"')]
    assert "Fewer than 5 browsers decided in this period" in consent
    assert "Decisions</dt>" not in consent


def test_consent_days_under_k_are_folded(dash: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    for day, n in ((TODAY - timedelta(days=2), 3), (TODAY - timedelta(days=1), 3), (TODAY, 6)):
        monkeypatch.setattr(clock, "now", lambda d=day: at(d))
        for _ in range(n):
            dash.test_client().post("/consent", json={"purposes": {"analytics": True}},
                                    headers={"Origin": SITE})
    monkeypatch.setattr(clock, "now", lambda: NOW)
    client = signed_in(dash)
    body = [line for line in client.get("/dashboard/csv?table=consent").text.splitlines()
            if not line.startswith("#")]
    assert body[1:] == ["2026-03-15,6,6,0,0,0,0", f"{OTHER},6,6,0,0,0,0", "all,12,12,0,0,0,0"]


def test_campaigns_panel(dash: Flask) -> None:
    rows = []
    for i in range(7):
        rows.append({**pageview(int(NOW) - 100), "kind": "open", "name": None, "path": None,
                     "site": None, "campaign": "spring-2026", "list": "news",
                     "recipient": f"r-{i}", "agent": "human"})
        rows.append({**rows[-1], "agent": "apple_mpp", "recipient": f"a-{i}"})
        rows.append({**rows[-2], "kind": "click", "link": "cta"})
    seed(dash, rows)
    dash.extensions["cleargif"].events.add_sends("spring-2026", "news", 100, int(NOW))
    page = signed_in(dash).get("/dashboard/").text
    mail = page[page.index('id="panel-campaigns"'):page.index('class="card about"')]
    assert "<bdi>spring-2026</bdi></th>" in mail
    assert re.search(r'<td class="num">100</td><td class="num">7</td>\s*<td class="num">7</td>',
                     mail)
    assert "7.0%" in mail  # seven unique human opens of a hundred sends
    assert "Clicks per link, <bdi" in mail and "<bdi>cta</bdi></th>" in mail


def test_not_counted_panel(dash: Flask) -> None:
    client = signed_in(dash)
    for _ in range(3):
        client.get("/t.gif?p=/", headers={"Origin": SITE, "Sec-Purpose": "prefetch"})
    client.get("/t.gif?p=https://unlisted.example/")
    seed(dash, [pageview(int(NOW), path="/", device="bot", browser="Googlebot")] * 6)
    page = client.get("/dashboard/").text
    dropped = page[page.index('id="panel-not-counted"'):page.index('id="panel-consent"')]
    assert re.search(r"Bots and crawlers</span></th><td class=\"num\">6<", dropped)
    assert re.search(r"Prefetches</span></th><td class=\"num\">3<", dropped)
    assert re.search(r"Unlisted sites</span></th><td class=\"num\">1<", dropped)
    body = [line for line in client.get("/dashboard/csv?table=not_counted").text.splitlines()
            if not line.startswith("#")]
    assert body == ["reason,hits", "bot,6", "prefetch,3", "site,1"]


# --- downloads --------------------------------------------------------------------------------

def _cli_export(app: Flask, by: str, since: str, until: str, filters: list[str]) -> tuple[
        list[str], str]:
    args = ["export", "--daily", "--by", by, "--since", since, "--until", until]
    for f in filters:
        args += ["--filter", f]
    out = app.test_cli_runner().invoke(args=args)
    assert out.exit_code == 0, out.output
    meta = [line for line in out.stderr.splitlines() if line.startswith("#")]
    return meta, out.stdout


@pytest.mark.parametrize("table, by, query, filters", [
    ("path", "path", "", ["site:www.example.com", "kind:pageview"]),
    ("browser", "browser", "f=path:/pricing", ["site:www.example.com", "kind:pageview",
                                               "path:/pricing"]),
    ("path", "path", "f=path:/pricing&f=referrer_host:", [
        "site:www.example.com", "kind:pageview", "referrer_host:"]),
    ("day", "day", "period=7d&f=browser:Chrome", ["site:www.example.com", "kind:pageview",
                                                  "browser:Chrome"]),
    ("name", "name", "", ["site:www.example.com", "kind:event"]),
])
def test_a_download_is_what_cleargif_export_writes(dash: Flask, table: str, by: str,
                                                   query: str, filters: list[str]) -> None:
    seed(dash, visitors("/pricing", 6, browser="Chrome") + visitors("/", 8)
         + visitors("/rare", 2) + visitors("/docs", 5, TODAY - timedelta(days=3))
         + [{**r, "kind": "event", "name": "signup"} for r in visitors("/", 5)])
    # The days before today are read from daily totals once summarised, as after a purge.
    col = dash.extensions["cleargif"]
    assert daily.summarise(col.events, col.settings.tz, clock.now()) > 0
    r = signed_in(dash).get(f"/dashboard/csv?table={table}&{query}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="cleargif-www.')
    lines = r.text.splitlines(keepends=True)
    meta = [line.rstrip("\n") for line in lines if line.startswith("#")]
    rows = "".join(line for line in lines if not line.startswith("#"))
    days = 7 if "7d" in query else 30
    since = (TODAY - timedelta(days=days - 1)).isoformat()
    cli_meta, cli_rows = _cli_export(dash, by, since, TODAY.isoformat(), filters)
    assert rows == cli_rows
    assert meta == cli_meta
    assert next(csv.reader(io.StringIO(rows))) == [by, "hits", "visits",
                                                   "returning_visitors"]


def test_an_unknown_table_is_refused(dash: Flask) -> None:
    assert signed_in(dash).get("/dashboard/csv?table=visitor_id").status_code == 400


# --- pure parts -------------------------------------------------------------------------------

class _Args(dict[str, list[str]]):
    def get(self, key: str) -> str | None:  # type: ignore[override]
        values = super().get(key)
        return values[0] if values else None

    def getlist(self, key: str) -> list[str]:
        return list(super().get(key) or [])


def _period(**args: str) -> choices.Period:
    return choices.parse_period(_Args({k: [v] for k, v in args.items()}), TODAY)


def test_periods() -> None:
    assert (_period().since, _period().until) == (TODAY - timedelta(days=29), TODAY)
    assert _period(period="today").days == 1
    assert _period(period="7d").since == date(2026, 3, 9)
    month = _period(period="month")
    assert (month.since, month.until) == (date(2026, 3, 1), TODAY)  # to today, not beyond
    feb = _period(period="month", month="2026-02")
    assert (feb.since, feb.until, feb.days) == (date(2026, 2, 1), date(2026, 2, 28), 28)
    before = feb.previous()
    assert before and (before.since, before.until) == (date(2026, 1, 4), date(2026, 1, 31))
    custom = _period(period="custom", since="2025-03-16", until="2026-03-15")
    assert custom.days == 365
    assert choices.Period("custom", date(1970, 1, 1), date(1970, 1, 2)).previous() is None


def test_filters_parse_one_per_dimension() -> None:
    assert choices.parse_filters(["path:/a", "browser:", "path:/b"]) == (
        ("browser", None), ("path", "/b"))
    assert choices.parse_filters(["utm_source:news:letter"]) == (
        ("utm_source", "news:letter"),)


def test_tables_exclude_their_own_filter_and_the_chart_keeps_all() -> None:
    c = choices.Choices("www.example.com", _period(),
                        filters=(("path", "/a"), ("browser", "Chrome")))
    by_path = panels.table_query(c, "path", "UTC")
    assert by_path.filters == (("site", "www.example.com"), ("kind", "pageview"),
                               ("browser", "Chrome"))
    assert panels.series_query(c, "UTC").filters[2:] == (("path", "/a"), ("browser", "Chrome"))
    assert panels.table_query(c, "name", "UTC").filters[1] == ("kind", "event")
    bots = panels.bots_query(c, "UTC")
    assert bots.include_bots and bots.filters == (("site", "www.example.com"),
                                                  ("device", "bot"))


def test_charts_are_svg_with_gaps_and_round_axes() -> None:
    assert charts.nice_top(0) == 4 and charts.nice_top(123) == 160
    assert charts.nice_top(2741) == 3200 and charts.nice_top(5) == 8
    chart = charts.time_chart(["d1", "d2", "d3", "d4"], [
        charts.Line("views", [3, None, 5, 2], "bar"),
        charts.Line("visits", [1, None, 2, 2], "line"),
        charts.Line("returning", [None, 1, None, None], "dashed")],
        ["<d1>", "d2", "d3", "d4"])
    svg = str(chart.svg)
    assert svg.startswith('<svg class="chart-svg"') and 'aria-hidden="true"' in svg
    assert svg.count("Z") == 3  # three bars: the gap has none
    assert "&lt;d1&gt;" in svg and "<d1>" not in svg
    visits = re.search(r'class="series s-visits line" d="([^"]+)"', svg)
    assert visits and visits.group(1).count("M") == 2  # broken at the gap
    assert 'class="series s-returning dashed"' in svg  # a lone point is still drawn
    assert chart.ticks == [4.0, 3.0, 2.0, 1.0, 0.0] or chart.ticks[0] == 8.0
    assert "style=" not in svg


def test_change() -> None:
    assert panels.change(None, 5) is None and panels.change(5, None) is None
    assert panels.change(0, 0) == ("same", 0.0) and panels.change(3, 0) == ("new", 0.0)
    assert panels.change(15, 10) == ("up", 0.5) and panels.change(5, 10) == ("down", 0.5)


def test_timing_is_not_a_user_oracle(dash: Flask) -> None:
    """An unknown name costs a password check too (against a decoy)."""
    client = dash.test_client()
    sign_in(client, user="nobody", password="whatever it is")  # makes the decoy
    began = time.perf_counter()
    sign_in(client, user="nobody", password="whatever it is")
    unknown = time.perf_counter() - began
    began = time.perf_counter()
    sign_in(client, user="alice", password="whatever it is")
    known = time.perf_counter() - began
    assert unknown > known / 5
