"""Consent rules: the pure functions as tables, then the endpoints through real headers."""

from __future__ import annotations

from typing import Any

import pytest

from collector.config import load_config
from collector.consent import rules as c
from collector.consent.idcookies import IdSigner
from collector.consent.registry import build_registry
from tests.conftest import SITE, events, set_cookies

NOW = 1_800_000_000
DAY = 86400


def payload(granted: tuple[str, ...] = ("analytics",), revision: int = 1, age: int = 0,
            override: bool = False) -> c.ConsentPayload:
    return c.ConsentPayload(subject_id="a" * 32, receipt_id="b" * 32, revision=revision,
                            granted=granted, decided_at=NOW - age, gpc_override=override)


ALL = ("analytics", "personalization", "marketing")
IDS = IdSigner(["test-secret-key-0123456789abcdef"])


# state, dnt, gpc, revision, age, override -> decided, analytics, personalization, marketing
EVALUATE = [
    (None, False, False, 1, 0, False, (False, False, False, False)),
    (ALL, False, False, 1, 0, False, (True, True, True, True)),
    (ALL, True, False, 1, 0, False, (True, False, False, True)),  # DNT: standing refusal
    (ALL, False, True, 1, 0, False, (True, True, True, False)),  # GPC denies marketing
    (ALL, False, True, 1, 0, True, (True, True, True, True)),  # unless the dialog granted it
    (ALL, True, True, 1, 0, True, (True, False, False, True)),
    (ALL, False, False, 2, 0, False, (False, False, False, False)),  # revision bumped
    (ALL, False, False, 1, 181 * DAY, False, (False, False, False, False)),  # expired
    (ALL, False, False, 1, 179 * DAY, False, (True, True, True, True)),
    (("analytics",), False, False, 1, 0, False, (True, True, False, False)),
    ((), False, False, 1, 0, False, (True, False, False, False)),  # reject all
    (ALL, False, False, 1, -3600, False, (False, False, False, False)),  # from the future
]


@pytest.mark.parametrize(("granted", "dnt", "gpc", "revision", "age", "override", "want"),
                         EVALUATE)
def test_evaluate(granted: Any, dnt: bool, gpc: bool, revision: int, age: int, override: bool,
                  want: tuple[bool, ...]) -> None:
    p = None if granted is None else payload(granted, 1, age, override)
    state = c.evaluate(p, revision=revision, consent_days=180, now=NOW, dnt=dnt, gpc=gpc)
    got = (state.decided, state.granted("analytics"), state.granted("personalization"),
           state.granted("marketing"))
    assert got == want
    assert state.granted("necessary")


# requested, source, override, dnt, gpc -> granted
DECIDE = [
    (dict.fromkeys(ALL, True), "banner-accept-all", False, False, False, ALL),
    (dict.fromkeys(ALL, True), "banner-accept-all", True, False, True,
     ("analytics", "personalization")),  # accept-all never grants marketing under GPC
    (dict.fromkeys(ALL, True), "dialog", True, False, True, ALL),
    (dict.fromkeys(ALL, True), "dialog", False, False, True, ("analytics", "personalization")),
    (dict.fromkeys(ALL, True), "api", True, False, True, ("analytics", "personalization")),
    (dict.fromkeys(ALL, True), "dialog", False, True, False, ("marketing",)),
    ({"analytics": True}, "dialog", False, False, False, ("analytics",)),
    ({}, "banner-reject-all", False, False, False, ()),
]


@pytest.mark.parametrize(("requested", "source", "override", "dnt", "gpc", "want"), DECIDE)
def test_decide(requested: dict[str, bool], source: str, override: bool, dnt: bool, gpc: bool,
                want: tuple[str, ...]) -> None:
    d = c.decide(requested, source=source, gpc_override=override, dnt=dnt, gpc=gpc)
    assert d.granted == want
    assert set(d.granted) | set(d.denied) == set(ALL)


@pytest.mark.parametrize(("counting", "decided", "analytics", "dnt", "want"), [
    ("until-refused", False, False, False, (True, False)),
    ("until-refused", True, False, False, (False, False)),
    ("until-refused", False, False, True, (False, False)),
    ("until-refused", True, True, False, (True, True)),
    ("always", True, False, False, (True, False)),
    ("always", False, False, True, (True, False)),
    ("never", False, False, False, (False, False)),
    ("never", True, True, False, (True, True)),
])
def test_hit_policy(counting: str, decided: bool, analytics: bool, dnt: bool,
                    want: tuple[bool, bool]) -> None:
    p = payload(("analytics",) if analytics else ()) if decided else None
    state = c.evaluate(p, revision=1, consent_days=180, now=NOW, dnt=dnt, gpc=False)
    policy = c.hit_policy(state, counting)
    assert (policy.store, policy.with_ids) == want


