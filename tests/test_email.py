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
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from collector.ingest.records import build_email_event
from collector.mail import campaigns
from sdk import InvalidRecipient, Mailer, TokenCodec
from tests.conftest import TOKEN, error_line, events, make_app, make_config, seed, sql

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
    # Counts from fewer than K_MIN (5) readers are suppressed; zero singles nobody out.
    assert rep["opens"] == {"human": 6, "human_via_proxy": None, "apple_mpp": None,
                            "machine": None, "unknown": 0}
    assert rep["unique_human_opens"] == 6 and rep["open_rate"] == 0.75
    assert rep["clicks"] == [{"link": "spring", "clicks": 6, "unique_clicks": 6,
                              "machine_clicks": 0, "unknown_clicks": 0}]
    assert rep["unsubscribes"] is None
    assert rep["suppressed"] == ["opens_human_via_proxy", "opens_apple_mpp", "opens_machine",
                                 "unsubscribes"]
    text = runner.invoke(args=["campaign", "report", "spring-2026"]).stdout
    assert "Apple MPP" in text and "75.0%" in text
    csv_out = runner.invoke(args=["campaign", "report", "spring-2026", "--format", "csv"])
    assert "open_rate,0.75" in csv_out.stdout
    # Without suppression the classifier's counts show: one each of proxy, MPP, scanner.
    col = app.extensions["cleargif"]
    exact = campaigns.report(col.events, col.identity, "spring-2026", 1)
    assert exact["opens"] == {"human": 6, "human_via_proxy": 1, "apple_mpp": 1, "machine": 1,
                              "unknown": 0}
    assert exact["unsubscribes"] == 1 and exact["suppressed"] == []


def test_aggregate_mode_rate_is_an_upper_bound(app: Any, client: Any, mailer: Mailer) -> None:
    """Aggregate mails name nobody: with no individual mails to measure re-opens on, each
    open counts as one person, never more people than sends (not 300%)."""
    pixel = mailer.open_url("c1", "news", mode="aggregate", sent_at=time.time() - 600)
    assert pixel is not None
    col = app.extensions["cleargif"]
    for _ in range(3):
        client.get(path_of(pixel), headers={"User-Agent": CHROME}, base_url=BASE)
    campaigns.record_sends(col.events, "c1", 10, "news", 0, "aggregate")
    rep = campaigns.report(col.events, col.identity, "c1", 5)
    # 3 opens (no recipients, so opens are the measure): under k, rate and all.
    assert rep["opens"]["human"] is None and rep["open_rate"] is None
    assert {"opens_human", "open_rate_aggregate", "open_rate"} <= set(rep["suppressed"])
    for _ in range(2):
        client.get(path_of(pixel), headers={"User-Agent": CHROME}, base_url=BASE)
    rep = campaigns.report(col.events, col.identity, "c1", 5)
    assert rep["unique_human_opens"] is None and rep["open_rate"] == 0.5
    assert rep["opens"]["human"] == 5 and rep["suppressed"] == []
    aggregate = rep["open_rate_parts"]["aggregate"]
    assert aggregate == {"sends": 10, "human_opens": 5, "opens_per_person": 1.0,
                         "per_person_measured": False, "people_estimated": 5.0, "rate": 0.5}
    for _ in range(25):
        client.get(path_of(pixel), headers={"User-Agent": CHROME}, base_url=BASE)
    rep = campaigns.report(col.events, col.identity, "c1", 5)
    assert rep["opens"]["human"] == 30 and rep["open_rate"] == 1.0  # 30 opens, 10 mails
    assert "an upper bound" in campaigns.report_text(rep)
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


