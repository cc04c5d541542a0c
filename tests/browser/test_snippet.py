"""The site snippet in a real browser against the real collector (DESIGN 2, 9).

Each test opens fresh browser contexts (own cookie jar and storage) on host pages served
by a separate process; the cookie assertions read Chromium's own jar.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS, Collector, Site, Tab

pytestmark = pytest.mark.browser

expect: Any = None  # playwright's expect, bound by the autouse fixture below

READY = "() => !!window.cleargif && cleargif.consent.get() !== null"
DEEP_FOCUS = """() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  if (!a || a === document.body) return null;
  const cs = getComputedStyle(a);
  const name = a.labels && a.labels.length ? a.labels[0].textContent : a.textContent;
  return {tag: a.tagName.toLowerCase(), name: name.trim(), inDialog: !!a.closest('dialog'),
          outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2};
}"""
NO_IDS_KEYS = {"revision", "purposes", "decided_at", "gpc_override"}


@pytest.fixture(autouse=True)
def _expect(playwright_api: Any) -> None:
    from playwright.sync_api import expect as pw_expect

    global expect
    pw_expect.set_options(timeout=TIMEOUT_MS)
    expect = pw_expect


@pytest.fixture(scope="module")
def texts(servers: tuple[Collector, Site]) -> dict[str, Any]:
    """The English texts and cookie table, as the collector serves them."""
    with urllib.request.urlopen(f"{servers[0].url}/consent/config?lang=en", timeout=5) as resp:
        config: dict[str, Any] = json.load(resp)
    return {**config["texts"], "config": config}


def ready(tab: Tab) -> None:
    tab.page.wait_for_function(READY)


def state(tab: Tab) -> dict[str, Any]:
    result: dict[str, Any] = tab.page.evaluate("cleargif.consent.get()")
    return result


def cookies(tab: Tab) -> dict[str, dict[str, Any]]:
    """Chromium's own cookie jar for this context, by name."""
    return {c["name"]: c for c in tab.ctx.cookies()}


def banner(tab: Tab, texts: dict[str, Any]) -> Any:
    """The banner, found by its role and accessible name."""
    return tab.page.get_by_role("dialog", name=texts["title"])


def dialog(tab: Tab, texts: dict[str, Any]) -> Any:
    """The preferences dialog, found by its role and accessible name."""
    return tab.page.get_by_role("dialog", name=texts["preferences"])


def switch(tab: Tab, texts: dict[str, Any], purpose: str) -> Any:
    label = texts["purposes"][purpose]["label"]
    return dialog(tab, texts).get_by_role("switch", name=label)


def post_consent(tab: Tab, click: Callable[[], None], reloads: bool = False) -> dict[str, Any]:
    """Run ``click`` and return the collector's answer to the POST /consent it causes.

    With ``reloads`` (a withdrawal after a gated tag ran) wait for the reload instead: the
    answer's body is gone with the page.
    """
    with tab.page.expect_response(
        lambda r: r.url.endswith("/consent") and r.request.method == "POST"
    ) as info:
        if reloads:
            with tab.page.expect_event("load"):
                click()
        else:
            click()
    if reloads:
        return {}
    answer: dict[str, Any] = info.value.json()
    return answer


def press(tab: Tab, scope: Any, name: str, reloads: bool = False) -> dict[str, Any]:
    """Press the button ``name`` in ``scope`` (banner or dialog); the POST /consent answer."""
    return post_consent(tab, scope.get_by_role("button", name=name).click, reloads)


def hit(h: dict[str, Any]) -> dict[str, str]:
    """The fields of a beacon (JSON body) or of a GIF hit (query)."""
    if h["body"] is not None:
        return dict(h["body"])
    return {k: v[0] for k, v in parse_qs(urlsplit(h["url"]).query).items()}


def pageviews(tab: Tab) -> list[dict[str, str]]:
    return [f for f in map(hit, tab.hits) if f.get("e") == "pageview"]


def wait_hits(tab: Tab, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(tab.hits) < count and time.monotonic() < deadline:
        tab.page.wait_for_timeout(50)
    assert len(tab.hits) >= count, tab.hits


def settle(tab: Tab, sentinel: str) -> None:
    """Send a named event and wait for it: every earlier beacon has been sent by then."""
    tab.page.evaluate("name => cleargif.track(name)", sentinel)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not any(hit(h).get("e") == sentinel for h in tab.hits):
        assert time.monotonic() < deadline, f"no beacon {sentinel!r}: {tab.hits}"
        tab.page.wait_for_timeout(50)


def screenshot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / name))


def consent_ids(value: str) -> list[str]:
    """The subject and receipt ids inside a ``cg_consent`` value (read without a key)."""
    from itsdangerous import URLSafeSerializer

    _, payload = URLSafeSerializer("unused").loads_unsafe(value.strip('"'))
    assert isinstance(payload, dict), payload
    return [payload["subject_id"], payload["receipt_id"]]


def local_copy(tab: Tab) -> dict[str, Any]:
    """The choice as the snippet keeps it in the site's localStorage."""
    copy: dict[str, Any] = json.loads(tab.page.evaluate("localStorage.getItem('cleargif.consent')"))
    return copy


def consent_posts(tab: Tab) -> list[dict[str, Any]]:
    """The bodies of the POST /consent requests the page sends from now on."""
    bodies: list[dict[str, Any]] = []
    tab.page.on("request", lambda r: r.url.endswith("/consent") and r.method == "POST"
                and bodies.append(r.post_data_json))
    return bodies


def page_readable(tab: Tab) -> str:
    """Everything page scripts can read that could hold an id."""
    return json.dumps(tab.page.evaluate("""() => ({
        cookie: document.cookie, local: Object.assign({}, localStorage),
        session: Object.assign({}, sessionStorage), state: cleargif.consent.get()})"""))