@pytest.fixture
def registry() -> Any:
    return build_registry(load_config({"DATA_DIR": "x", "SERVICES": [
        {"name": "Google Analytics", "purpose": "marketing", "cookies": ["_ga", "_ga_*"]}]},
        environ={}))


def test_plan_issues_and_keeps_ids(registry: Any) -> None:
    state = c.evaluate(payload(ALL), revision=1, consent_days=180, now=NOW, dnt=False,
                       gpc=False)
    plan = c.plan_cookies(state, {}, now=NOW, visitor_days=390, registry=registry, ids=IDS)
    names = {s.name: s for s in plan.set}
    assert names["cg_sid"].max_age is None  # a browser-session cookie
    assert names["cg_vid"].max_age == 390 * DAY
    assert plan.new_visit
    again = c.plan_cookies(state, {"cg_sid": names["cg_sid"].value,
                                   "cg_vid": names["cg_vid"].value},
                           now=NOW + 10, visitor_days=390, registry=registry, ids=IDS)
    assert again.session_id == plan.session_id and again.visitor_id == plan.visitor_id
    assert again.set == ()  # nothing re-sent within a minute; cg_vid never extended


def test_plan_visit_ends_after_idle(registry: Any) -> None:
    state = c.evaluate(payload(("analytics",)), revision=1, consent_days=180, now=NOW,
                       dnt=False, gpc=False)
    sid = "c" * 32
    same = c.plan_cookies(state, {"cg_sid": IDS.stamp("cg_sid", sid, NOW - 29 * 60)}, now=NOW,
                          visitor_days=390, registry=registry, ids=IDS)
    assert same.session_id == sid and same.set  # refreshed last-seen
    ended = c.plan_cookies(state, {"cg_sid": IDS.stamp("cg_sid", sid, NOW - 31 * 60)}, now=NOW,
                           visitor_days=390, registry=registry, ids=IDS)
    assert ended.session_id != sid and ended.new_visit


def test_plan_visitor_expiry_is_fixed(registry: Any) -> None:
    state = c.evaluate(payload(("analytics", "personalization")), revision=1,
                       consent_days=180, now=NOW, dnt=False, gpc=False)
    vid = "d" * 32
    old = c.plan_cookies(state, {"cg_vid": IDS.stamp("cg_vid", vid, NOW - 391 * DAY)},
                         now=NOW,
                         visitor_days=390, registry=registry, ids=IDS)
    assert old.visitor_id != vid


OTHER_KEY = IdSigner(["another-collector-key-0000000001"])
MD5_OF_EMAIL = "9e26471d35a78862c17e467d87cddedf"  # md5("jane@example.com")


@pytest.mark.parametrize("forged", [
    "jane@example.com", "x" * 32 + ".1", "a" * 32, "A" * 32 + ".1700000000", "", "1.2.3.4",
    f"{MD5_OF_EMAIL}.{NOW}",  # unsigned: an id a page script derived from an address
    f"{MD5_OF_EMAIL}.{NOW}." + "0" * 32,  # a made-up MAC
    OTHER_KEY.stamp("cg_sid", MD5_OF_EMAIL, NOW),  # signed, but not by this collector
    IDS.stamp("cg_sid", MD5_OF_EMAIL, NOW)[:-1],  # truncated
])
def test_plan_never_keeps_forged_ids(registry: Any, forged: str) -> None:
    state = c.evaluate(payload(ALL), revision=1, consent_days=180, now=NOW, dnt=False,
                       gpc=False)
    plan = c.plan_cookies(state, {"cg_sid": forged, "cg_vid": forged}, now=NOW,
                          visitor_days=390, registry=registry, ids=IDS)
    assert plan.session_id and plan.session_id not in forged
    assert plan.visitor_id and plan.visitor_id not in forged


