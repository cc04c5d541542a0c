"""The page-view pixels: answers, filters, counting modes and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector import create_app
from collector.web.responses import GIF
from tests.conftest import SITE, events, make_config, set_cookies, sql_write

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
ALL = {"analytics": True, "personalization": True, "marketing": True}


def grant(client: Any, purposes: dict[str, bool]) -> None:
    r = client.post("/consent", json={"purposes": purposes}, headers={"Origin": SITE})
    assert r.status_code == 200


def test_gif_answer(client: Any, app: Any) -> None:
    r = client.get("/t.gif?p=/hello", headers={"Origin": SITE, "User-Agent": CHROME})
    assert r.status_code == 200 and r.data == GIF and len(r.data) == 43
    assert r.headers["Content-Type"] == "image/gif"
    assert "no-store" in r.headers["Cache-Control"]
    [e] = events(app)
    assert e["kind"] == "pageview" and e["path"] == "/hello" and e["site"] == "www.example.com"
    assert e["browser"] == "Chrome" and e["os"] == "Windows" and e["device"] == "desktop"
    assert e["session_id"] is None and e["visitor_id"] is None and e["purposes"] == ""
    assert e["revision"] == 1


def test_ids_only_with_consent(client: Any, app: Any) -> None:
    grant(client, {"analytics": True})
    client.get("/t.gif?p=/a", headers={"Origin": SITE})
    grant(client, ALL)
    client.get("/t.gif?p=/b", headers={"Origin": SITE})
    client.get("/t.gif?p=/c", headers={"Origin": SITE})
    grant(client, {"personalization": True})  # without analytics: no hit with ids
    client.get("/t.gif?p=/d", headers={"Origin": SITE})
    a, b, c = events(app)
    assert a["session_id"] and a["visitor_id"] is None
    assert a["purposes"] == "necessary,analytics"
    assert b["session_id"] == c["session_id"] == a["session_id"]  # the same visit
    assert b["visitor_id"] and b["visitor_id"] == c["visitor_id"]
    assert b["purposes"] == "necessary,analytics,personalization,marketing"


@pytest.mark.parametrize(("mode", "undecided", "rejected"), [
    ("until-refused", 1, 0), ("always", 1, 1), ("never", 0, 0)])
def test_anonymous_counting(tmp_path: Any, mode: str, undecided: int, rejected: int) -> None:
    app = create_app(make_config(tmp_path, ANONYMOUS_COUNTING=mode))
    client = app.test_client()
    client.get("/t.gif?p=/u", headers={"Origin": SITE})
    assert len(events(app)) == undecided
    grant(client, {})
    client.get("/t.gif?p=/r", headers={"Origin": SITE})
    assert len(events(app)) == undecided + rejected
    for e in events(app):
        assert e["session_id"] is None and e["visitor_id"] is None


def test_dnt_counts_nothing_until_refused(client: Any, app: Any) -> None:
    client.get("/t.gif?p=/", headers={"Origin": SITE, "DNT": "1"})
    assert events(app) == []


def test_post_beacon_any_content_type(client: Any, app: Any) -> None:
    for ctype in ("text/plain", "application/json", None):
        headers = {"Origin": SITE}
        if ctype:
            headers["Content-Type"] = ctype
        r = client.post("/t", data=json.dumps({"p": "/spa", "e": "signup"}), headers=headers)
        assert r.status_code == 204
        assert r.headers["Access-Control-Allow-Origin"] == SITE
    assert [e["name"] for e in events(app)] == ["signup"] * 3
    assert events(app)[0]["kind"] == "event"


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b'"x"', b"\xff\xfe\xfd",
                                  b'{"p": 5}', b'{"p": {"x": 1}}', b"{" * 10000,
                                  b"[" * 1500 + b"]" * 1500, b'{"p": "/\\ud800x"}',
                                  b'{"e": "\\udfff"}', b'{"utm_source": "\\ud800"}'])
def test_post_beacon_bad_bodies(client: Any, app: Any, body: bytes) -> None:
    r = client.post("/t", data=body, headers={"Origin": SITE, "Content-Type": "text/plain"})
    assert 400 <= r.status_code < 500
    assert r.json["error"]
    assert events(app) == []


def test_post_beacon_huge_body(client: Any, app: Any) -> None:
    r = client.post("/t", data=b'{"p": "' + b"a" * 100_000 + b'"}',
                    headers={"Origin": SITE})
    assert r.status_code == 413 and r.json["error"]
    assert events(app) == []


def test_sites_filter(client: Any, app: Any) -> None:
    assert client.get("/t.gif?p=https://evil.example.net/x").status_code == 200
    assert client.get("/t.gif?p=/x", headers={"Referer": "https://other.org/"}).data == GIF
    assert client.get("/t.gif?p=/x").data == GIF  # no site at all
    assert events(app) == []
    assert app.extensions["cleargif"].events.dropped() == {"site": 3}
    client.get("/t.gif?p=https://www.example.com/ok")
    client.get("/t.gif?p=/ok", headers={"Referer": "https://www.example.com/page"})
    assert len(events(app)) == 2


def test_prefetch_not_counted(client: Any, app: Any) -> None:
    grant(client, {"analytics": True})
    for header in ({"Sec-Purpose": "prefetch"}, {"Purpose": "prefetch"},
                   {"Sec-Purpose": "prefetch;prerender"}):
        r = client.get("/t.gif?p=/", headers={"Origin": SITE, **header})
        assert r.data == GIF
    assert events(app) == []


def test_excluded_networks(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path, EXCLUDE_NETWORKS="10.0.0.0/8,2001:db8::/32"))
    client = app.test_client()
    client.get("/t.gif?p=/", headers={"Origin": SITE}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    client.get("/t.gif?p=/", headers={"Origin": SITE},
               environ_base={"REMOTE_ADDR": "2001:db8::7"})
    # An IPv4 client as a dual-stack server sees it.
    client.get("/t.gif?p=/", headers={"Origin": SITE},
               environ_base={"REMOTE_ADDR": "::ffff:10.1.2.3"})
    assert events(app) == []
    client.get("/t.gif?p=/", headers={"Origin": SITE}, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    client.get("/t.gif?p=/", headers={"Origin": SITE},
               environ_base={"REMOTE_ADDR": "::ffff:192.0.2.1"})
    assert len(events(app)) == 2


def test_trusted_proxies(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path, EXCLUDE_NETWORKS=["10.0.0.0/8"], TRUSTED_PROXIES=1,
                                 PUBLIC_URL="https://stats.example.com"))
    client = app.test_client()
    client.get("/t.gif?p=/", headers={"Origin": SITE, "X-Forwarded-For": "10.9.9.9"},
               environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert events(app) == []
    client.get("/t.gif?p=/", headers={"Origin": SITE, "X-Forwarded-For": "192.0.2.5"},
               environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert len(events(app)) == 1


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE", "PATCH"])
def test_odd_methods_on_pixel(client: Any, app: Any, method: str) -> None:
    r = client.open("/t.gif?p=/", method=method, headers={"Origin": SITE})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/gif"
    assert events(app) == []


@pytest.mark.parametrize("query", [
    "p=" + "a" * 50_000, "p=%ff%fe%00", "p=/%E0%A4%A", "e=" + "\x00" * 10, "p=/x&p=/y&r=" +
    "%" * 3000, "utm_source=" + "x" * 9000, "p=http://[::1", "p=javascript:alert(1)",
    "p=//////", "r=http://%zz"])
def test_garbage_queries_answer_gif(client: Any, app: Any, query: str) -> None:
    r = client.get("/t.gif?" + query, headers={"Origin": SITE})
    assert r.status_code == 200 and r.data == GIF
    for e in events(app):
        assert len(e["path"]) <= 512 and "\x00" not in e["path"]


def test_unknown_paths_json(client: Any) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and r.json["error"]
    r = client.put("/consent", headers={"Origin": SITE})
    assert r.status_code == 405 and r.json["error"]


def test_store_failure_answers_503(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path))
    client = app.test_client()
    grant(client, {"analytics": True})
    client.get("/t.gif?p=/warm", headers={"Origin": SITE})
    sql_write(app, "events", "DROP TABLE events")  # the write cannot succeed now
    r = client.get("/t.gif?p=/x", headers={"Origin": SITE})
    assert r.status_code == 503 and r.data == GIF and r.headers["Retry-After"]
    assert "cg_sid" not in {n for n, v in set_cookies(r).items() if v[0]["max_age"] != 0}
    r = client.post("/t", json={"p": "/x"}, headers={"Origin": SITE})
    assert r.status_code == 503
    # Health means writable: the file still answers, but writes fail.
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"]
    assert health.json["stores"]["identity"] == "ok"
    assert "events.db" not in health.get_data(as_text=True)


@pytest.mark.parametrize(("failing", "working"), [("events", "identity"),
                                                  ("identity", "events")])
def test_healthz_503_when_store_fails(tmp_path: Any, failing: str, working: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    app = create_app(make_config(tmp_path, **{
        f"{failing.upper()}_URL": f"sqlite:///{blocker}/{failing}.db"}))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.json["status"] == "failing"
    assert r.json["stores"][working] == "ok" and r.json["stores"][failing] != "ok"


def test_hit_path_never_opens_identity_store(tmp_path: Any) -> None:
    """DESIGN 1.3: /t.gif, /t, /o/… and /c/… never read the identity store."""
    from sdk import Mailer
    from tests.conftest import TOKEN

    app = create_app(make_config(tmp_path))
    client = app.test_client()
    client.get("/t.gif?p=/", headers={"Origin": SITE})
    client.post("/t", json={"p": "/"}, headers={"Origin": SITE})
    mailer = Mailer("https://stats.example.com", [TOKEN])
    client.get(str(mailer.open_url("c", "l")).removeprefix("https://stats.example.com"))
    client.get(mailer.click_url("c", "l", "x", "https://example.com/").removeprefix(
        "https://stats.example.com"))
    assert len(events(app)) == 4
    assert not (tmp_path / "data" / "identity.db").exists()


def test_host_header_does_not_vouch_for_a_site(client: Any, app: Any) -> None:
    """SITES alone decides: a spoofed Host naming the page's host is still not counted."""
    client.get("/t.gif?p=http://evil.test/x", headers={"Host": "evil.test"})
    client.get("/t.gif?p=http://10.1.2.3/jane", base_url="http://10.1.2.3")
    assert events(app) == []
    assert app.extensions["cleargif"].events.dropped() == {"site": 2}


