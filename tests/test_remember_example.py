"""The remember-me example app end to end, and the Flask glue (sdk.flask_remember).

Each test client is one browser. Cookie attributes are read from the raw ``Set-Cookie``
headers, never from the client's cookie jar (which ignores most of them).
"""

from __future__ import annotations

import logging
import os
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from examples.remember_app import THEFT_NOTICE, create_app
from sdk.errors import ConfigError, StorageError
from sdk.flask_remember import Remember
from sdk.remember import COOKIE_NAME, RememberStore
from tests.conftest import Clock

DAY = 86400
KEYS = ["example-old-key-000000000000001", "example-new-key-000000000000002"]
PASSWORD = "wonderland-demo"


# Not named ``app``: pytest-flask would push one request context for the whole test, and
# every request of its test clients would then share ``g`` (Flask-Login caches the user
# there), which no real server does.
@pytest.fixture
def example(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Flask:
    for name in list(os.environ):
        if name.startswith("CLEARGIF_"):
            monkeypatch.delenv(name)
    app = create_app({
        "TESTING": True,
        "IDENTITY_URL": f"sqlite:///{tmp_path}/identity.db",
        "SECRET_KEYS": KEYS,
        "COLLECTOR_URL": "https://stats.example.com",
    })
    app.extensions["cg_remember"].clock = clock
    return app


def browser(app: Flask, cookie: str | None = None) -> FlaskClient:
    """A new browser, holding only a ``cg_remember`` cookie when one is given."""
    client = app.test_client()
    if cookie is not None:
        client.set_cookie(COOKIE_NAME, cookie)
    return client


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login(client: FlaskClient, *, remember: bool, password: str = PASSWORD,
          user: str = "alice") -> TestResponse:
    data = {"csrf": csrf(client), "username": user, "password": password}
    if remember:
        data["remember"] = "yes"
    return client.post("/login", data=data)


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None,
         form_page: str = "/") -> TestResponse:
    return client.post(path, data={"csrf": csrf(client, form_page), **(data or {})})


def set_cookies(response: TestResponse, name: str) -> list[dict[str, Any]]:
    """The raw ``Set-Cookie`` headers for ``name``, parsed: ``value`` and the attributes
    with lower-case names (flags map to True)."""
    found = []
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = header.split("; ")
        key, _, value = first.partition("=")
        if key != name:
            continue
        cookie: dict[str, Any] = {"value": value}
        for attribute in attributes:
            attr, sep, attr_value = attribute.partition("=")
            cookie[attr.lower()] = attr_value if sep else True
        found.append(cookie)
    return found


def the_cookie(response: TestResponse) -> dict[str, Any]:
    (cookie,) = set_cookies(response, COOKIE_NAME)
    return cookie


def status(client: FlaskClient) -> str:
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r'<p id="status">(.*?)</p>', page.text, re.S)
    assert match
    return " ".join(match.group(1).split())


def signed_in(client: FlaskClient) -> bool:
    return status(client).startswith("Signed in as <strong>alice</strong>")


def assert_expired(cookie: dict[str, Any]) -> None:
    assert cookie["value"] == ""
    assert cookie["max-age"] == "0"
    assert parsedate_to_datetime(cookie["expires"]).timestamp() == 0
    assert cookie["path"] == "/" and "domain" not in cookie


# --- login and the cookie -----------------------------------------------------------------

def test_remember_me_login_sets_the_cookie_with_the_right_flags(example: Flask,
                                                                clock: Clock) -> None:
    response = login(browser(example), remember=True)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = the_cookie(response)
    assert re.fullmatch(r"[\w-]{22}\.[\w-]{43}\.[\w-]{43}", cookie["value"])
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "domain" not in cookie
    assert int(cookie["max-age"]) == 30 * DAY
    assert parsedate_to_datetime(cookie["expires"]).timestamp() == clock.now + 30 * DAY
    assert "private" in response.headers["Cache-Control"]


def test_login_without_remember_me_sets_no_remember_cookie_at_all(example: Flask) -> None:
    client = browser(example)
    response = login(client, remember=False)

    assert set_cookies(response, COOKIE_NAME) == []
    assert set_cookies(response, "remember_token") == []  # Flask-Login's own: never
    assert signed_in(client)
    assert client.get("/account").status_code == 200  # a password login is fresh


def test_cookie_secure_false_drops_only_the_secure_flag(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "IDENTITY_URL": f"sqlite:///{tmp_path}/id.db",
                      "SECRET_KEYS": KEYS, "COOKIE_SECURE": False})
    cookie = the_cookie(login(browser(app), remember=True))
    assert "secure" not in cookie
    assert cookie["httponly"] is True and cookie["samesite"] == "Lax"