def test_stale_cookies_by_registry(registry: Any) -> None:
    state = c.evaluate(payload(("analytics",)), revision=1, consent_days=180, now=NOW,
                       dnt=False, gpc=False)
    stale = c.stale_cookies(state, ["cg_sid", "cg_vid", "_ga", "_ga_XYZ", "cg_consent",
                                    "cg_remember", "unrelated"], registry)
    assert stale == ["cg_vid", "_ga", "_ga_XYZ"]


# --- the endpoints, read from real Set-Cookie headers ------------------------------------

def post_consent(client: Any, purposes: dict[str, bool], *, headers: dict[str, str] | None = None,
                 **extra: Any) -> Any:
    h = {"Origin": SITE}
    h.update(headers or {})
    return client.post("/consent", json={"purposes": purposes, **extra}, headers=h)


def test_no_cookie_before_consent(client: Any) -> None:
    r = client.get("/t.gif?p=/", headers={"Origin": SITE})
    assert r.status_code == 200
    assert r.headers.getlist("Set-Cookie") == []
    r = client.get("/consent", headers={"Origin": SITE})
    assert r.headers.getlist("Set-Cookie") == []
    assert r.json == {"revision": 1, "decided": False, "purposes": {
        "necessary": True, "analytics": False, "personalization": False, "marketing": False},
        "chosen": None, "gpc": False, "dnt": False, "gpc_override": False,
        "decided_at": None}


# choice, headers -> the cookies the response sets (not expired)
COOKIE_TABLE = [
    ({}, {}, {"cg_consent"}),
    ({"analytics": True}, {}, {"cg_consent", "cg_sid"}),
    ({"personalization": True}, {}, {"cg_consent", "cg_vid"}),
    (dict.fromkeys(ALL, True), {}, {"cg_consent", "cg_sid", "cg_vid"}),
    (dict.fromkeys(ALL, True), {"DNT": "1"}, {"cg_consent"}),
    (dict.fromkeys(ALL, True), {"Sec-GPC": "1"}, {"cg_consent", "cg_sid", "cg_vid"}),
    ({"marketing": True}, {}, {"cg_consent"}),  # marketing sets no first-party cookie
]


@pytest.mark.parametrize(("choice", "headers", "want"), COOKIE_TABLE)
def test_consent_cookies(client: Any, choice: dict[str, bool], headers: dict[str, str],
                         want: set[str]) -> None:
    r = post_consent(client, choice, headers=headers)
    assert r.status_code == 200, r.json
    cookies = set_cookies(r)
    live = {n for n, v in cookies.items() if any(a["max_age"] != 0 for a in v)}
    assert live == want
    consent = cookies["cg_consent"][0]
    assert consent["httponly"] and consent["secure"] and consent["samesite"] == "Lax"
    assert consent["max_age"] == 180 * DAY and consent["path"] == "/"
    assert consent["domain"] is None
    if "cg_sid" in want:
        sid = cookies["cg_sid"][0]
        assert sid["max_age"] is None and sid["expires"] is None
        assert sid["httponly"] and sid["secure"] and sid["samesite"] == "Lax"
    if "cg_vid" in want:
        vid = cookies["cg_vid"][0]
        assert vid["max_age"] == 390 * DAY and vid["httponly"] and vid["secure"]


def test_withdrawal_expires_cookies_in_both_forms(tmp_path: Any) -> None:
    from collector import create_app
    from tests.conftest import make_config

    app = create_app(make_config(tmp_path, COOKIE_DOMAIN="example.com"))
    client = app.test_client()
    base = "https://stats.example.com"
    r = client.post("/consent", json={"purposes": dict.fromkeys(ALL, True)},
                    headers={"Origin": SITE}, base_url=base)
    cookies = set_cookies(r)
    assert cookies["cg_sid"][0]["domain"] == "example.com"
    r = client.delete("/consent", headers={"Origin": SITE}, base_url=base)
    assert r.status_code == 200 and r.json["decided"] is True
    cookies = set_cookies(r)
    for name in ("cg_sid", "cg_vid"):
        forms = {a["domain"] for a in cookies[name] if a["max_age"] == 0}
        assert forms == {None, "example.com"}, name
    assert cookies["cg_consent"][0]["max_age"] == 180 * DAY  # the refusal is kept