def test_no_cookie_before_a_decision_and_only_cg_consent_after_reject_all(
        new_tab: Callable[..., Tab], collector: Collector, texts: dict[str, Any]) -> None:
    query = "utm_source=news&utm_campaign=t-reject&id=4711&mail=a%40b.example"
    tab = new_tab(f"/index.html?{query}#top", referer="https://search.example/results?q=private")
    page = tab.page
    expect(banner(tab, texts)).to_be_visible()
    wait_hits(tab, 1)
    assert cookies(tab) == {}, "no cookie at all before a decision"
    assert page.evaluate("document.cookie") == ""
    # The page view: path with utm_* only, no fragment, the referrer's origin, nothing else.
    assert tab.hits[0]["method"] == "POST"
    assert hit(tab.hits[0]) == {"p": "/index.html?utm_source=news&utm_campaign=t-reject",
                                "r": "https://search.example", "e": "pageview"}
    [row] = collector.wait_events(1, utm_campaign="t-reject")
    assert row["session_id"] is None and row["visitor_id"] is None
    assert row["referrer_host"] == "search.example" and row["path"] == "/index.html"
    # "Accept all" and "Reject all" are equally prominent.
    looks = page.evaluate("""names => names.map(n => {
        const b = [...document.querySelector('cleargif-root').shadowRoot.querySelectorAll('button')]
          .find(x => x.textContent === n);
        const s = getComputedStyle(b), r = b.getBoundingClientRect();
        return [s.backgroundColor, s.color, s.fontSize, s.fontWeight, s.borderWidth,
                Math.round(r.height)];
    })""", [texts["accept_all"], texts["reject_all"]])
    assert looks[0] == looks[1]
    screenshot(banner(tab, texts), "banner-en.png")

    answer = press(tab, banner(tab, texts), texts["reject_all"])
    assert answer["decided"] is True and not any(answer["chosen"].values())
    expect(banner(tab, texts)).to_be_hidden()
    jar = cookies(tab)
    assert set(jar) == {"cg_consent"}
    assert jar["cg_consent"]["httpOnly"] is True
    # Nothing unique to this browser is readable by page scripts.
    readable = page_readable(tab)
    for value in consent_ids(jar["cg_consent"]["value"]):
        assert value not in readable
    local = page.evaluate("Object.assign({}, localStorage)")
    assert list(local) == ["cleargif.consent"]
    copy = json.loads(local["cleargif.consent"])
    assert set(copy) == NO_IDS_KEYS
    assert copy["purposes"] == {"analytics": False, "personalization": False, "marketing": False}
    # "Reject all" means it: no beacon on events or on the next page view.
    page.evaluate("cleargif.track('after-reject')")
    page.reload()
    ready(tab)
    expect(banner(tab, texts)).to_be_hidden()
    expect(page.get_by_role("button", name=texts["preferences"])).to_be_visible()
    page.evaluate("cleargif.track('after-reload')")
    page.wait_for_timeout(300)
    assert len(tab.hits) == 1, tab.hits
    assert set(cookies(tab)) == {"cg_consent"}
    assert tab.page_errors == []