def test_a_wrong_password_logs_nobody_in(example: Flask) -> None:
    client = browser(example)
    response = login(client, remember=True, password="not-it")
    assert response.status_code == 200 and "Wrong user name or password." in response.text
    assert set_cookies(response, COOKIE_NAME) == []
    assert login(client, remember=True, user="mallory").status_code == 200
    assert not signed_in(client)


# --- recall, rotation, freshness ----------------------------------------------------------

def test_recall_restores_the_login_not_fresh_and_rotates(example: Flask, clock: Clock) -> None:
    issued = the_cookie(login(browser(example), remember=True))
    clock.advance(10 * DAY + 0.5)
    client = browser(example, issued["value"])  # the browser was closed: no session left

    page = client.get("/")

    assert "Signed in as <strong>alice</strong> (restored by remember-me" in page.text
    rotated = the_cookie(page)
    assert rotated["value"].split(".")[0] == issued["value"].split(".")[0]
    assert rotated["value"] != issued["value"]
    assert int(rotated["max-age"]) == 20 * DAY - 1  # whole seconds left, rounded down
    assert rotated["expires"] == issued["expires"]  # the absolute expiry is carried over
    assert rotated["httponly"] and rotated["secure"] and rotated["samesite"] == "Lax"
    assert rotated["path"] == "/" and "domain" not in rotated
    assert "private" in page.headers["Cache-Control"]
    assert "Cookie" in page.headers["Vary"]

    # The session now exists: later requests neither read nor rotate the cookie.
    assert set_cookies(client.get("/"), COOKIE_NAME) == []

    # A recalled login is not fresh: the account page asks for the password first.
    account = client.get("/account")
    assert account.status_code == 302
    assert account.headers["Location"] == "/reauth?next=%2Faccount"
    wrong = post(client, "/reauth?next=/account", {"password": "nope"}, "/reauth")
    assert wrong.status_code == 200 and "Wrong password." in wrong.text
    right = post(client, "/reauth?next=/account", {"password": PASSWORD}, "/reauth")
    assert right.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200


def test_parallel_tabs_within_the_grace_window(example: Flask, clock: Clock) -> None:
    issued = the_cookie(login(browser(example), remember=True))["value"]
    tab_one, tab_two = browser(example, issued), browser(example, issued)  # sent at the same time

    first = tab_one.get("/")
    clock.advance(30)
    second = tab_two.get("/")

    assert signed_in(tab_one) and signed_in(tab_two)
    assert the_cookie(first)["value"] == the_cookie(second)["value"]
    # The rotated value works later, in a browser that lost its session again.
    assert signed_in(browser(example, the_cookie(second)["value"]))