def test_stale_cookies_expire_on_any_response(client: Any, app: Any) -> None:
    post_consent(client, {"analytics": True})
    for path in ("/t.gif?p=/", "/consent", "/t"):
        # a cookie of an ungranted purpose arrives (left over from an earlier choice)
        client.set_cookie("cg_vid", "e" * 32 + ".1700000000", domain="localhost")
        client.set_cookie("_ga", "GA1.1.123", domain="localhost")
        if path == "/t":
            r = client.post(path, json={"p": "/"}, headers={"Origin": SITE})
        else:
            r = client.get(path, headers={"Origin": SITE})
        cookies = set_cookies(r)
        assert cookies["cg_vid"][0]["max_age"] == 0, path


@pytest.mark.parametrize("path", ["/consent/config", "/healthz", "/static/js/cleargif.js",
                                  "/api/v1/aggregate", "/nope"])
def test_every_response_expires_stale_cookies(client: Any, path: str) -> None:
    post_consent(client, {"analytics": True})
    client.set_cookie("cg_vid", "e" * 32 + ".1700000000", domain="localhost")
    client.set_cookie("_ga", "GA1.1.123", domain="localhost")
    resp = client.get(path, headers={"Origin": SITE})
    resp.close()  # the static file's handle
    cookies = set_cookies(resp)
    assert cookies["cg_vid"][0]["max_age"] == 0, path
    assert "cg_sid" not in cookies and "cg_consent" not in cookies  # granted ones stay


def test_email_endpoints_leave_cookies_alone(client: Any) -> None:
    client.set_cookie("cg_vid", "e" * 32 + ".1700000000", domain="localhost")
    for path in ("/o/bad.gif", "/c/bad", "/u/bad"):
        assert client.get(path).headers.getlist("Set-Cookie") == []


def same_browser(old: Any, new: Any) -> Any:
    """``new`` with the cookies the browser of ``old`` holds (another app, one browser)."""
    for name in ("cg_consent", "cg_sid", "cg_vid"):
        cookie = old.get_cookie(name)
        if cookie is not None:
            new.set_cookie(cookie.key, cookie.value)
    return new


@pytest.mark.parametrize("bump", ["revision", "age", "dnt"])
def test_undecided_again_expires_purpose_cookies(tmp_path: Any, bump: str) -> None:
    from collector import create_app
    from tests.conftest import make_config

    app = create_app(make_config(tmp_path))
    client = app.test_client()
    post_consent(client, dict.fromkeys(ALL, True))
    headers = {"Origin": SITE}
    if bump == "revision":
        app = create_app(make_config(tmp_path, POLICY_REVISION=2))
        client = same_browser(client, app.test_client())
    elif bump == "age":
        import collector.clock as clock

        real = clock.now
        clock.now = lambda: real() + 181 * DAY  # type: ignore[assignment]
    else:
        headers["DNT"] = "1"
    try:
        r = client.get("/t.gif?p=/", headers=headers)
        cookies = set_cookies(r)
        assert cookies["cg_sid"][0]["max_age"] == 0
        assert cookies["cg_vid"][0]["max_age"] == 0
        state = client.get("/consent", headers=headers).json
        assert state["purposes"]["analytics"] is False
    finally:
        if bump == "age":
            clock.now = real  # type: ignore[assignment]


def test_gpc_state_and_override(client: Any) -> None:
    r = post_consent(client, dict.fromkeys(ALL, True), headers={"Sec-GPC": "1"},
                     source="banner-accept-all", gpc_override=True)
    assert r.json["purposes"]["marketing"] is False and r.json["gpc"] is True
    r = post_consent(client, dict.fromkeys(ALL, True), headers={"Sec-GPC": "1"},
                     source="dialog", gpc_override=True)
    assert r.json["purposes"]["marketing"] is True
    # "Sec-GPC: 1" exactly; other values are not GPC
    r = client.get("/consent", headers={"Sec-GPC": "true"})
    assert r.json["gpc"] is False


def test_dnt_can_be_ignored_by_config(tmp_path: Any) -> None:
    from collector import create_app
    from tests.conftest import make_config

    client = create_app(make_config(tmp_path, HONOR_DNT=False)).test_client()
    r = post_consent(client, {"analytics": True}, headers={"DNT": "1"})
    assert r.json["purposes"]["analytics"] is True and r.json["dnt"] is False


def test_forged_consent_cookie_is_ignored(client: Any) -> None:
    client.set_cookie("cg_consent", "eyJzY2hlbWEiOjF9.forged", domain="localhost")
    r = client.get("/consent")
    assert r.status_code == 200 and r.json["decided"] is False