def test_options_on_pixel_answers_gif(client: Any) -> None:
    r = client.options("/t.gif")
    assert r.status_code == 200 and r.data == GIF


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_pixel_bug_answers_503_gif_not_200(app: Any, client: Any, method: str,
                                           monkeypatch: Any) -> None:
    """200 means stored: an unexpected error answers the GIF with 503, never a traceback."""
    import collector.ingest.fastpath
    import collector.web.views.tracking

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(collector.ingest.fastpath, "process_hit", broken)
    monkeypatch.setattr(collector.web.views.tracking, "process_hit", broken)
    app.logger.disabled = True
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, not as under TESTING
    r = client.open("/t.gif?p=/", method=method, headers={"Origin": SITE})
    assert r.status_code == 503 and r.headers["Content-Type"] == "image/gif"
    assert r.headers["Retry-After"]


def test_store_files_are_private(tmp_path: Any) -> None:
    import stat

    app = create_app(make_config(tmp_path))
    client = app.test_client()
    client.get("/t.gif?p=/", headers={"Origin": SITE})
    client.post("/consent", json={"purposes": {}}, headers={"Origin": SITE})
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.iterdir() if p.name.endswith((".db", "-wal", "-shm"))]
    assert {p.name for p in files} >= {"events.db", "identity.db", "events.db-wal"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


class BrokenBody:
    """A request body that fails while it is read, as gunicorn's reader does on a broken
    chunked encoding (InvalidChunkSize and NoMoreData are OSErrors)."""

    def read(self, *args: Any) -> bytes:
        raise OSError("Invalid chunk size")

    readline = read

    def __iter__(self) -> Any:
        raise OSError("Invalid chunk size")


@pytest.mark.parametrize(("path", "content_type"), [
    ("/t", "text/plain"), ("/consent", "application/json"),
    ("/consent", "application/x-www-form-urlencoded"), ("/consent", "multipart/form-data; b=x"),
])
def test_a_body_that_breaks_while_read_is_a_400(tmp_path: Any, path: str,
                                                 content_type: str) -> None:
    app = create_app(make_config(tmp_path, TESTING=False))
    r = app.test_client().post(path, headers={"Origin": SITE, "Content-Type": content_type},
                               environ_overrides={"wsgi.input": BrokenBody(),
                                                  "wsgi.input_terminated": True,
                                                  "HTTP_TRANSFER_ENCODING": "chunked"})
    assert r.status_code == 400 and "could not be read" in r.json["error"]
    assert events(app) == []


@pytest.mark.parametrize("stamp", ["\u00b2", "\u00b3\u00b9", "\u0663\u0664", "1\u00b2"])
def test_id_cookies_with_unicode_digits_are_no_ids(client: Any, app: Any, stamp: str) -> None:
    r = client.post("/consent", json={"purposes": {"analytics": True,
                                                   "personalization": True}},
                    headers={"Origin": SITE})
    assert r.status_code == 200
    client.set_cookie("cg_vid", f"{'a' * 32}.{stamp}.{'b' * 32}", domain="localhost")
    client.set_cookie("cg_sid", f"{'a' * 32}.{stamp}.{'b' * 32}", domain="localhost")
    assert client.get("/t.gif?p=/", headers={"Origin": SITE}).status_code == 200
    assert client.get("/consent").status_code == 200
    assert events(app)[0]["visitor_id"] != "a" * 32


def test_raw_bytes_in_a_query_string_are_a_400_or_the_gif(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path, TESTING=False))
    client = app.test_client()
    r = client.get("/consent/config", environ_overrides={"QUERY_STRING": "lang=\xff"})
    assert r.status_code == 400 and "UTF-8" in r.json["error"]
    r = client.get("/t.gif", environ_overrides={"QUERY_STRING": "p=\xff"})
    assert r.status_code == 200 and r.mimetype == "image/gif"


def test_double_slashes_are_a_json_404_not_a_redirect(client: Any) -> None:
    r = client.get("/api/v1/subjects//a/b")
    assert r.status_code == 404 and r.json["error"]


def test_a_key_file_that_is_not_utf8_is_the_collector_s_fault(tmp_path: Any) -> None:
    """Not a client's bad request: the answer says the collector failed, and why."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_keys").write_bytes(b"\xff\xfe not a key file\n")
    app = create_app({"DATA_DIR": str(data), "TOKEN_KEYS": ["t" * 20], "TESTING": False,
                      "ALLOWED_ORIGINS": [SITE]})
    r = app.test_client().post("/consent", json={"purposes": {"analytics": True}},
                               headers={"Origin": SITE})
    assert r.status_code >= 500 and "not UTF-8" in r.json["error"]


def test_a_surrogate_pair_escape_is_valid_json_text(client: Any, app: Any) -> None:
    r = client.post("/t", data=b'{"p": "/party-\\ud83c\\udf89", "e": "signup"}',
                    headers={"Origin": SITE, "Content-Type": "text/plain"})
    assert r.status_code == 204
    assert events(app)[0]["path"] == "/party-\U0001f389"