def test_too_soon_windows_are_settings(tmp_path: Path, mailer: Mailer) -> None:
    """A click 30 s after sent_at is a person's by default, a scanner's under a wider
    window; sent_at is the delivery time the sender passed."""
    sent_at = time.time() - 30
    click = mailer.click_url("c2", "news", "cta", "https://shop.example.com/", sent_at=sent_at)
    pixel = str(mailer.open_url("c2", "news", sent_at=sent_at))
    verdicts = []
    for i, windows in enumerate(({}, {"EMAIL_CLICK_TOO_SOON_SECONDS": 60,
                                     "EMAIL_OPEN_TOO_SOON_SECONDS": 60})):
        app = make_app(make_config(tmp_path / str(i), **windows))
        client = app.test_client()
        for url in (click, pixel):
            client.get(path_of(url), headers={"User-Agent": CHROME}, base_url=BASE)
        verdicts.append([(e["kind"], e["agent"]) for e in events(app)])
        app.extensions["cleargif"].close()
    assert verdicts == [[("click", "human"), ("open", "human")],
                        [("click", "scanner"), ("open", "prefetch")]]


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
    assert sql(app, "identity", "SELECT * FROM suppressions") == []


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
    app = make_app(make_config(tmp_path, TOKEN_KEYS=[old, new]))
    client = app.test_client()
    client.get(path_of(str(tokens["open"])), base_url=BASE)
    client.get(path_of(str(tokens["expired_open"])), base_url=BASE)
    # A 401-day-old link still leads where its signature says; it is not counted.
    r = client.get(path_of(str(tokens["expired_click"])), base_url=BASE)
    assert r.status_code == 302 and r.headers["Location"] == "https://e.example/"
    assert len(events(app)) == 1  # the old key verifies while listed; expired ones count not
    assert client.post(path_of(str(tokens["old_unsub"])), base_url=BASE).status_code == 200
    dropped = make_app(make_config(tmp_path / "b", TOKEN_KEYS=[new])).test_client()
    assert dropped.post(path_of(str(tokens["old_unsub"])),
                        base_url=BASE).status_code == 400