def test_consent_cookie_signed_by_old_key_verifies(tmp_path: Any) -> None:
    from collector import create_app
    from tests.conftest import SECRET, make_config

    old = create_app(make_config(tmp_path)).test_client()
    post_consent(old, {"analytics": True})
    rotated = same_browser(old, create_app(make_config(
        tmp_path, SECRET_KEYS=[SECRET, "n" * 32])).test_client())
    assert rotated.get("/consent").json["decided"] is True
    dropped = same_browser(old, create_app(make_config(
        tmp_path, SECRET_KEYS=["n" * 32])).test_client())
    assert dropped.get("/consent").json["decided"] is False


def test_form_post(client: Any) -> None:
    r = client.post("/consent", data={"choice": "accept_all"}, headers={"Origin": SITE})
    assert r.status_code == 200 and r.json["purposes"]["analytics"] is True
    r = client.post("/consent", data={"analytics": "on", "return_to": SITE + "/x"},
                    headers={"Origin": SITE})
    assert r.status_code == 303 and r.headers["Location"] == SITE + "/x"
    assert "cg_consent" in set_cookies(r)


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"purposes": 1}',
                                  b'{"purposes": {"spying": true}}',
                                  b'{"purposes": {"analytics": "yes"}}',
                                  b'{"purposes": {}, "source": "x"}', b"\xff\xfe",
                                  b'{"purposes": {}, "lang": 5}'])
def test_bad_consent_bodies(client: Any, body: bytes) -> None:
    r = client.post("/consent", data=body, headers={"Origin": SITE,
                                                    "Content-Type": "application/json"})
    assert r.status_code == 400
    assert isinstance(r.json["error"], str) and r.json["error"].endswith(".")
    assert r.headers.getlist("Set-Cookie") == []


def test_receipt_written_per_decision(client: Any, app: Any) -> None:
    post_consent(client, dict.fromkeys(ALL, True), lang="de")
    post_consent(client, {}, source="banner-reject-all")
    rows = list(app.extensions["cleargif"].identity.receipt_rows())
    assert len(rows) == 2
    import json

    first, second = (json.loads(r.body) for r in rows)
    assert first["subject_id"] == second["subject_id"]  # the same browser
    assert first["receipt_id"] != second["receipt_id"]
    assert first["lang"] == "de" and first["source"] == "banner-accept-all"
    assert second["granted"] == ["necessary"] and second["source"] == "banner-reject-all"
    assert set(first) == {"schema", "receipt_id", "subject_id", "time", "revision",
                          "notice_sha256", "lang", "granted", "denied", "gpc_override",
                          "source", "gpc", "dnt", "withdraw"}
    assert rows[1].prev_hash == rows[0].hash


def test_receipt_of_a_dnt_decision_hashes_the_dnt_notice(client: Any, app: Any) -> None:
    # Under DNT the banner says that nothing is counted; the receipt proves that wording.
    import json

    from collector.consent.texts import notice, notice_hash

    post_consent(client, {"marketing": True}, lang="en", headers={"DNT": "1"})
    post_consent(client, {"marketing": True}, lang="en")
    dnt, plain = (json.loads(r.body)
                  for r in app.extensions["cleargif"].identity.receipt_rows())
    assert dnt["dnt"] is True and plain["dnt"] is False
    assert dnt["notice_sha256"] == notice_hash("en", "until-refused", 1, dnt=True)
    assert plain["notice_sha256"] == notice_hash("en", "until-refused", 1)
    assert dnt["notice_sha256"] != plain["notice_sha256"]
    assert "Do Not Track" in notice("en", "until-refused", dnt=True)["counting"]


@pytest.mark.parametrize("counting", ["until-refused", "always", "never"])
def test_config_serves_the_counting_sentence_for_dnt_too(tmp_path: Any, counting: str) -> None:
    from collector import create_app
    from collector.consent.texts import COUNTING, COUNTING_DNT
    from tests.conftest import make_config

    app = create_app(make_config(tmp_path, ANONYMOUS_COUNTING=counting))
    client = app.test_client()
    try:
        for lang in ("en", "de", "ar"):
            texts = client.get(f"/consent/config?lang={lang}").json["texts"]
            assert texts["counting"] == COUNTING[lang][counting]
            assert texts["counting_dnt"] == COUNTING_DNT[lang][counting]
            # The same answer for every visitor: the snippet picks by GET /consent's dnt.
            assert client.get(f"/consent/config?lang={lang}",
                              headers={"DNT": "1"}).json["texts"] == texts
        # Under DNT nothing is counted, except hits without ids when counting "always".
        english = COUNTING_DNT["en"][counting]
        assert "Do Not Track" in english
        assert ("count nothing" in english) == (counting != "always")
    finally:
        app.extensions["cleargif"].close()


