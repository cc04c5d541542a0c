"""Email: a real message round trip, tampering, RFC 8058, privacy, open redirects."""

from __future__ import annotations

import email
import hashlib
import json
import time
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from collector import campaigns, create_app
from sdk import Mailer, TokenCodec
from tests.conftest import TOKEN, events, make_config

BASE = "https://stats.example.com"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
               "GoogleImageProxy)")
APPLE_MPP = "Mozilla/5.0"
SAFELINKS = "Microsoft Office Existence Discovery"
HTML = """<!doctype html><html><head><title>News</title></head>
<body style="margin:0"><h1>Spring news</h1>
<p>Read <a href="https://shop.example.com/spring?utm_source=mail&amp;session=jane%40example.com"
 data-link-id="spring">our spring sale</a> or <a href="mailto:help@example.com">write</a>.</p>
<p><a href="#top">top</a> <a data-cleargif="unsubscribe" href="#">Unsubscribe</a></p>
</body></html>"""


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.imgs.append(str(a["src"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    return parts.path


def build_message(mailer: Mailer, recipient: str, sent_at: float) -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@example.com"
    msg["To"] = "jane.doe@example.org"
    msg["Subject"] = "Spring news"
    msg.set_content("Plain text part: https://shop.example.com/spring")
    msg.add_alternative(HTML, subtype="html")
    prepared = mailer.prepare(msg, "spring-2026", "news", mode="individual",
                              recipient=recipient, sent_at=sent_at)
    return prepared.as_bytes()


@pytest.fixture
def mailer() -> Mailer:
    return Mailer(BASE, [TOKEN])


def test_round_trip_report(app: Any, client: Any, mailer: Mailer) -> None:
    sent_at = time.time() - 3600
    readers = [f"reader{i:02d}" for i in range(8)]
    for i, reader in enumerate(readers):
        raw = build_message(mailer, reader, sent_at)
        parsed = email.message_from_bytes(raw, policy=default)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = parsed.get_body(("html",)).get_content()
        links = Links()
        links.feed(html)
        [pixel] = links.imgs
        # human opens for six readers, Apple MPP for one, a scanner for the last
        ua = CHROME if i < 5 else GMAIL_PROXY if i == 5 else APPLE_MPP if i == 6 else SAFELINKS
        r = client.get(path_of(pixel), headers={"User-Agent": ua}, base_url=BASE)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/gif"
        click = next(h for h in links.hrefs if h.startswith(BASE + "/c/"))
        if i < 6:
            r = client.get(path_of(click), headers={"User-Agent": CHROME}, base_url=BASE)
            assert r.status_code == 302
            assert r.headers["Location"].startswith("https://shop.example.com/spring?")
        assert "mailto:help@example.com" in links.hrefs and "#top" in links.hrefs
        if i == 7:
            unsub = next(h for h in links.hrefs if h.startswith(BASE + "/u/"))
            assert client.post(path_of(unsub), base_url=BASE).status_code == 200
    runner = app.test_cli_runner()
    assert runner.invoke(args=["campaign", "sent", "spring-2026", "8"]).exit_code == 0
    out = runner.invoke(args=["campaign", "report", "spring-2026", "--format", "json"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["sends"] == 8
    assert rep["opens"] == {"human": 6, "human_via_proxy": 1, "apple_mpp": 1, "machine": 1,
                            "unknown": 0}
    assert rep["unique_human_opens"] == 6 and rep["open_rate"] == 0.75
    assert rep["clicks"] == [{"link": "spring", "clicks": 6, "unique_clicks": 6,
                              "machine_clicks": 0}]
    assert rep["unsubscribes"] == 1
    text = runner.invoke(args=["campaign", "report", "spring-2026"]).stdout
    assert "Apple MPP" in text and "75.0%" in text
    csv_out = runner.invoke(args=["campaign", "report", "spring-2026", "--format", "csv"])
    assert "open_rate,0.75" in csv_out.stdout


def test_aggregate_mode_rate_is_per_send(app: Any, client: Any, mailer: Mailer) -> None:
    pixel = mailer.open_url("c1", "news", mode="aggregate", sent_at=time.time() - 600)
    assert pixel is not None
    for _ in range(3):
        client.get(path_of(pixel), headers={"User-Agent": CHROME}, base_url=BASE)
    campaigns.record_sends(app.extensions["cleargif"].events, "c1", 6, "news", 0)
    rep = campaigns.report(app.extensions["cleargif"].events,
                           app.extensions["cleargif"].identity, "c1", 5)
    assert rep["unique_human_opens"] is None and rep["open_rate"] == 0.5
    assert rep["open_rate_is"].startswith("human opens per send")
    assert all(e["recipient"] is None for e in events(app))


def test_head_and_quick_clicks_are_machines(app: Any, client: Any, mailer: Mailer) -> None:
    now = time.time()
    pixel = mailer.open_url("c2", "news", sent_at=now - 600)
    assert pixel
    client.head(path_of(pixel), headers={"User-Agent": CHROME}, base_url=BASE)
    click = mailer.click_url("c2", "news", "cta", "https://shop.example.com/", sent_at=now)
    client.get(path_of(click), headers={"User-Agent": CHROME}, base_url=BASE)
    agents = [(e["kind"], e["agent"]) for e in events(app)]
    assert agents == [("open", "scanner"), ("click", "scanner")]


def flip(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def foreign(kind: str) -> str:
    other = Mailer(BASE, ["another-deployment-key-0123456789"])
    return {"o": lambda: str(other.open_url("c", "l")),
            "c": lambda: other.click_url("c", "l", "x", "https://example.com/"),
            "u": lambda: other.unsubscribe_url("c", "l", recipient="r1")}[kind]()


@pytest.mark.parametrize("kind", ["o", "c", "u"])
@pytest.mark.parametrize("how", ["flip", "foreign", "salt", "empty", "oversized", "garbage"])
def test_tampered_tokens_record_nothing(app: Any, client: Any, mailer: Mailer, kind: str,
                                        how: str) -> None:
    good = {"o": str(mailer.open_url("c", "l")),
            "c": mailer.click_url("c", "l", "x", "https://example.com/"),
            "u": mailer.unsubscribe_url("c", "l", recipient="r1")}
    token = path_of(good[kind]).split("/")[2].removesuffix(".gif")
    if how == "flip":
        token = flip(token)
    elif how == "foreign":
        token = path_of(foreign(kind)).split("/")[2].removesuffix(".gif")
    elif how == "salt":  # another kind's token
        donor = good["c" if kind == "o" else "o"]
        token = path_of(donor).split("/")[2].removesuffix(".gif")
    elif how == "empty":
        token = ""
    elif how == "oversized":
        token = token + "A" * 5000
    else:
        token = "%00%ff..../etc/passwd"
    suffix = ".gif" if kind == "o" else ""
    path = f"/{kind}/{token}{suffix}"
    if kind == "o":
        r = client.get(path, base_url=BASE)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/gif"
    elif kind == "c":
        r = client.get(path, base_url=BASE)
        assert r.status_code in (400, 404) and "Location" not in r.headers
    else:
        r = client.post(path, data={"List-Unsubscribe": "One-Click"}, base_url=BASE)
        assert r.status_code in (400, 404)
    assert r.status_code < 500
    assert events(app) == []
    assert app.extensions["cleargif"].identity.query("SELECT * FROM suppressions") == []


def test_key_rotation_and_expiry(tmp_path: Path) -> None:
    old, new = "old-token-key-0123456789abcdef", "new-token-key-0123456789abcdef"
    made_old = Mailer(BASE, [old])
    long_ago = time.time() - 401 * 86400
    tokens = {"open": made_old.open_url("c", "l"),
              "expired_open": made_old.open_url("c", "l", sent_at=long_ago),
              "expired_click": made_old.click_url("c", "l", "x", "https://e.example/",
                                                  sent_at=long_ago),
              "old_unsub": made_old.unsubscribe_url("c", "l", recipient="r9",
                                                    sent_at=long_ago)}
    app = create_app(make_config(tmp_path, TOKEN_KEYS=[old, new]))
    client = app.test_client()
    client.get(path_of(str(tokens["open"])), base_url=BASE)
    client.get(path_of(str(tokens["expired_open"])), base_url=BASE)
    assert client.get(path_of(str(tokens["expired_click"])), base_url=BASE).status_code == 400
    assert len(events(app)) == 1  # the old key verifies while listed; expired ones do not
    assert client.post(path_of(str(tokens["old_unsub"])), base_url=BASE).status_code == 200
    dropped = create_app(make_config(tmp_path / "b", TOKEN_KEYS=[new])).test_client()
    assert dropped.post(path_of(str(tokens["old_unsub"])),
                        base_url=BASE).status_code == 400


def test_rfc8058(app: Any, client: Any, mailer: Mailer) -> None:
    headers = mailer.unsubscribe_headers("c3", "news", recipient="r42")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    identity = app.extensions["cleargif"].identity
    r = client.get(path_of(url), base_url=BASE)
    assert r.status_code == 200 and b"<script" not in r.data and b"<form" in r.data
    assert identity.query("SELECT * FROM suppressions") == []  # GET changes nothing
    assert r.headers.getlist("Set-Cookie") == []
    bodies: list[dict[str, Any]] = [
        {"data": "List-Unsubscribe=One-Click",
         "content_type": "application/x-www-form-urlencoded"},
        {"data": {"List-Unsubscribe": "One-Click"}, "content_type": "multipart/form-data"},
        {},
    ]
    for body in bodies:
        r = client.post(path_of(url), base_url=BASE, **body)
        assert r.status_code == 200 and "Location" not in r.headers
        assert r.headers.getlist("Set-Cookie") == []
    assert len(identity.query("SELECT * FROM suppressions")) == 1  # idempotent
    assert campaigns.is_suppressed(identity, "news", "r42")  # the next campaign of the list
    assert not campaigns.is_suppressed(identity, "offers", "r42")
    form = mailer.unsubscribe_url("c3", "offers", recipient="r43")
    client.post(path_of(form), data={"scope": "all"}, base_url=BASE)
    assert campaigns.is_suppressed(identity, "anything", "r43")  # an all-mail entry


def test_no_recipient_unsubscribe_explains(client: Any) -> None:
    codec = TokenCodec([TOKEN])
    token = codec.dump_unsubscribe("c", "news")
    r = client.post(f"/u/{token}", base_url=BASE)
    assert r.status_code == 400 and b"no subscriber" in r.data


def test_email_endpoints_set_and_read_no_cookies(client: Any, mailer: Mailer) -> None:
    client.set_cookie("cg_vid", "e" * 32 + ".1700000000", domain="stats.example.com")
    for url in (str(mailer.open_url("c", "l")),
                mailer.click_url("c", "l", "x", "https://example.com/")):
        r = client.get(path_of(url), base_url=BASE)
        assert r.headers.getlist("Set-Cookie") == []


def test_privacy_after_campaign(tmp_path: Path, mailer: Mailer) -> None:
    app = create_app(make_config(tmp_path))
    client = app.test_client()
    raw = build_message(mailer, "reader-7", time.time() - 3600)
    links = Links()
    links.feed(email.message_from_bytes(raw, policy=default).get_body(("html",)).get_content())
    ua = f"{CHROME} JaneDoeMailer/1.0"
    for url in links.imgs + [h for h in links.hrefs if h.startswith(BASE)]:
        client.get(path_of(url), headers={"User-Agent": ua, "X-Forwarded-For": "198.51.100.7"},
                   environ_base={"REMOTE_ADDR": "203.0.113.9"}, base_url=BASE)
    app.extensions["cleargif"].close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert blob
    for needle in (b"jane.doe", b"example.org", b"203.0.113.9", b"198.51.100.7",
                   b"JaneDoeMailer", b"AppleWebKit", b"utm_source=mail", b"session=",
                   b"jane%40example.com"):
        assert needle not in blob, needle


@pytest.mark.parametrize("target", ["javascript:alert(1)", "//evil.example/", "data:text/html,x",
                                    "http:/\\evil.example", "https://user:pw@evil.example/",
                                    "ftp://files.example/", "/relative"])
def test_no_open_redirect(client: Any, target: str) -> None:
    # Forge a click token with the right key but a bad target: the collector refuses it.
    signer = URLSafeTimedSerializer([TOKEN], salt="cleargif.click",
                                    signer_kwargs={"digest_method": hashlib.sha256})
    good = signer.dumps({"c": "c", "l": "l", "k": "x", "u": "https://ok.example/"})
    assert client.get(f"/c/{good}", base_url=BASE).status_code == 302  # the forgery is valid
    token = signer.dumps({"c": "c", "l": "l", "k": "x", "u": target})
    r = client.get(f"/c/{token}", base_url=BASE)
    assert r.status_code == 400 and "Location" not in r.headers
    with pytest.raises(ValueError):
        Mailer(BASE, [TOKEN]).click_url("c", "l", "x", target)


def test_api_campaigns_and_suppressions(app: Any, client: Any, mailer: Mailer) -> None:
    runner = app.test_cli_runner()
    sender = runner.invoke(args=["token", "new", "--scope", "sender", "--name", "m"]).stdout
    analyst = runner.invoke(args=["token", "new", "--scope", "aggregate", "--name", "a"]).stdout
    hs = {"Authorization": f"Bearer {sender.strip()}"}
    ha = {"Authorization": f"Bearer {analyst.strip()}"}
    r = client.post("/api/v1/campaigns/c5/sends", json={"count": 100, "list": "news"},
                    headers=hs)
    assert r.status_code == 200 and r.json == {"campaign": "c5", "sends": 100}
    assert client.post("/api/v1/campaigns/c5/sends", json={"count": -1},
                       headers=hs).status_code == 400
    assert client.post("/api/v1/campaigns/c5/sends", json={"count": 1},
                       headers=ha).status_code == 403
    assert client.get("/api/v1/campaigns/c5", headers=ha).json["sends"] == 100
    assert client.get("/api/v1/campaigns/c5", headers=hs).status_code == 403
    client.post(path_of(mailer.unsubscribe_url("c5", "news", recipient="r77")), base_url=BASE)
    r = client.get("/api/v1/suppressions?since=2020-01-01", headers=hs)
    assert r.status_code == 200
    assert [(s["list"], s["recipient"], s["campaign"]) for s in r.json["suppressions"]] == [
        ("news", "r77", "c5")]
    assert client.get("/api/v1/suppressions?since=yesterday", headers=hs).status_code == 400
    logged = app.extensions["cleargif"].identity.query(
        "SELECT actor, action, subject_hmac FROM audit")
    assert logged == [("token:m", "suppressions.read", None)]  # each read is audited
    assert client.get("/api/v1/suppressions", headers=ha).status_code == 403
    r = client.post("/api/v1/suppressions", json={"suppressions": [
        {"list": "*", "recipient": "bounced-1"}]}, headers=hs)
    assert r.status_code == 200 and r.json == {"added": 1}
    r = client.post("/api/v1/suppressions", json={"suppressions": [
        {"list": "news", "recipient": "jane@example.org"}]}, headers=hs)
    assert r.status_code == 400 and "email" in r.json["error"].lower()
    before = len(app.extensions["cleargif"].identity.query("SELECT * FROM suppressions"))
    for bad in ({"list": "news", "recipient": "ok-2", "campaign": {"a": 1}},
                {"list": "news", "recipient": "a@b.example"}):
        r = client.post("/api/v1/suppressions", json={"suppressions": [
            {"list": "news", "recipient": "ok-1"}, bad]}, headers=hs)
        assert r.status_code == 400 and r.json["error"]
    # nothing half-written: the good first entry went nowhere either
    assert len(app.extensions["cleargif"].identity.query(
        "SELECT * FROM suppressions")) == before


def test_sdk_client_against_collector(app: Any, client: Any) -> None:
    """The SDK's AdminClient speaks the API this collector serves (through a live server)."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from sdk import AdminClient

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        token = app.test_cli_runner().invoke(
            args=["token", "new", "--scope", "sender,aggregate", "--name", "sdk"]).stdout.strip()
        api = AdminClient(f"http://127.0.0.1:{server.server_port}", token)
        assert api.record_sends("c9", 40, list="news")["sends"] == 40
        assert api.campaign_report("c9")["sends"] == 40
        assert api.suppressions(since="2020-01-01") == []
        # A bulk import shares one created_at; pages still reach every entry.
        identity = app.extensions["cleargif"].identity
        campaigns.suppress_many(identity, [("news", f"r{i:04d}", None) for i in range(25)],
                                1_800_000_000)
        campaigns.suppress(identity, "news", "zz-late", None, 1_800_000_000)
        import collector.campaigns

        collector.campaigns.PAGE = 10
        try:
            got = api.suppressions(since="2020-01-01")
        finally:
            collector.campaigns.PAGE = 1000
        assert len(got) == 26 and got[-1]["recipient"] == "zz-late"
        assert len({g["recipient"] for g in got}) == 26
        r = client.get("/api/v1/suppressions?after=garbage",
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 400
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("campaign", ["c\udcff", "c\x00", " "])
def test_campaign_ids_refused_with_one_line(app: Any, campaign: str) -> None:
    out = app.test_cli_runner().invoke(args=["campaign", "report", campaign])
    assert out.exit_code == 2 and "campaign" in out.stderr and "Traceback" not in out.output