def test_theft_after_the_grace_ends_every_login_and_tells_the_owner(
        example: Flask, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    owner_desk = browser(example)
    stolen = the_cookie(login(owner_desk, remember=True))["value"]
    owner_phone = browser(example, stolen)  # the owner's browser restarts: recalled, rotated
    assert signed_in(owner_phone)
    clock.advance(61)
    thief = browser(example, stolen)

    with caplog.at_level(logging.INFO):
        response = thief.get("/")

    assert not signed_in(thief)
    assert_expired(the_cookie(response))
    assert "alice" not in caplog.text  # logs never name the account
    assert "theft" in caplog.text
    # Every login of the account ended: remembered or not, on every browser.
    assert not signed_in(owner_phone)
    assert not signed_in(owner_desk)
    # The host was told, and tells the owner at the next sign-in.
    again = browser(example)
    login(again, remember=False)
    assert THEFT_NOTICE in again.get("/").text
    assert THEFT_NOTICE not in again.get("/").text


def test_expiry_with_a_moved_clock(example: Flask, clock: Clock) -> None:
    issued = the_cookie(login(browser(example), remember=True))["value"]
    clock.advance(30 * DAY - 2.5)
    almost = browser(example, issued).get("/")
    assert int(the_cookie(almost)["max-age"]) == 2

    clock.advance(2.5)
    client = browser(example, the_cookie(almost)["value"])
    response = client.get("/")

    assert_expired(the_cookie(response))
    assert not signed_in(client)


# --- forgetting ---------------------------------------------------------------------------

def test_logout_forgets_this_browser(example: Flask) -> None:
    client = browser(example)
    here = the_cookie(login(client, remember=True))["value"]
    there = the_cookie(login(browser(example), remember=True))["value"]

    response = post(client, "/logout")

    assert response.status_code == 302
    cookie = the_cookie(response)
    assert_expired(cookie)
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert not signed_in(client)
    assert not signed_in(browser(example, here))  # its token is gone on the server
    assert signed_in(browser(example, there))  # another browser stays remembered


def test_log_out_everywhere(example: Flask) -> None:
    desk, phone = browser(example), browser(example)
    login(desk, remember=True)
    phone_cookie = the_cookie(login(phone, remember=True))["value"]
    plain = browser(example)
    login(plain, remember=False)

    response = post(desk, "/logout-everywhere")

    assert_expired(the_cookie(response))
    assert not signed_in(desk)
    assert not signed_in(plain)  # sessions end too, not only cookies
    leftover = phone.get("/")
    assert "Not signed in" in leftover.text
    assert_expired(the_cookie(leftover))
    assert not signed_in(browser(example, phone_cookie))
    assert login(browser(example), remember=False).status_code == 302  # a new login works


def test_a_password_change_bumps_the_epoch(example: Flask) -> None:
    desk, phone = browser(example), browser(example)
    login(desk, remember=True)
    phone_cookie = the_cookie(login(phone, remember=True))["value"]

    short = post(desk, "/password", {"current": PASSWORD, "new": "short"}, "/account")
    assert short.status_code == 302 and signed_in(phone)
    response = post(desk, "/password", {"current": PASSWORD, "new": "a-new-password"},
                    "/account")

    assert response.status_code == 302
    new_cookie = the_cookie(response)["value"]  # this browser stays remembered...
    assert signed_in(desk)
    assert desk.get("/account").status_code == 200  # ...and fresh
    assert not signed_in(phone)  # every other browser is out
    assert not signed_in(browser(example, phone_cookie))
    assert signed_in(browser(example, new_cookie))
    assert login(browser(example), remember=False).status_code == 200  # the old password fails
    assert login(browser(example), remember=False, password="a-new-password").status_code == 302


# --- bad cookies --------------------------------------------------------------------------

def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


BAD = {
    "tampered": lambda c: _flip(c, 40),
    "truncated": lambda c: c[:60],
    "oversized": lambda c: c + "A" * 300,
    "garbage": lambda c: "not-a-token",
    "empty": lambda c: "",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_cookies_are_ignored_and_expired_never_an_error(example: Flask, name: str) -> None:
    genuine = the_cookie(login(browser(example), remember=True))["value"]
    client = browser(example, BAD[name](genuine))

    response = client.get("/")

    assert response.status_code == 200
    assert_expired(the_cookie(response))
    assert not signed_in(client)
    assert browser(example, BAD[name](genuine)).get("/account").status_code == 302
    assert signed_in(browser(example, genuine))  # no theft alarm was raised


def test_a_cookie_from_another_deployment_is_ignored(example: Flask) -> None:
    other = create_app({"TESTING": True, "IDENTITY_URL": example.config["IDENTITY_URL"],
                        "SECRET_KEYS": ["another-deployments-key-0000000"]})
    foreign = the_cookie(login(browser(other), remember=True))["value"]
    client = browser(example, foreign)

    response = client.get("/")

    assert response.status_code == 200
    assert_expired(the_cookie(response))
    assert not signed_in(client)


def test_an_identity_database_outage_keeps_the_site_up(example: Flask,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = the_cookie(login(browser(example), remember=True))["value"]

    def down(self: RememberStore, value: str) -> None:
        raise StorageError("the identity database is down")

    monkeypatch.setattr(RememberStore, "recall", down)
    client = browser(example, cookie)
    response = client.get("/")

    assert response.status_code == 200 and "Not signed in" in response.text
    assert set_cookies(response, COOKIE_NAME) == []  # kept for when the database is back


# --- tracking and configuration -----------------------------------------------------------

def test_the_login_is_tracked_without_the_account_id(example: Flask) -> None:
    client = browser(example)
    login_page = client.get("/login")
    assert 'src="https://stats.example.com/static/js/cleargif.js"' in login_page.text
    assert 'track("login")' not in login_page.text

    response = login(client, remember=True)
    landing = client.get(response.headers["Location"])

    assert 'cleargif.track("login")' in landing.text
    scripts = re.findall(r"<script\b[^>]*>.*?</script>", landing.text, re.S)
    urls = re.findall(r'(?:src|href|action)="([^"]*)"', landing.text)
    assert scripts and urls
    assert not any("alice" in text for text in scripts + urls)
    assert "alice" not in response.headers["Location"]
    assert 'track("login")' not in client.get("/").text  # once, not on every page


def test_missing_secret_keys_fail_closed(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEARGIF_SECRET_KEYS", raising=False)
    with pytest.raises(ConfigError) as info:
        create_app({"IDENTITY_URL": f"sqlite:///{tmp_path}/id.db"})
    assert info.value.key == "SECRET_KEYS"


def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARGIF_SECRET_KEYS", "env-old-key-000000000000,env-new-key-00000000")
    monkeypatch.setenv("CLEARGIF_IDENTITY_URL", f"sqlite:///{tmp_path}/id.db")
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "env-new-key-00000000"
    assert app.config["SECRET_KEY_FALLBACKS"] == ["env-old-key-000000000000"]
    assert signed_in(browser(app, the_cookie(login(browser(app), remember=True))["value"]))


# --- the glue without Flask-Login ---------------------------------------------------------

def make_bare_app(tmp_path: Path, clock: Clock, thefts: list[str]) -> Flask:
    """A host app with its own session login and no Flask-Login."""
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="bare-session-key-0000000000000",
                      IDENTITY_URL=f"sqlite:///{tmp_path}/bare.db",
                      SECRET_KEYS=KEYS, REMEMBER_DAYS=7, COOKIE_SECURE="false")

    def load(account: str) -> bool:
        session["user"] = account
        return account != "deleted"

    remember = Remember(login_loader=load, is_logged_in=lambda: "user" in session,
                        on_theft=thefts.append, clock=clock)
    remember.init_app(app)

    @app.post("/login/<name>")
    def log_in(name: str) -> Any:
        session["user"] = name
        response = jsonify(ok=True)
        remember.remember(response, name)
        return response

    @app.get("/me")
    def me() -> Any:
        return jsonify(user=session.get("user"), fresh=remember.is_fresh())

    @app.post("/confirm")
    def confirm() -> Any:
        remember.mark_fresh()
        return jsonify(fresh=remember.is_fresh())

    return app


def test_glue_without_flask_login(tmp_path: Path, clock: Clock) -> None:
    thefts: list[str] = []
    app = make_bare_app(tmp_path, clock, thefts)
    response = app.test_client().post("/login/bob")
    cookie = the_cookie(response)  # exactly one Set-Cookie for it
    assert int(cookie["max-age"]) == 7 * DAY and "secure" not in cookie

    client = browser(app, cookie["value"])
    assert client.get("/me").json == {"user": "bob", "fresh": False}
    assert client.post("/confirm").json == {"fresh": True}

    clock.advance(120)
    assert browser(app, cookie["value"]).get("/me").json == {"user": None, "fresh": True}
    assert thefts == ["bob"]


def test_glue_ends_the_token_of_an_account_the_host_refuses(tmp_path: Path,
                                                            clock: Clock) -> None:
    app = make_bare_app(tmp_path, clock, [])
    cookie = the_cookie(app.test_client().post("/login/deleted"))["value"]
    response = browser(app, cookie).get("/me")
    assert_expired(the_cookie(response))
    with app.test_request_context():
        store = app.extensions["cg_remember"].store
        assert store.recall(cookie).reason == "unknown"


def test_glue_kept_to_one_blueprint(tmp_path: Path, clock: Clock) -> None:
    """``init_app(app, blueprint=...)``: the rest of the app never reads the cookie, and the
    keys may come from elsewhere than ``app.config``."""
    from flask import Blueprint

    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="bare-session-key-0000000000000",
                      IDENTITY_URL=f"sqlite:///{tmp_path}/bp.db", COOKIE_SECURE=False)
    area = Blueprint("area", __name__, url_prefix="/area")

    @area.get("/me")
    def area_me() -> Any:
        return jsonify(user=session.get("user"))

    @app.get("/elsewhere")
    def elsewhere() -> Any:
        return jsonify(user=session.get("user"))

    app.register_blueprint(area)

    def load(account: str) -> bool:
        session["user"] = account
        return True

    remember = Remember(login_loader=load, is_logged_in=lambda: "user" in session,
                        clock=clock, secret_keys=lambda: KEYS)
    remember.init_app(app, blueprint="area")  # after the blueprint's registration too
    with app.test_request_context("/area/me"):
        cookie = remember.store.issue("carol").cookie_value

    outside = browser(app, cookie)
    response = outside.get("/elsewhere")
    assert response.json == {"user": None} and not set_cookies(response, COOKIE_NAME)
    inside = browser(app, cookie)
    response = inside.get("/area/me")
    assert response.json == {"user": "carol"} and the_cookie(response)["value"] != cookie


def test_glue_needs_its_callbacks(tmp_path: Path) -> None:
    app = Flask(__name__)
    app.config.update(IDENTITY_URL=f"sqlite:///{tmp_path}/x.db", SECRET_KEYS=KEYS)
    Remember(app)
    with app.test_request_context(headers={"Cookie": f"{COOKIE_NAME}=x"}), \
            pytest.raises(ConfigError) as info:
        app.preprocess_request()
    assert info.value.key == "login_loader"


@pytest.mark.parametrize(("config", "key"), [
    ({"SECRET_KEYS": None}, "SECRET_KEYS"),
    ({"SECRET_KEYS": "[not json"}, "SECRET_KEYS"),
    ({"REMEMBER_DAYS": 0}, "REMEMBER_DAYS"),
    ({"REMEMBER_DAYS": 401}, "REMEMBER_DAYS"),
    ({"IDENTITY_URL": "mysql://db/cleargif"}, "IDENTITY_URL"),
    ({"IDENTITY_URL": None}, "IDENTITY_URL"),
    ({"REMEMBER_DAYS": "9" * 5000}, "REMEMBER_DAYS"),
    ({"REMEMBER_DAYS": "\u00b2"}, "REMEMBER_DAYS"),  # "²".isdigit(), yet int() refuses it
    ({"SECRET_KEYS": [32]}, "SECRET_KEYS"),
    ({"SECRET_KEYS": ["\ud800" * 20]}, "SECRET_KEYS"),
    ({"SECRET_KEYS": '["a-long-enough-key-000000001", ""]'}, "SECRET_KEYS"),
], ids=["keys-none", "keys-bad-json", "days-0", "days-401", "mysql", "url-none",
        "days-5000-digits", "days-superscript", "keys-int", "keys-surrogates", "keys-empty"])
def test_glue_configuration_errors_name_the_key(tmp_path: Path, config: dict[str, Any],
                                                key: str) -> None:
    app = Flask(__name__)
    app.config.update(IDENTITY_URL=f"sqlite:///{tmp_path}/x.db", SECRET_KEYS=KEYS)
    app.config.update(config)
    remember = Remember(app)
    with app.test_request_context(), pytest.raises(ConfigError) as info:
        remember.store  # noqa: B018  # building the store validates the configuration
    assert info.value.key == key
    assert str(info.value)[:1].isupper() and len(str(info.value)) < 250


@pytest.mark.parametrize("response", ["bob", 0, b"", {}],
                         ids=["str", "int", "bytes", "dict"])
def test_remember_refuses_what_is_not_a_response_and_changes_nothing(
        tmp_path: Path, clock: Clock, response: Any) -> None:
    app = make_bare_app(tmp_path, clock, [])
    cookie = the_cookie(app.test_client().post("/login/bob"))["value"]
    remember = app.extensions["cg_remember"]
    with app.test_request_context(headers={"Cookie": f"{COOKIE_NAME}={cookie}"}):
        # The old argument order, remember(account, response) or remember("bob", ...).
        with pytest.raises(ValueError, match=r"^The response must be .+\.$"):
            remember.remember(response, "bob")
        assert remember.store.recall(cookie).account == "bob"  # the old token lives on


@pytest.mark.parametrize("account", ["\ud800", "", 5, "x" * 257],
                         ids=["surrogate", "empty", "int", "too-long"])
def test_remember_refuses_bad_account_ids_and_changes_nothing(
        tmp_path: Path, clock: Clock, account: Any) -> None:
    app = make_bare_app(tmp_path, clock, [])
    cookie = the_cookie(app.test_client().post("/login/bob"))["value"]
    remember = app.extensions["cg_remember"]
    with app.test_request_context(headers={"Cookie": f"{COOKIE_NAME}={cookie}"}):
        with pytest.raises(ValueError, match=r"^The account id .+\.$"):
            remember.remember(None, account)
        assert remember.store.recall(cookie).account == "bob"
        for call in (remember.epoch, remember.forget_everywhere, remember.bump_epoch):
            with pytest.raises(ValueError, match=r"^The account id .+\.$"):
                call(account)


@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "/\\evil.example", "https://evil.example/",
                                    "javascript:alert(1)"])
def test_login_never_redirects_off_site(example: Flask, target: str) -> None:
    client = example.test_client()
    data = {"csrf": csrf(client), "username": "alice", "password": PASSWORD}
    r = client.post("/login", query_string={"next": target}, data=data)
    assert r.status_code in (302, 303)
    assert r.headers["Location"] == "/", r.headers["Location"]