def test_config_endpoint(client: Any) -> None:
    r = client.get("/consent/config?lang=ar")
    body = r.json
    assert body["lang"] == "ar" and body["texts"]["dir"] == "rtl"
    assert {c["name"] for c in body["cookies"]} >= {"cg_consent", "cg_sid", "cg_vid",
                                                    "cg_remember"}
    assert body["counting"] == "until-refused" and body["revision"] == 1
    assert client.get("/consent/config?lang=de-AT").json["lang"] == "de"
    assert client.get("/consent/config?lang=zz").json["lang"] == "en"


def test_api_decisions_are_recorded_as_api(client: Any, app: Any) -> None:
    """A server-to-server call (no Origin, no Sec-Fetch-Site) is not a banner click."""
    import json

    client.post("/consent", json={"purposes": dict.fromkeys(ALL, True)},
                headers={"Referer": f"{SITE}/"})
    [row] = app.extensions["cleargif"].identity.receipt_rows()
    assert json.loads(row.body)["source"] == "api"


@pytest.mark.parametrize("body,content_type", [
    (b"", "application/x-www-form-urlencoded"),
    (b"lang=de", "application/x-www-form-urlencoded"),
    (b"garbage", "multipart/form-data"),
    (b"--x\r\nnot a part\r\n--x--\r\n", "multipart/form-data; boundary=x"),
])
def test_a_form_without_a_choice_records_nothing(client: Any, app: Any, body: bytes,
                                                 content_type: str) -> None:
    r = client.post("/consent", data=body, headers={"Origin": SITE,
                                                    "Content-Type": content_type})
    assert r.status_code == 400 and "choice" in r.json["error"]
    assert r.headers.getlist("Set-Cookie") == []
    assert list(app.extensions["cleargif"].identity.receipt_rows()) == []


def test_a_form_saving_nothing_checked_is_a_refusal(client: Any) -> None:
    r = client.post("/consent", data={"choice": "save"}, headers={"Origin": SITE})
    assert r.status_code == 200 and not any(
        r.json["purposes"][p] for p in ("analytics", "personalization", "marketing"))


@pytest.mark.parametrize("purposes,override,via_api,expected", [
    (dict.fromkeys(ALL, True), False, False, "banner-accept-all"),
    (dict.fromkeys(ALL, True), True, False, "dialog"),  # only the dialog sends the override
    (dict.fromkeys(ALL, False), False, False, "banner-reject-all"),
    ({"analytics": True, "personalization": False, "marketing": False}, False, False,
     "dialog"),
    (dict.fromkeys(ALL, True), True, True, "api"),
])
def test_infer_source(purposes: dict[str, bool], override: bool, via_api: bool,
                      expected: str) -> None:
    assert c.infer_source(purposes, None, via_api, override) == expected
    assert c.infer_source(purposes, "dialog", via_api, override) == "dialog"


def test_gpc_override_without_a_source_grants_marketing(client: Any) -> None:
    r = client.post("/consent", json={"purposes": dict.fromkeys(ALL, True),
                                      "gpc_override": True},
                    headers={"Origin": SITE, "Sec-GPC": "1"})
    assert r.status_code == 200 and r.json["purposes"]["marketing"] is True


@pytest.mark.parametrize("body", [b"[" * 1500 + b"]" * 1500,
                                  b'{"purposes": {"analytics": true}, "lang": "\\ud800"}'])