def test_rfc8058(app: Any, client: Any, mailer: Mailer) -> None:
    headers = mailer.unsubscribe_headers("c3", "news", recipient="r42")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    identity = app.extensions["cleargif"].identity
    r = client.get(path_of(url), base_url=BASE)
    assert r.status_code == 200 and b"<script" not in r.data and b"<form" in r.data
    assert sql(app, "identity", "SELECT * FROM suppressions") == []  # GET changes nothing
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
    assert len(sql(app, "identity", "SELECT * FROM suppressions")) == 1  # idempotent
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
    app = make_app(make_config(tmp_path))
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
    # Names the SDK refuses are refused here too, never echoed nor stored as ":email".
    for name, list_id in (("jane@example.com", "news"), ("welcome-4155550132", "news"),
                          ("c5", "subscribers 203.0.113.9")):
        r = client.post(f"/api/v1/campaigns/{name}/sends", json={"count": 1, "list": list_id},
                        headers=hs)
        assert r.status_code == 400 and r.json["error"].startswith("The "), name
        assert name not in r.get_data(as_text=True) and list_id not in r.get_data(as_text=True)
    assert sql(app, "events", "SELECT campaign, list, count FROM campaign_sends") == [
        ("c5", "news", 100)]
    r = client.post("/api/v1/suppressions", json={"suppressions": [
        {"list": "news", "recipient": "r-1", "campaign": "jane@example.com"}]}, headers=hs)
    assert r.status_code == 400 and "email address" in r.json["error"]
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
    logged = sql(app, "identity",
        "SELECT actor, action, subject_hmac FROM audit")
    assert logged == [("token:m", "suppressions.read", None)]  # each read is audited
    assert client.get("/api/v1/suppressions", headers=ha).status_code == 403
    r = client.post("/api/v1/suppressions", json={"suppressions": [
        {"list": "*", "recipient": "bounced-1"}]}, headers=hs)
    assert r.status_code == 200 and r.json == {"added": 1}
    r = client.post("/api/v1/suppressions", json={"suppressions": [
        {"list": "news", "recipient": "jane@example.org"}]}, headers=hs)
    assert r.status_code == 400 and "email" in r.json["error"].lower()
    before = len(sql(app, "identity", "SELECT * FROM suppressions"))
    for bad in ({"list": "news", "recipient": "ok-2", "campaign": {"a": 1}},
                {"list": "news", "recipient": "a@b.example"}):
        r = client.post("/api/v1/suppressions", json={"suppressions": [
            {"list": "news", "recipient": "ok-1"}, bad]}, headers=hs)
        assert r.status_code == 400 and r.json["error"]
    # nothing half-written: the good first entry went nowhere either
    assert len(sql(app, "identity",
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
        import collector.mail.campaigns

        collector.mail.campaigns.PAGE = 10
        try:
            got = api.suppressions(since="2020-01-01")
        finally:
            collector.mail.campaigns.PAGE = 1000
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


# -- one-click unsubscribe in the default mode ------------------------------------------


def test_one_click_works_for_an_aggregate_mail(app: Any, client: Any, mailer: Mailer) -> None:
    """prepare() in the default mode puts the recipient in the unsubscribe header only,
    and the RFC 8058 POST to that header's URL unsubscribes."""
    msg = EmailMessage()
    msg.set_content('<body><a href="https://shop.example.com/">shop</a></body>', subtype="html")
    mailer.prepare(msg, "c6", "news", recipient="r6")
    url = str(msg["List-Unsubscribe"]).strip("<>")
    r = client.post(path_of(url), data="List-Unsubscribe=One-Click", base_url=BASE,
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    assert campaigns.is_suppressed(app.extensions["cleargif"].identity, "news", "r6")
    bare = EmailMessage()
    bare.set_content("<body>hi</body>", subtype="html")
    with pytest.raises(InvalidRecipient, match="unsubscribe=False"):
        mailer.prepare(bare, "c6", "news")


# -- campaign, list and link ids in the event store -------------------------------------


class HourAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3600


def forge(salt: str, payload: dict[str, str]) -> str:
    """A token signed an hour ago with the deployment's key by other code than this SDK."""
    return URLSafeTimedSerializer([TOKEN], salt=salt, signer=HourAgo,
                                  signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)


CAMPAIGN_PII = "welcome jane.doe@example.org"
LIST_PII = "list 203.0.113.9"
LINK_PII = "cta-jane.doe@example.org-4111111111111111"


def test_ids_from_other_senders_code_are_scrubbed(tmp_path: Path) -> None:
    app = make_app(make_config(tmp_path))
    client = app.test_client()
    opened = forge("cleargif.open", {"c": CAMPAIGN_PII, "l": LIST_PII})
    clicked = forge("cleargif.click", {"c": CAMPAIGN_PII, "l": LIST_PII, "k": LINK_PII,
                                       "u": "https://shop.example.com/"})
    for _ in range(5):
        client.get(f"/o/{opened}.gif", headers={"User-Agent": CHROME}, base_url=BASE)
        assert client.get(f"/c/{clicked}", headers={"User-Agent": CHROME},
                          base_url=BASE).status_code == 302
    stored = events(app)
    assert {(e["campaign"], e["list"]) for e in stored} == {("welcome :email", "list :ip")}
    # The address goes, and the card number glued to it with it.
    assert {e["link"] for e in stored if e["kind"] == "click"} == {"::token"}
    # Sends are refused under such a name, as the SDK refuses it; the report finds the
    # events under the sender's own name.
    runner = app.test_cli_runner()
    out = runner.invoke(args=["campaign", "sent", CAMPAIGN_PII, "10", "--list", LIST_PII])
    assert out.exit_code == 2 and "email address" in error_line(out.stderr)
    rep = json.loads(runner.invoke(args=["campaign", "report", CAMPAIGN_PII, "--format",
                                         "json"]).stdout)
    assert rep["campaign"] == "welcome :email"
    assert rep["sends"] == 0 and rep["opens"]["human"] == 5
    assert rep["clicks"] == [{"link": "::token", "clicks": 5, "unique_clicks": None,
                              "machine_clicks": 0, "unknown_clicks": 0}]
    app.extensions["cleargif"].close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for needle in (b"jane.doe", b"example.org", b"203.0.113.9", b"4111111111111111"):
        assert needle not in blob, needle


def test_ids_the_sdk_accepts_are_stored_as_sent(app: Any, client: Any, mailer: Mailer) -> None:
    ids = ("Soldes d'été 2024", "Clients fidèles", "hero_cta_v2")
    opened = str(mailer.open_url(ids[0], ids[1], sent_at=time.time() - 600))
    clicked = mailer.click_url(*ids, "https://shop.example.com/", sent_at=time.time() - 600)
    client.get(path_of(opened), headers={"User-Agent": CHROME}, base_url=BASE)
    client.get(path_of(clicked), headers={"User-Agent": CHROME}, base_url=BASE)
    assert {(e["campaign"], e["list"], e["link"]) for e in events(app)} == {
        (ids[0], ids[1], None), ids}
    with pytest.raises(ValueError, match="campaign"):
        mailer.open_url(CAMPAIGN_PII, "news")
    with pytest.raises(ValueError, match="list"):
        mailer.click_url("c", LIST_PII, "cta", "https://shop.example.com/")
    with pytest.raises(ValueError, match="The link id"):
        mailer.instrument(f'<a href="https://shop.example.com/" data-link-id="{LINK_PII}">x</a>',
                          "c", "news")


# -- campaign reports: small counts ------------------------------------------------------


def email_event(kind: str, recipient: str | None, agent: str = "human",
                link: str | None = None, campaign: str = "small") -> dict[str, Any]:
    return build_email_event(kind=kind, now=1_700_000_000, campaign=campaign, list_id="news",
                             recipient=recipient, agent_verdict=agent, user_agent=None,
                             accept_language=None, link=link,
                             target="https://shop.example.com/" if link else None)


def test_report_suppresses_counts_from_fewer_than_k_recipients(app: Any) -> None:
    col = app.extensions["cleargif"]
    rows = []
    # Human opens: four readers, ten opens: the measure is the four readers.
    rows += [email_event("open", f"r{i % 4}") for i in range(10)]
    rows += [email_event("open", f"m{i}", "apple_mpp") for i in range(5)]  # exactly k
    rows += [email_event("open", "s1", "scanner")]
    # Link "big": five readers (kept at exactly k). Links l1..l5: one reader each, the
    # same one: folded, and (other) is one reader, not five.
    rows += [email_event("click", f"r{i}", link="big") for i in range(5)]
    rows += [email_event("click", "r0", link=f"l{i}") for i in range(1, 6)]
    seed(app, rows)
    campaigns.record_sends(col.events, "small", 100, "news", 0)
    campaigns.suppress(col.identity, "news", "r1", "small", 0)
    campaigns.suppress(col.identity, "news", "r2", "small", 0)

    # Every event here is stamped the same second, so r0's open and six clicks would be a
    # scanner's burst; bursts are tested on their own.
    rep = campaigns.report(col.events, col.identity, "small", 5, burst_seconds=0)
    assert rep["sends"] == 100  # the sender's own number is never suppressed
    assert rep["opens"] == {"human": None, "human_via_proxy": 0, "apple_mpp": 5,
                            "machine": None, "unknown": 0}
    assert rep["unique_human_opens"] is None and rep["open_rate"] is None
    assert rep["clicks"] == [{"link": "big", "clicks": 5, "unique_clicks": 5,
                              "machine_clicks": 0, "unknown_clicks": 0}]
    assert rep["folded_links"] == 5 and rep["other_suppressed"] is True
    assert rep["unsubscribes"] is None
    # The rate's individual part is four readers; (other) holds one reader's clicks, so
    # the total of human clicks would give it away by subtraction.
    assert rep["suppressed"] == ["opens_human", "opens_machine", "unique_human_opens",
                                 "open_rate_individual", "open_rate",
                                 "click_totals.human_clicks", "unsubscribes"]
    assert any("does not resist differencing" in note for note in rep["notes"])

    # Under k=4 the four readers show; the small links (one reader) still fold away.
    four = campaigns.report(col.events, col.identity, "small", 4, burst_seconds=0)
    assert four["opens"]["human"] == 10 and four["unique_human_opens"] == 4
    assert four["open_rate"] == 0.04 and four["unsubscribes"] is None
    assert [row["link"] for row in four["clicks"]] == ["big"]
    # Under k=1 nothing is held back.
    one = campaigns.report(col.events, col.identity, "small", 1, burst_seconds=0)
    assert one["unsubscribes"] == 2 and one["opens"]["machine"] == 1
    assert [row["link"] for row in one["clicks"]] == ["big", "l1", "l2", "l3", "l4", "l5"]
    assert one["suppressed"] == [] and one["folded_links"] == 0


def test_report_outputs_say_what_was_suppressed(app: Any) -> None:
    seed(app, [email_event("open", "r1"), email_event("click", "r1", link="cta")])
    runner = app.test_cli_runner()
    assert runner.invoke(args=["campaign", "sent", "small", "50"]).exit_code == 0
    text = runner.invoke(args=["campaign", "report", "small"]).stdout
    assert "opens, human          suppressed (under k=5)" in text
    assert "unsubscribes          0" in text
    assert "does not resist differencing" in text and "cta" not in text
    rep = json.loads(runner.invoke(args=["campaign", "report", "small", "--format",
                                         "json"]).stdout)
    assert rep["opens"]["human"] is None and rep["clicks"] == []
    csv_out = runner.invoke(args=["campaign", "report", "small", "--format", "csv"])
    assert "opens_human,\n" in csv_out.stdout and "sends,50" in csv_out.stdout
    assert "does not resist differencing" in csv_out.stderr
    assert "Suppressed here (under k=5): opens_human" in csv_out.stderr


def test_other_row_counts_distinct_recipients_exactly(app: Any) -> None:
    col = app.extensions["cleargif"]
    # Two links, three readers each, sharing two: 3 + 3 summed would be 6, but they are
    # four people; with k=5 the fold must be dropped, with k=4 shown as 4.
    seed(app, [email_event("click", r, link="a") for r in ("r1", "r2", "r3")]
         + [email_event("click", r, link="b") for r in ("r2", "r3", "r4")])
    rep = campaigns.report(col.events, col.identity, "small", 5)
    assert rep["clicks"] == [] and rep["other_suppressed"] is True
    rep = campaigns.report(col.events, col.identity, "small", 4)
    assert rep["clicks"] == [{"link": "(other)", "clicks": 6, "unique_clicks": 4,
                              "machine_clicks": 0, "unknown_clicks": 0}]


def test_unique_clicks_are_unknown_without_recipients(app: Any) -> None:
    col = app.extensions["cleargif"]
    seed(app, [email_event("click", None, link="cta") for _ in range(6)]
         + [email_event("click", None, "scanner", link="cta")])
    rep = campaigns.report(col.events, col.identity, "small", 5)
    # One scanner click is under k: suppressed, even though no person made it.
    assert rep["clicks"] == [{"link": "cta", "clicks": 6, "unique_clicks": None,
                              "machine_clicks": None, "unknown_clicks": 0}]
    assert "cta                  6 / - / ? / 0" in campaigns.report_text(rep)
    assert "unique_clicks[cta]," in "\n".join(
        f"{row['metric']},{'' if row['value'] is None else row['value']}"
        for row in campaigns.report_rows(rep))
    one = campaigns.report(col.events, col.identity, "small", 1)
    assert one["clicks"][0]["machine_clicks"] == 1


# -- the suppression list's cursor --------------------------------------------------------


@pytest.mark.parametrize("after", ["99999999999999999999999-1", "1-99999999999999999999",
                                   "9223372036854775808-1", "1-9223372036854775808", "-1-5",
                                   "1-", "-", "1", "1-2-3", " 1-2", "+1-2", "1_0-2",
                                   "\u0661-2", "garbage"])
def test_bad_suppression_cursors_answer_400(tmp_path: Path, after: str) -> None:
    # TESTING off: an unexpected exception becomes the 500 a client would see.
    app = make_app(make_config(tmp_path, TESTING=False))
    client = app.test_client()
    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender", "--name", "m"]).stdout.strip()
    r = client.get("/api/v1/suppressions", query_string={"after": after},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400, r.data
    assert "cursor" in r.json["error"] and r.json["error"].endswith(".")
    largest = f"{2**63 - 1}-{2**63 - 1}"
    r = client.get("/api/v1/suppressions", query_string={"after": largest},
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json["suppressions"] == []


@pytest.mark.parametrize("path", ["/api/v1/campaigns/c5/sends", "/api/v1/suppressions"])
@pytest.mark.parametrize(("body", "status"), [
    (b"[" * 1500 + b"]" * 1500, 400), (b'{"count": "\\ud800"}', 400), (b"", 400),
    (b"\xff\xfe", 400), (b"{", 400), (b'{"pad": "' + b"x" * 5_000_000 + b'"}', 413),
], ids=["deep", "surrogate", "empty", "not-utf8", "broken", "huge"])
def test_sender_api_bad_bodies_get_a_sentence(tmp_path: Path, path: str, body: bytes,
                                              status: int) -> None:
    app = make_app(make_config(tmp_path, TESTING=False))
    runner = app.test_cli_runner()
    sender = runner.invoke(args=["token", "new", "--scope", "sender", "--name", "m"]).stdout
    r = app.test_client().post(path, data=body, headers={
        "Authorization": f"Bearer {sender.strip()}", "Content-Type": "application/json"})
    assert r.status_code == status and r.json["error"].endswith(".")
    assert sql(app, "identity", "SELECT COUNT(*) FROM suppressions") == [
        (0,)]


def test_report_opens_cannot_be_subtracted_down_to_fewer_than_k(app: Any) -> None:
    """Human opens include proxied ones; with both shown, human minus proxied gives the
    direct opens, which must not come from fewer than k readers either."""
    col = app.extensions["cleargif"]
    rows = [email_event("open", f"p{i}", "google_proxy", campaign="diff") for i in range(6)]
    rows += [email_event("open", "alone", "human", campaign="diff")]  # one direct reader
    seed(app, rows)
    rep = campaigns.report(col.events, col.identity, "diff", 5)
    assert rep["opens"]["human"] == 7 and rep["opens"]["human_via_proxy"] is None
    assert "opens_human_via_proxy" in rep["suppressed"]
    seed(app, [email_event("open", f"d{i}", "human", campaign="diff") for i in range(4)])
    rep = campaigns.report(col.events, col.identity, "diff", 5)  # five direct readers now
    assert rep["opens"]["human"] == 11 and rep["opens"]["human_via_proxy"] == 6


def test_links_with_a_recipient_the_sdk_would_refuse_still_work(tmp_path: Path) -> None:
    """Made by other code or under older rules: the unsubscribe still unsubscribes, and
    the open is counted without the recipient, which never reaches the event store."""
    app = make_app(make_config(tmp_path))
    client = app.test_client()
    for recipient in ("acct_12_3456789", "jane.doe@example.org"):
        payload = {"c": "spring", "l": "news", "r": recipient}
        r = client.post(f"/u/{forge('cleargif.unsubscribe', payload)}",
                        data={"List-Unsubscribe": "One-Click"}, base_url=BASE)
        assert r.status_code == 200, recipient
        r = client.get(f"/o/{forge('cleargif.open', payload)}.gif", base_url=BASE)
        assert r.status_code == 200 and r.mimetype == "image/gif"
    assert sql(app, "identity",
        "SELECT recipient FROM suppressions ORDER BY recipient") == [
        ("acct_12_3456789",), ("jane.doe@example.org",)]
    opens = [e for e in events(app) if e["kind"] == "open"]
    assert len(opens) == 2 and {e["recipient"] for e in opens} == {None}