def test_analytics_session_cookie_personalization_visitor_cookie_and_withdrawal(
        new_tab: Callable[..., Tab], collector: Collector, texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html?utm_campaign=t-purposes")
    page = tab.page
    banner(tab, texts).get_by_role("button", name=texts["preferences"]).click()
    expect(dialog(tab, texts)).to_be_visible()
    # Toggles are off until chosen; necessary is on and locked.
    expect(switch(tab, texts, "necessary")).to_be_checked()
    expect(switch(tab, texts, "necessary")).to_be_disabled()
    for purpose in ("analytics", "personalization", "marketing"):
        expect(switch(tab, texts, purpose)).not_to_be_checked()
        expect(switch(tab, texts, purpose)).to_be_enabled()
    dialog(tab, texts).get_by_text(texts["cookies_heading"], exact=True).click()
    for row in texts["config"]["cookies"]:
        cell = dialog(tab, texts).get_by_role("cell", name=row["name"], exact=False).first
        expect(cell).to_be_visible()
    screenshot(page, "dialog-en.png")

    switch(tab, texts, "analytics").check()
    press(tab, dialog(tab, texts), texts["save"])
    expect(dialog(tab, texts)).to_have_count(0)
    jar = cookies(tab)
    assert set(jar) == {"cg_consent", "cg_sid"}
    assert jar["cg_sid"]["expires"] == -1, "cg_sid is a session cookie"
    assert jar["cg_sid"]["httpOnly"] is True

    page.goto(page.url.replace("t-purposes", "t-purposes-2"))
    ready(tab)
    page.get_by_role("button", name=texts["preferences"]).click()
    expect(switch(tab, texts, "analytics")).to_be_checked()
    switch(tab, texts, "personalization").check()
    press(tab, dialog(tab, texts), texts["save"])
    jar = cookies(tab)
    assert set(jar) == {"cg_consent", "cg_sid", "cg_vid"}
    assert time.time() < jar["cg_vid"]["expires"] <= time.time() + 390 * 86400 + 60

    page.get_by_role("button", name=texts["preferences"]).click()
    switch(tab, texts, "analytics").uncheck()
    switch(tab, texts, "personalization").uncheck()
    answer = press(tab, dialog(tab, texts), texts["save"])
    # Withdrawn in the same round trip: the answer to the POST already expired them.
    assert answer["purposes"]["analytics"] is False
    assert set(cookies(tab)) == {"cg_consent"}
    assert tab.page_errors == []

    stored = collector.wait_events(2, utm_campaign="t-purposes%")
    by_campaign = {r["utm_campaign"]: r for r in stored}
    assert by_campaign["t-purposes"]["session_id"] is None  # undecided: counted without ids
    assert by_campaign["t-purposes-2"]["session_id"] is not None  # analytics granted
    assert by_campaign["t-purposes-2"]["visitor_id"] is None  # personalization not yet


def accept_all(tab: Tab, texts: dict[str, Any]) -> dict[str, Any]:
    return press(tab, banner(tab, texts), texts["accept_all"])


def test_expired_consent_shows_banner_again_and_stale_cookies_go(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    accept_all(tab, texts)
    assert set(cookies(tab)) == {"cg_consent", "cg_sid", "cg_vid"}
    # 181 days later: the browser has dropped cg_consent (its Max-Age is CONSENT_DAYS) and
    # the local copy of the choice is as old.
    days = texts["config"]["consent_days"]
    tab.ctx.clear_cookies(name="cg_consent")
    tab.page.evaluate("""days => {
        const copy = JSON.parse(localStorage.getItem('cleargif.consent'));
        copy.decided_at = new Date(Date.now() - (days + 1) * 864e5).toISOString();
        localStorage.setItem('cleargif.consent', JSON.stringify(copy));
    }""", days)
    tab.page.reload()
    expect(banner(tab, texts)).to_be_visible()
    assert state(tab)["decided"] is False
    assert cookies(tab) == {}, "stale cg_sid and cg_vid expired by the first response"
    assert tab.page.evaluate("localStorage.getItem('cleargif.consent')") is None


def test_revision_bump_shows_banner_again_and_stale_cookies_go(
        new_tab: Callable[..., Tab], collector: Collector, texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    accept_all(tab, texts)
    expect(banner(tab, texts)).to_be_hidden()
    assert set(cookies(tab)) == {"cg_consent", "cg_sid", "cg_vid"}
    collector.stop()
    collector.start(revision=2)
    tab.page.reload()
    expect(banner(tab, texts)).to_be_visible()
    now = state(tab)
    assert now["decided"] is False and now["revision"] == 2
    assert not {"cg_sid", "cg_vid"} & set(cookies(tab))
    # The new revision is decided afresh, and the local copy follows it.
    accept_all(tab, texts)
    copy = json.loads(tab.page.evaluate("localStorage.getItem('cleargif.consent')"))
    assert copy["revision"] == 2


GPC_INIT = ("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
            "{get: () => true, configurable: true});")


def test_gpc_keeps_marketing_blocked_after_accept_all(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/gated.html", init_script=GPC_INIT, extra_http_headers={"Sec-GPC": "1"})
    page = tab.page
    answer = accept_all(tab, texts)
    assert answer["gpc"] is True
    assert answer["purposes"]["marketing"] is False and answer["purposes"]["analytics"] is True
    page.wait_for_function("() => __order.length >= 3")
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"], "marketing tags stay blocked"
    assert page.evaluate("document.cookie") == ""
    assert page.locator("iframe[title='marketing frame']").get_attribute("src") is None
    # Google Consent Mode v2: default (all denied) before any tag, then the update.
    calls = page.evaluate("dataLayer.filter(a => a[0] === 'consent').map(a => [a[1], a[2]])")
    assert calls[0][0] == "default"
    assert calls[0][1]["wait_for_update"] == 500
    assert {k: v for k, v in calls[0][1].items() if k != "wait_for_update"} == {
        "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
        "analytics_storage": "denied", "functionality_storage": "denied",
        "personalization_storage": "denied", "security_storage": "granted"}
    assert calls[-1] == ["update", {
        "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
        "analytics_storage": "granted", "functionality_storage": "granted",
        "personalization_storage": "granted", "security_storage": "granted"}]
    # Only the dialog's own marketing switch overrides GPC; the dialog says so.
    page.get_by_role("button", name="Privacy settings").click()
    expect(dialog(tab, texts).get_by_text(texts["gpc_notice"])).to_be_visible()
    expect(switch(tab, texts, "marketing")).not_to_be_checked()
    switch(tab, texts, "marketing").check()
    request_body: list[Any] = []
    page.on("request", lambda r: r.url.endswith("/consent") and r.method == "POST"
            and request_body.append(r.post_data_json))
    answer = press(tab, dialog(tab, texts), texts["save"])
    assert request_body[0]["gpc_override"] is True and request_body[0]["source"] == "dialog"
    assert answer["purposes"]["marketing"] is True
    page.wait_for_function("() => __order.includes('AM')")
    assert page.evaluate("__order") == ["A", "B", "C", "M", "AM"]
    last = page.evaluate("dataLayer.filter(a => a[0] === 'consent').pop()[2]")
    assert last["ad_storage"] == last["ad_user_data"] == last["ad_personalization"] == "granted"


def test_dialog_overrides_gpc_seen_only_by_script_and_accept_all_never_does(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    # No Sec-GPC header: the page tells the collector, which records GPC and the dialog's
    # override; the page must honour that switch, and remember that it was that switch.
    tab = new_tab("/gated.html", init_script=GPC_INIT)
    page = tab.page
    bodies = consent_posts(tab)
    ready(tab)
    page.get_by_role("button", name="Privacy settings").click()
    expect(dialog(tab, texts).get_by_text(texts["gpc_notice"])).to_be_visible()
    switch(tab, texts, "marketing").check()
    answer = press(tab, dialog(tab, texts), texts["save"])
    assert bodies[-1]["gpc_override"] is True and bodies[-1]["purposes"]["marketing"] is True
    assert bodies[-1]["gpc"] is True
    assert answer["gpc"] is True and answer["purposes"]["marketing"] is True
    page.wait_for_function("() => __order.includes('M')")
    assert state(tab)["purposes"]["marketing"] is True
    assert local_copy(tab)["gpc_override"] is True
    page.reload()
    ready(tab)
    assert state(tab)["purposes"]["marketing"] is True, "the override outlives the page"
    page.wait_for_function("() => __order.includes('M')")
    # Without the local copy (cleared, or another page of the site) the collector says so.
    page.evaluate("localStorage.clear()")
    page.reload()
    ready(tab)
    assert state(tab)["purposes"]["marketing"] is True, "the state carries the override"
    page.wait_for_function("() => __order.includes('M')")
    # "Accept all" never overrides GPC: it withdraws marketing (its tag ran, so the page
    # reloads) and the local copy forgets the override.
    page.get_by_role("button", name="Privacy settings").click()
    press(tab, dialog(tab, texts), texts["accept_all"], reloads=True)
    ready(tab)
    assert bodies[-1]["purposes"]["marketing"] is False and bodies[-1]["gpc_override"] is False
    assert state(tab)["purposes"]["marketing"] is False
    assert local_copy(tab)["gpc_override"] is False
    page.wait_for_function("() => __order.length >= 3")
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"]
    assert tab.page_errors == []


def test_dialog_override_of_gpc_survives_a_reload_cross_site(
        new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    tab = new_tab("/gated.html", origin=site.cross_url, init_script=GPC_INIT,
                  extra_http_headers={"Sec-GPC": "1"})
    page = tab.page
    ready(tab)
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "marketing").check()
    answer = press(tab, dialog(tab, texts), texts["save"])
    assert answer["gpc"] is True and answer["purposes"]["marketing"] is True
    page.wait_for_function("() => __order.includes('M')")
    # The collector's cookie does not reach this site: only the local copy knows the override.
    page.reload()
    ready(tab)
    now = state(tab)
    assert now["local"] is True and now["purposes"]["marketing"] is True
    page.wait_for_function("() => __order.includes('M')")
    assert tab.page_errors == []


def test_dnt_disables_analytics_and_personalization_in_the_dialog(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html?utm_campaign=t-dnt", extra_http_headers={"DNT": "1"})
    ready(tab)
    assert state(tab)["dnt"] is True
    banner(tab, texts).get_by_role("button", name=texts["preferences"]).click()
    for purpose in ("analytics", "personalization"):
        expect(switch(tab, texts, purpose)).to_be_disabled()
        expect(switch(tab, texts, purpose)).not_to_be_checked()
    expect(switch(tab, texts, "marketing")).to_be_enabled()
    expect(dialog(tab, texts).get_by_text(texts["dnt_notice"]).first).to_be_visible()
    answer = press(tab, dialog(tab, texts), texts["accept_all"])
    assert answer["purposes"]["analytics"] is False
    assert "cg_sid" not in cookies(tab) and "cg_vid" not in cookies(tab)
    tab.page.wait_for_timeout(200)
    assert pageviews(tab) == [], "DNT under until-refused: nothing is sent"


#: Records every beacon and GIF hit the moment the page sends it.
BEACON_SPY = """
window.__sent = [];
const realBeacon = Navigator.prototype.sendBeacon;
Navigator.prototype.sendBeacon = function (url, data) {
  __sent.push(String(url));
  return realBeacon.call(this, url, data);
};
const realSrc = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
Object.defineProperty(HTMLImageElement.prototype, 'src', {configurable: true,
  get() { return realSrc.get.call(this); },
  set(value) { __sent.push(String(value)); realSrc.set.call(this, value); }});
"""


def test_dnt_banner_says_nothing_is_counted_and_nothing_is_sent(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html?utm_campaign=t-dnt-banner", init_script=BEACON_SPY,
                  extra_http_headers={"DNT": "1"})
    ready(tab)
    expect(banner(tab, texts)).to_contain_text(texts["counting_dnt"])
    expect(banner(tab, texts)).not_to_contain_text(texts["counting"])
    assert texts["counting_dnt"].startswith("Because your browser sends Do Not Track")
    # Sending is synchronous: had the page view or an event gone, it would be listed now.
    tab.page.evaluate("() => { cleargif.track('dnt-probe'); cleargif.pageview(); }")
    assert tab.page.evaluate("__sent") == []
    assert tab.hits == []
    # Without DNT the same page says it counts until a choice, and does.
    plain = new_tab("/index.html?utm_campaign=t-dnt-banner", init_script=BEACON_SPY)
    ready(plain)
    expect(banner(plain, texts)).to_contain_text(texts["counting"])
    assert len(plain.page.evaluate("__sent")) == 1
    assert tab.page_errors == [] and plain.page_errors == []


def test_the_notices_in_the_dialog_stay_bold(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    # Under DNT and GPC the dialog holds every notice: "Always on", DNT's and GPC's.
    tab = new_tab("/index.html", init_script=GPC_INIT, extra_http_headers={"DNT": "1"})
    ready(tab)
    banner(tab, texts).get_by_role("button", name=texts["preferences"]).click()
    notices = [texts["necessary_locked"], texts["dnt_notice"], texts["dnt_notice"],
               texts["gpc_notice"]]
    weights = []
    for text in dict.fromkeys(notices):
        shown = dialog(tab, texts).get_by_text(text, exact=True)
        expect(shown).to_have_count(notices.count(text))
        weights += shown.evaluate_all("all => all.map(e => getComputedStyle(e).fontWeight)")
    assert len(weights) == 4 and all(int(w) >= 600 for w in weights), weights
    screenshot(dialog(tab, texts), "dialog-dnt-gpc.png")


#: Where the white knob of a switch is, read off a screenshot of it (decoded in a blank
#: page): the mean x of the white pixels on its middle row, as "left" or "right".
KNOB_SIDE = """async png => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const row = context.getImageData(0, image.height >> 1, image.width, 1).data;
  let sum = 0, count = 0;
  for (let x = 0; x < image.width; x++) {
    if (row[4 * x] > 240 && row[4 * x + 1] > 240 && row[4 * x + 2] > 240) { sum += x; count++; }
  }
  return count ? (sum / count < image.width / 2 ? 'left' : 'right') : null;
}"""


def knob(tab: Tab, control: Any) -> str:
    """The side of the switch ``control`` its knob is on, as the visitor sees it."""
    png = control.screenshot(animations="disabled")
    decoder = tab.ctx.new_page()
    try:
        side: str = decoder.evaluate(KNOB_SIDE, base64.b64encode(png).decode())
        return side
    finally:
        decoder.close()


def looks(control: Any) -> dict[str, Any]:
    """What the switch looks like: size, track colour, opacity, and the label beside it."""
    result: dict[str, Any] = control.evaluate("""e => {
        const s = getComputedStyle(e), r = e.getBoundingClientRect();
        const text = e.labels[0].lastChild, range = document.createRange();
        range.selectNodeContents(text);
        const t = range.getBoundingClientRect();
        return {width: r.width, height: r.height, track: s.backgroundColor,
                opacity: parseFloat(s.opacity), left: r.left, textLeft: t.left};
    }""")
    return result


def test_purposes_are_toggle_switches_ltr_rtl_and_on_a_phone(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    ready(tab)
    banner(tab, texts).get_by_role("button", name=texts["preferences"]).click()
    analytics, necessary = switch(tab, texts, "analytics"), switch(tab, texts, "necessary")
    off = looks(analytics)
    # A track wider than tall, after the label (the inline end), its knob at the start.
    assert off["width"] >= 1.6 * off["height"] >= 1.6 * 18, off
    assert off["left"] > off["textLeft"], "the switch follows its label"
    assert knob(tab, analytics) == "left"
    analytics.click()
    expect(analytics).to_be_checked()
    assert knob(tab, analytics) == "right"
    expect(analytics).not_to_have_css("background-color", off["track"])  # after its slide
    # Locked on: on, and dimmed like every switch that cannot be moved.
    assert knob(tab, necessary) == "right" and looks(necessary)["opacity"] <= 0.6
    screenshot(dialog(tab, texts), "dialog-switches-en.png")

    # Right to left (Arabic, under DNT): the switch at the left end of its row, its knob
    # starting on the right; DNT's switches are locked off. (test_keyboard_only checks
    # the focus ring on each switch.)
    arabic = new_tab("/ar.html", extra_http_headers={"DNT": "1"})
    ready(arabic)
    screenshot(arabic.page.locator("cleargif-root [role=dialog]"), "banner-ar-dnt.png")
    arabic.page.evaluate("cleargif.consent.show()")
    arabic_texts = arabic.page.evaluate("() => fetch(document.querySelector('script').src"
                                        ".replace(/static.*/, 'consent/config?lang=ar'))"
                                        ".then(r => r.json()).then(c => c.texts)")
    box = arabic.page.get_by_role("dialog", name=arabic_texts["preferences"])
    marketing = box.get_by_role("switch", name=arabic_texts["purposes"]["marketing"]["label"])
    locked = box.get_by_role("switch", name=arabic_texts["purposes"]["analytics"]["label"])
    rtl = looks(marketing)
    assert rtl["left"] < rtl["textLeft"], "right to left the switch is on the left"
    assert knob(arabic, marketing) == "right"
    marketing.click()
    assert knob(arabic, marketing) == "left"
    expect(locked).to_be_disabled()
    assert knob(arabic, locked) == "right" and looks(locked)["opacity"] <= 0.6
    screenshot(box, "dialog-ar-dnt.png")

    # A phone, 390 px wide: the banner and the dialog fit across, the switches still look
    # like switches, and nothing makes the page scroll sideways.
    phone = new_tab("/index.html", viewport={"width": 390, "height": 844},
                    device_scale_factor=2, is_mobile=True, has_touch=True)
    ready(phone)
    screenshot(phone.page, "banner-phone.png")
    assert banner(phone, texts).bounding_box()["width"] <= 390
    banner(phone, texts).get_by_role("button", name=texts["preferences"]).tap()
    expect(dialog(phone, texts)).to_be_visible()
    box = dialog(phone, texts).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    small = looks(switch(phone, texts, "marketing"))
    assert small["width"] >= 1.6 * small["height"] and small["left"] + small["width"] <= 390
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone.page, "dialog-phone.png")
    assert tab.page_errors == arabic.page_errors == phone.page_errors == []


def focus(tab: Tab) -> dict[str, Any]:
    """The focused control, inside shadow roots too: tag, accessible name, in the dialog?,
    and whether it shows a visible focus ring."""
    result: dict[str, Any] | None = tab.page.evaluate(DEEP_FOCUS)
    assert result is not None, "focus was lost to the document"
    return result


def tab_to(tab: Tab, name: str, limit: int = 15) -> None:
    """Press Tab until the control named ``name`` has focus (from the page's start, too)."""
    for _ in range(limit):
        now = tab.page.evaluate(DEEP_FOCUS)
        if now is not None and now["name"] == name:
            return
        tab.page.keyboard.press("Tab")
    raise AssertionError(f"{name!r} is not reachable with Tab")


def test_keyboard_only(new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    page = tab.page
    keyboard = page.keyboard
    expect(banner(tab, texts)).to_be_visible()
    # The banner comes first in Tab order, each control with a visible focus ring.
    seen = []
    for _ in range(4):
        keyboard.press("Tab")
        now = focus(tab)
        assert now["outline"], now
        seen.append(now["name"])
    assert seen == [texts["policy_link"], texts["accept_all"], texts["reject_all"],
                    texts["preferences"]]
    keyboard.press("Enter")
    expect(dialog(tab, texts)).to_be_visible()
    labels = [texts["purposes"][p]["label"] for p in ("analytics", "personalization", "marketing")]
    assert focus(tab)["inDialog"] and focus(tab)["name"] == labels[0], "focus moves in"
    # Tab cycles inside the dialog (necessary is locked, so not a stop), both ways.
    cycle = [*labels, texts["cookies_heading"], texts["save"], texts["accept_all"],
             texts["reject_all"], texts["close"], texts["policy_link"]]
    names = []
    for _ in range(len(cycle) + 2):
        now = focus(tab)
        assert now["inDialog"] and now["outline"], now
        names.append(now["name"])
        keyboard.press("Tab")
    assert names == cycle + cycle[:2]
    for _ in range(4):  # marketing, personalization, analytics, policy link, then around
        keyboard.press("Shift+Tab")
    assert focus(tab)["name"] == texts["close"]
    # Space toggles; Esc closes without saving and focus returns to the opener.
    tab_to(tab, labels[0])
    keyboard.press("Space")
    expect(switch(tab, texts, "analytics")).to_be_checked()
    keyboard.press("Escape")
    expect(dialog(tab, texts)).to_have_count(0)
    assert focus(tab)["name"] == texts["preferences"]
    assert cookies(tab) == {}
    # Reopen, open the cookie table, grant analytics, save.
    keyboard.press("Enter")
    expect(dialog(tab, texts)).to_be_visible()
    keyboard.press("Space")
    tab_to(tab, texts["cookies_heading"])
    keyboard.press("Enter")
    expect(dialog(tab, texts).get_by_role("cell", name="cg_consent", exact=False)).to_be_visible()
    tab_to(tab, texts["save"])
    answer = post_consent(tab, lambda: keyboard.press("Enter"))
    assert answer["purposes"]["analytics"] is True
    expect(banner(tab, texts)).to_be_hidden()
    assert set(cookies(tab)) == {"cg_consent", "cg_sid"}
    # Focus is not lost with the banner: it lands on the "Cookie settings" footer link,
    # which reopens the dialog; Esc returns there.
    assert focus(tab)["name"] == texts["preferences"]
    keyboard.press("Enter")
    expect(dialog(tab, texts)).to_be_visible()
    expect(switch(tab, texts, "analytics")).to_be_checked()
    keyboard.press("Escape")
    expect(dialog(tab, texts)).to_have_count(0)
    assert focus(tab)["name"] == texts["preferences"]
    assert tab.page_errors == []


def wait_focus(tab: Tab, name: str) -> dict[str, Any]:
    """Wait until the control named ``name`` has focus (the answer to a choice is async)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        now: dict[str, Any] | None = tab.page.evaluate(DEEP_FOCUS)
        if now is not None and now["name"] == name:
            return now
        assert time.monotonic() < deadline, f"focus is on {now}, not on {name!r}"
        tab.page.wait_for_timeout(50)


def test_keyboard_focus_after_a_decision_is_not_lost(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    host_link, host_hook = "A link of the host page", "Privacy settings"
    # A banner button hides with the banner: focus goes to "Cookie settings", which reopens.
    tab = new_tab("/index.html")
    ready(tab)
    tab_to(tab, texts["reject_all"])
    post_consent(tab, lambda: tab.page.keyboard.press("Enter"))
    expect(banner(tab, texts)).to_be_hidden()
    now = wait_focus(tab, texts["preferences"])
    assert now["tag"] == "button" and not now["inDialog"] and now["outline"]
    # Focus that came into the banner from the page goes back there.
    tab = new_tab("/index.html")
    ready(tab)
    tab.page.get_by_role("link", name=host_link).focus()
    for _ in range(5):
        tab.page.keyboard.press("Shift+Tab")
        if focus(tab)["name"] == texts["accept_all"]:
            break
    post_consent(tab, lambda: tab.page.keyboard.press("Enter"))
    assert wait_focus(tab, host_link)["tag"] == "a"
    # The host page has its own preferences button (so no footer link): focus goes there,
    # after a banner button and after the dialog opened from the banner.
    tab = new_tab("/gated.html")
    ready(tab)
    tab_to(tab, texts["reject_all"])
    post_consent(tab, lambda: tab.page.keyboard.press("Enter"))
    wait_focus(tab, host_hook)
    tab = new_tab("/gated.html")
    ready(tab)
    tab_to(tab, texts["preferences"])
    tab.page.keyboard.press("Enter")
    expect(dialog(tab, texts)).to_be_visible()
    tab_to(tab, texts["save"])
    post_consent(tab, lambda: tab.page.keyboard.press("Enter"))
    expect(dialog(tab, texts)).to_have_count(0)
    assert not wait_focus(tab, host_hook)["inDialog"]
    tab.page.keyboard.press("Enter")  # the host's button reopens the dialog
    expect(dialog(tab, texts)).to_be_visible()
    tab.page.keyboard.press("Escape")
    wait_focus(tab, host_hook)


def test_gated_scripts_and_iframes_run_once_in_order_after_their_purpose(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/gated.html")
    page = tab.page
    ready(tab)
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == [] and page.evaluate("__frames") == []
    assert page.locator("iframe[src]").count() == 0
    # Analytics only: A, then slow external B, then C, in document order.
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "analytics").check()
    press(tab, dialog(tab, texts), texts["save"])
    page.wait_for_function("() => __order.length >= 3 && __frames.length >= 1")
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"]
    assert page.evaluate("__frames") == ["FA"]
    # Deciding again runs nothing twice.
    page.get_by_role("button", name="Privacy settings").click()
    press(tab, dialog(tab, texts), texts["save"])
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"]
    # Marketing granted later: its tags run then, still in document order, once.
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "marketing").check()
    press(tab, dialog(tab, texts), texts["save"])
    page.wait_for_function("() => __order.length >= 5 && __frames.length >= 2")
    assert page.evaluate("__order") == ["A", "B", "C", "M", "AM"]
    assert page.evaluate("__frames") == ["FA", "FM"]
    assert {"_ga", "_ga_XYZ"} <= set(cookies(tab))
    # Withdrawing marketing clears the service's declared cookies and reloads the page.
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "marketing").uncheck()
    press(tab, dialog(tab, texts), texts["save"], reloads=True)
    ready(tab)
    page.wait_for_function("() => __order.length >= 3")
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"]
    assert not {"_ga", "_ga_XYZ"} & set(cookies(tab))
    assert page.locator("iframe[title='marketing frame']").get_attribute("src") is None
    assert tab.page_errors == []


def test_spa_navigation_sends_one_pageview_per_path_change(
        new_tab: Callable[..., Tab], collector: Collector, texts: dict[str, Any]) -> None:
    tab = new_tab("/spa/index.html")
    page = tab.page
    accept_all(tab, texts)
    page.evaluate("""() => {
        history.pushState({}, '', '/spa/a');
        history.pushState({}, '', '/spa/a#details');
        history.replaceState({}, '', '/spa/a?tab=2');
        history.pushState({}, '', '/spa/b?utm_source=spa');
        cleargif.pageview();
    }""")
    page.evaluate("""() => new Promise(done => {
        addEventListener('popstate', done, {once: true});
        history.back();
    })""")
    settle(tab, "spa-done")
    # Same path with another fragment or query is no new page view; the query never goes.
    assert [v["p"] for v in pageviews(tab)] == [
        "/spa/index.html", "/spa/a", "/spa/b?utm_source=spa", "/spa/a"]
    assert all(v["r"] == "" for v in pageviews(tab))
    assert all(set(hit(h)) == {"p", "r", "e"} for h in tab.hits), "beacons carry no ids"
    # Beacons sent together may reach the server in any order.
    stored = collector.wait_events(5, path="/spa/%")
    views = sorted((r["path"], bool(r["session_id"])) for r in stored if r["kind"] == "pageview")
    assert views == [("/spa/a", True), ("/spa/a", True), ("/spa/b", True),
                     ("/spa/index.html", False)]  # the first one came before the decision


def test_cross_site_choice_sticks_through_local_storage(
        new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    # Page on localhost, collector on 127.0.0.1: another site, so its cookies are dropped.
    tab = new_tab("/gated.html", origin=site.cross_url)
    page = tab.page
    accept_all(tab, texts)
    page.wait_for_function("() => __order.length >= 5")
    copy = json.loads(page.evaluate("localStorage.getItem('cleargif.consent')"))
    assert set(copy) == NO_IDS_KEYS and all(copy["purposes"].values())
    tab.ctx.clear_cookies()  # nothing may rest on a cookie
    before = len(pageviews(tab))
    page.reload()
    ready(tab)
    expect(banner(tab, texts)).to_be_hidden()
    now = state(tab)
    assert now["decided"] is True and now["local"] is True
    page.wait_for_function("() => __order.length >= 5")
    settle(tab, "cross-accepted")
    assert len(pageviews(tab)) == before + 1

    refused = new_tab("/index.html", origin=site.cross_url)
    press(refused, banner(refused, texts), texts["reject_all"])
    refused.ctx.clear_cookies()
    sent = len(refused.hits)
    refused.page.reload()
    ready(refused)
    expect(banner(refused, texts)).to_be_hidden()
    refused.page.evaluate("cleargif.track('cross-refused')")
    refused.page.wait_for_timeout(300)
    assert len(refused.hits) == sent, "a refusal kept locally sends nothing"
    assert tab.page_errors == [] and refused.page_errors == []


def test_withdrawal_clears_the_services_cookies_cross_site(
        new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    # Page on localhost, collector on 127.0.0.1: the collector's answer cannot expire the
    # page's cookies, so the snippet must clear the declared ones itself.
    tab = new_tab("/gated.html", origin=site.cross_url)
    page = tab.page

    def page_cookies() -> set[str]:
        return {c["name"] for c in tab.ctx.cookies(site.cross_url)}

    accept_all(tab, texts)
    page.wait_for_function("() => __order.includes('M')")
    page.evaluate("document.cookie = 'host_pref=1; path=/'")
    # A page's cookie write reaches the browser's cookie store a moment later.
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not {"_ga", "_ga_XYZ", "host_pref"} <= page_cookies():
        assert time.monotonic() < deadline, page_cookies()
        page.wait_for_timeout(50)
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "marketing").uncheck()
    press(tab, dialog(tab, texts), texts["save"], reloads=True)
    ready(tab)
    assert not {"_ga", "_ga_XYZ"} & page_cookies()
    assert "host_pref" in page_cookies(), "only the declared cookies go"
    assert tab.page_errors == []


def test_path_and_event_name_are_cut_to_1_kb(new_tab: Callable[..., Tab]) -> None:
    tab = new_tab("/index.html")
    ready(tab)
    long_path = "/" + "p" * 3000 + "?utm_source=" + "u" * 50
    tab.page.evaluate("""path => {
        history.pushState({}, '', path);
        cleargif.track('e'.repeat(3000));
    }""", long_path)
    settle(tab, "caps-done")
    sent = [hit(h) for h in tab.hits]
    assert all(h["method"] == "POST" for h in tab.hits)
    assert [f["p"] for f in pageviews(tab)] == ["/index.html", long_path[:1024]]
    events = [f for f in sent if f["e"].startswith("eee")]
    assert [(f["p"], f["e"]) for f in events] == [(long_path[:1024], "e" * 1024)]


def test_a_page_script_cannot_press_the_banner_buttons(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    page = tab.page
    bodies = consent_posts(tab)
    ready(tab)
    page.evaluate("""() => {
        const buttons = document.querySelector('cleargif-root').shadowRoot
            .querySelector('[role=dialog]').querySelectorAll('button');
        for (const b of buttons) b.click();
        for (const b of buttons) b.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    }""")
    page.wait_for_timeout(300)
    assert bodies == [], "no choice from a script's click"
    expect(banner(tab, texts)).to_be_visible()
    expect(dialog(tab, texts)).to_have_count(0)
    assert state(tab)["decided"] is False
    accept_all(tab, texts)  # a real click does
    assert state(tab)["purposes"]["analytics"] is True


CSP_PROBE = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
window.__globals = Object.keys(window);
"""


def test_csp_page_works(new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    tab = new_tab("/csp/index.html", init_script=CSP_PROBE)
    page = tab.page
    expect(banner(tab, texts)).to_be_visible()
    # Styled through CSSOM: the CSP allows no inline style, yet the banner is laid out.
    position = page.evaluate("""() => getComputedStyle(document.querySelector('cleargif-root')
        .shadowRoot.querySelector('[role=dialog]')).position""")
    assert position == "fixed"
    accept_all(tab, texts)
    page.wait_for_function("() => window.__inline === 'ran' && window.__external === 'ran'")
    assert page.evaluate("window.__violations") == []
    added = page.evaluate("Object.keys(window).filter(k => !window.__globals.includes(k))")
    assert [k for k in added if not k.startswith("__")] == ["cleargif"], "one global"
    assert tab.console_errors == [] and tab.page_errors == []


def test_styles_are_scoped_both_ways(new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    tab = new_tab("/styled.html")
    page = tab.page
    expect(banner(tab, texts)).to_be_visible()
    inside = page.evaluate("""() => {
        const root = document.querySelector('cleargif-root').shadowRoot;
        const b = getComputedStyle(root.querySelector('button'));
        const h = getComputedStyle(root.querySelector('h2'));
        return [b.backgroundColor, b.color, b.fontSize, h.display, h.fontFamily];
    }""")
    assert inside[:3] == ["rgb(27, 27, 27)", "rgb(255, 255, 255)", "15px"]
    assert inside[3] == "block" and inside[4] != "serif"
    # ...and cleargif's styles stay inside: the host's own button keeps the host's look.
    outside = page.evaluate("""() => {
        const s = getComputedStyle(document.getElementById('host'));
        return [s.backgroundColor, s.fontSize];
    }""")
    assert outside == ["rgb(255, 0, 0)", "40px"]
    screenshot(banner(tab, texts), "banner-hostile-css.png")


def test_collector_stopped_after_load_raises_nothing(
        new_tab: Callable[..., Tab], collector: Collector, texts: dict[str, Any]) -> None:
    tab = new_tab("/index.html")
    page = tab.page
    expect(banner(tab, texts)).to_be_visible()
    collector.stop()
    banner(tab, texts).get_by_role("button", name=texts["accept_all"]).click()
    banner(tab, texts).get_by_role("button", name=texts["preferences"]).click()
    dialog(tab, texts).get_by_role("button", name=texts["reject_all"]).click()
    page.keyboard.press("Escape")
    page.evaluate("""async () => {
        cleargif.track('offline');
        history.pushState({}, '', '/offline');
        cleargif.pageview();
        await cleargif.consent.set({analytics: false});
    }""")
    page.wait_for_timeout(500)
    assert tab.page_errors == []
    own = [m for m in tab.console_errors
           if not re.search(r"Failed to load resource|net::ERR_|Failed to fetch", m)]
    assert own == [], "errors from the snippet itself"
    expect(banner(tab, texts)).to_be_visible()


HOSTILE = """
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('off', 'SecurityError'); }});
Object.defineProperty(Document.prototype, 'cookie', {
  get() { throw new DOMException('off', 'SecurityError'); },
  set(v) { throw new DOMException('off', 'SecurityError'); }});
Object.defineProperty(Navigator.prototype, 'sendBeacon', {value: undefined});
"""


def test_storage_cookies_and_beacon_missing_never_throw(
        new_tab: Callable[..., Tab], texts: dict[str, Any]) -> None:
    # localStorage and document.cookie throw, sendBeacon is gone. (Only analytics is granted:
    # the page's marketing tag writes document.cookie itself and would throw, not cleargif.)
    tab = new_tab("/gated.html?utm_campaign=t-hostile", init_script=HOSTILE)
    page = tab.page
    expect(banner(tab, texts)).to_be_visible()
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "analytics").check()
    press(tab, dialog(tab, texts), texts["save"])
    expect(banner(tab, texts)).to_be_hidden()
    page.wait_for_function("() => __order.length >= 3")
    settle(tab, "hostile-done")
    # Without sendBeacon the hits go as GIF requests.
    assert {h["method"] for h in tab.hits} == {"GET"}
    assert all("/t.gif?" in h["url"] for h in tab.hits)
    assert pageviews(tab)[0]["p"] == "/gated.html?utm_campaign=t-hostile"
    # Withdrawing clears cookies (which throws here) and reloads.
    page.get_by_role("button", name="Privacy settings").click()
    switch(tab, texts, "analytics").uncheck()
    press(tab, dialog(tab, texts), texts["save"], reloads=True)
    ready(tab)
    assert state(tab)["purposes"]["analytics"] is False
    assert tab.page_errors == []


def test_languages_and_right_to_left(new_tab: Callable[..., Tab]) -> None:
    german = new_tab("/de.html", locale="en-US")
    ready(german)
    expect(german.page.get_by_role("dialog", name="Cookies und Datenschutz")).to_be_visible()
    arabic = new_tab("/index.html", locale="ar")
    ready(arabic)
    box = arabic.page.locator("cleargif-root").locator("[role=dialog]")
    expect(box).to_be_visible()
    assert box.get_attribute("dir") == "rtl" and box.get_attribute("lang") == "ar"
    assert arabic.page.evaluate("""() => getComputedStyle(document.querySelector('cleargif-root')
        .shadowRoot.querySelector('[role=dialog]')).direction""") == "rtl"
    screenshot(box, "banner-ar.png")
    box.get_by_role("button").last.click()
    expect(arabic.page.locator("dialog")).to_be_visible()
    assert arabic.page.locator("dialog").get_attribute("dir") == "rtl"
    screenshot(arabic.page, "dialog-ar.png")


def test_consent_set_grants_only_inside_a_user_gesture(
        new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    # api.html's own script asks for a grant as soon as the state is known, with no gesture.
    # Playwright's evaluate() counts as a user gesture, so until that request has gone out
    # the test only watches the network.
    tab = new_tab(None)
    page = tab.page
    answer = post_consent(tab, lambda: page.goto(site.url + "/api.html"))
    assert page.evaluate("window.__active") is False
    assert answer["decided"] is True
    assert answer["purposes"]["analytics"] is False, "a grant without a gesture is dropped"
    assert "cg_sid" not in cookies(tab)
    # Inside a click the same call grants.
    post_consent(tab, page.get_by_role("button", name="Allow analytics").click)
    assert state(tab)["purposes"]["analytics"] is True
    assert "cg_sid" in cookies(tab)
    # on('consent') saw the first state, the refusal and the grant.
    assert page.evaluate("__seen") == [False, True, True]
    assert tab.page_errors == []


NO_USER_ACTIVATION = ("Object.defineProperty(Navigator.prototype, 'userActivation', "
                      "{get: () => undefined, configurable: true});")


def test_consent_set_without_user_activation_needs_a_trusted_event(
        new_tab: Callable[..., Tab], site: Site) -> None:
    """Where navigator.userActivation is missing, a grant still needs a real click or key."""
    tab = new_tab(None, init_script=NO_USER_ACTIVATION)
    page = tab.page
    answer = post_consent(tab, lambda: page.goto(site.url + "/api.html"))
    assert page.evaluate("window.__active") is None
    assert answer["purposes"]["analytics"] is False, "a grant without a gesture is dropped"
    post_consent(tab, page.get_by_role("button", name="Allow analytics").click)
    assert state(tab)["purposes"]["analytics"] is True
    assert tab.page_errors == []


def test_gpc_seen_only_by_script_blocks_marketing(
        new_tab: Callable[..., Tab], site: Site, texts: dict[str, Any]) -> None:
    # No Sec-GPC header: only navigator.globalPrivacyControl says so.
    tab = new_tab("/gated.html", init_script=GPC_INIT)
    page = tab.page
    bodies: list[Any] = []
    page.on("request", lambda r: r.url.endswith("/consent") and r.method == "POST"
            and bodies.append(r.post_data_json))
    answer = accept_all(tab, texts)
    assert bodies[0]["purposes"]["marketing"] is False and not bodies[0]["gpc_override"]
    assert bodies[0]["gpc"] is True  # the collector cannot see script-only GPC: it is told
    assert answer["purposes"]["marketing"] is False and answer["gpc"] is True
    page.wait_for_function("() => __order.length >= 3")
    page.wait_for_timeout(200)
    assert page.evaluate("__order") == ["A", "B", "C"], "marketing tags stay blocked"
    # A choice kept locally (cross-site) from before GPC was on does not unlock them either.
    cross = new_tab("/gated.html", origin=site.cross_url)
    accept_all(cross, texts)
    cross.ctx.clear_cookies()
    cross.ctx.add_init_script(GPC_INIT)
    cross.page.reload()
    ready(cross)
    now = state(cross)
    assert now["local"] is True and now["purposes"]["marketing"] is False
    cross.page.wait_for_function("() => __order.length >= 3")
    cross.page.wait_for_timeout(200)
    assert cross.page.evaluate("__order") == ["A", "B", "C"]


def test_demo_page(browser: Any, collector: Collector, texts: dict[str, Any]) -> None:
    ctx = browser.new_context()
    try:
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.add_init_script(CSP_PROBE)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        with page.expect_response(lambda r: r.url.endswith("/static/js/cleargif.js")) as js:
            response = page.goto(collector.url + "/")
        assert response is not None and response.status == 200
        assert js.value.headers.get("content-encoding") == "gzip", "the snippet comes compressed"
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        expect(page.locator("#demo-state")).to_contain_text('"decided": false')
        expect(page.locator("#demo-analytics")).to_contain_text("Blocked")
        page.get_by_role("dialog", name=texts["title"]).get_by_role(
            "button", name=texts["accept_all"]).click()
        expect(page.locator("#demo-state")).to_contain_text('"decided": true')
        expect(page.locator("#demo-analytics")).to_contain_text("The analytics tag ran")
        frame = page.frame_locator("iframe[title='Marketing iframe (demo)']")
        expect(frame.locator("#demo-frame")).to_contain_text("marketing is allowed")
        assert page.evaluate("window.__violations") == []
        assert errors == []
    finally:
        ctx.close()


def wait_until(tab: Tab, done: Callable[[], bool], what: str) -> None:
    """Poll ``done`` (bounded): for what the page reports asynchronously."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        tab.page.wait_for_timeout(50)


def test_data_debug_shows_the_errors_kept_from_the_page(new_tab: Callable[..., Tab]) -> None:
    # The page's consent listener throws. With data-debug on the script tag the site owner
    # sees it in the console, as a warning from cleargif; the page itself never gets it.
    debug = new_tab("/debug.html")
    ready(debug)
    debug.page.wait_for_function("() => window.__calls >= 1")
    wait_until(debug, lambda: bool(debug.console_warnings), "a console warning")
    [warning] = debug.console_warnings
    assert warning.startswith("cleargif: caught Error: the listener broke")
    assert debug.page_errors == []
    # Without data-debug the same error stays silent.
    quiet = new_tab("/throwing.html")
    ready(quiet)
    quiet.page.wait_for_function("() => window.__calls >= 1")
    assert quiet.console_warnings == [] and quiet.console_errors == []
    assert quiet.page_errors == []


def test_a_refused_origin_is_said_in_the_console_and_in_the_collector_log(
        new_tab: Callable[..., Tab], collector: Collector, site: Site,
        tmp_path: Path) -> None:
    # The same pages from another port: an origin ALLOWED_ORIGINS does not list.
    other = Site(site.root, tmp_path / "other-site.log")
    other.start(collector.url)
    try:
        origin = other.url
        tab = new_tab("/index.html", origin=origin)
        wait_until(tab, lambda: bool(tab.console_warnings), "a console warning")
        assert tab.console_warnings == [
            f"cleargif: the collector at {collector.url}/ refused this page's origin "
            f"({origin}) or is unreachable; add {origin} to ALLOWED_ORIGINS "
            "(CLEARGIF_ALLOWED_ORIGINS) if it is one of your sites."]
        expect(tab.page.locator("cleargif-root")).to_have_count(0)
        assert tab.page.evaluate("cleargif.consent.get()") is None
        assert tab.hits == [] and tab.page_errors == []

        # The collector said so too, once for both requests (GET /consent and its config).
        def said() -> list[str]:
            return [line for line in collector.log.read_text(errors="replace").splitlines()
                    if f"Refused a cross-origin request from {origin}," in line]

        wait_until(tab, lambda: bool(said()), "the collector's log line")
        assert len(said()) == 1, said()
        # The page tells the same on every load; the collector, once an hour.
        tab.page.reload()
        wait_until(tab, lambda: len(tab.console_warnings) == 2, "the warning again")
        assert tab.console_warnings[1] == tab.console_warnings[0]
        assert len(said()) == 1
    finally:
        other.stop()