def test_deep_or_surrogate_consent_bodies_are_refused(client: Any, body: bytes) -> None:
    r = client.post("/consent", data=body, headers={"Origin": SITE,
                                                    "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["error"].endswith(".")


@pytest.mark.parametrize("target", [
    "https://evil.example/x", "//evil.example/x", "javascript:alert(1)", "/relative",
    "https://www.example.com\\@evil.example/", "https://user@www.example.com/",
    "https://www.example.com/\r\nSet-Cookie: x=1", "http://[::1", "https://[", "",
    "https://www.example.com:99999/",
])
def test_return_to_never_leaves_the_listed_sites(client: Any, target: str) -> None:
    r = client.post("/consent", data={"choice": "reject_all", "return_to": target},
                    headers={"Origin": SITE})
    assert r.status_code == 200 and "Location" not in r.headers
    assert r.json["decided"] is True


@pytest.mark.parametrize(("body", "marketing", "override"), [
    ({"purposes": dict.fromkeys(ALL, True), "gpc": True, "source": "banner-accept-all"},
     False, False),
    ({"purposes": dict.fromkeys(ALL, True), "gpc": True, "gpc_override": True,
      "source": "dialog"}, True, True),
    ({"purposes": dict.fromkeys(ALL, True), "gpc": False, "source": "banner-accept-all"},
     True, False),
])
def test_gpc_seen_by_the_page_counts_as_gpc(client: Any, app: Any, body: dict[str, Any],
                                            marketing: bool, override: bool) -> None:
    """navigator.globalPrivacyControl without a Sec-GPC header: the page says so, and the
    decision and its receipt treat it as GPC (which can only deny)."""
    import json

    r = client.post("/consent", json=body, headers={"Origin": SITE})
    assert r.status_code == 200
    assert r.json["purposes"]["marketing"] is marketing and r.json["gpc"] is body["gpc"]
    [row] = app.extensions["cleargif"].identity.receipt_rows()
    receipt = json.loads(row.body)
    assert receipt["gpc"] is body["gpc"] and receipt["gpc_override"] is override
    assert ("marketing" in receipt["granted"]) is marketing


def test_get_consent_says_when_the_dialog_overrode_gpc(client: Any) -> None:
    """The page may see GPC that no header carries; after a reload (or on another page of
    the site, whose local copy is its own) only the state tells it of the override."""
    body = {"purposes": dict.fromkeys(ALL, True), "gpc": True, "gpc_override": True,
            "source": "dialog"}
    assert client.post("/consent", json=body, headers={"Origin": SITE}).status_code == 200
    state = client.get("/consent").json
    assert state["purposes"]["marketing"] is True and state["gpc_override"] is True
    body = {"purposes": dict.fromkeys(ALL, True), "source": "banner-accept-all"}
    client.post("/consent", json=body, headers={"Origin": SITE})
    assert client.get("/consent").json["gpc_override"] is False


def test_gpc_in_the_body_must_be_a_boolean(client: Any) -> None:
    r = client.post("/consent", json={"purposes": {}, "gpc": "yes"}, headers={"Origin": SITE})
    assert r.status_code == 400 and r.json["error"] == '"gpc" must be true or false.'


def test_id_cookies_are_bound_to_their_name_and_keys(registry: Any) -> None:
    state = c.evaluate(payload(ALL), revision=1, consent_days=180, now=NOW, dnt=False,
                       gpc=False)
    sid = IDS.stamp("cg_sid", "e" * 32, NOW)
    swapped = c.plan_cookies(state, {"cg_vid": sid}, now=NOW, visitor_days=390,
                             registry=registry, ids=IDS)
    assert swapped.visitor_id != "e" * 32  # a session id is not a visitor id
    rotated = IdSigner(["test-secret-key-0123456789abcdef",  # oldest first
                          "another-collector-key-0000000001"])
    kept = c.plan_cookies(state, {"cg_sid": sid}, now=NOW + 5, visitor_days=390,
                          registry=registry, ids=rotated)
    assert kept.session_id == "e" * 32  # an older listed key still verifies
    assert IDS.parse("cg_sid", rotated.stamp("cg_sid", "e" * 32, NOW)) is None  # newest signs


def test_a_planted_id_cookie_never_reaches_the_events(client: Any, app: Any) -> None:
    """A page script can write cg_vid for the site's domain: a value it made up (here a
    hash of an email address) is replaced, never stored."""
    r = client.post("/consent", json={"purposes": dict.fromkeys(ALL, True)},
                    headers={"Origin": SITE})
    assert r.status_code == 200
    client.set_cookie("cg_vid", f"{MD5_OF_EMAIL}.{NOW}", domain="localhost")
    client.set_cookie("cg_sid", f"{MD5_OF_EMAIL}.{NOW}", domain="localhost")
    r = client.get("/t.gif?p=/x", headers={"Origin": SITE})
    assert r.status_code == 200
    [event] = events(app)
    assert event["visitor_id"] and MD5_OF_EMAIL not in (event["visitor_id"],
                                                         event["session_id"])
