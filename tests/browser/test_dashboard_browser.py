"""The dashboard in a real browser against the real collector (DESIGN 10): signing in and
filtering by keyboard alone, the period form, a CSV download compared with
``cleargif export``, axe-core in light, dark and Arabic, a phone's width, no script, and
the refusals (wrong password, missing CSRF token, signed out).

The hits come through the collector's own pixel, as a site's pages would send them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.ingest.records import empty_record
from tests.browser.conftest import REPO, SCREENSHOTS, TIMEOUT_MS, Collector, Site

pytestmark = pytest.mark.browser

USER, PASSWORD = "owner", "a long dashboard password"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
#: Pages hit before the tests, each by this many cookieless browsers (each counts as a
#: person, so every row reaches K_MIN).
HITS = {"/pricing": 6, "/": 9, "/docs": 5, "/blog/hello": 5}
FOCUS = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return null;
  const cs = getComputedStyle(a);
  return {tag: a.tagName.toLowerCase(), id: a.id, text: (a.textContent || '').trim(),
          visible: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2};
}"""


@pytest.fixture(scope="module")
def owner(servers: tuple[Collector, Site]) -> Iterator[Collector]:
    """The running collector with an account, and pages hit from the host site."""
    from collector import create_app
    from collector.dashboard import auth

    collector, site = servers
    app = create_app({"DATA_DIR": str(collector.data_dir), "SECRET_KEYS": ["x" * 32],
                      "TOKEN_KEYS": ["y" * 32]})
    identity = app.extensions["cleargif"].identity
    if identity.user_password_hash(USER) is None:
        auth.add_user(identity, USER, PASSWORD)
    # Every panel has rows, so that axe sees all of them: a campaign's opens and clicks
    # (written as the /o/ and /c/ endpoints would), bots and a prefetch.
    now = int(time.time())
    for i in range(6):
        for kind, extra in (("open", {}), ("click", {"link": "cta"})):
            record = empty_record()
            record.update(ts=now, kind=kind, campaign="spring-2026", list="news",
                          recipient=f"r-{i}", agent="human", **extra)
            app.extensions["cleargif"].events.add_event(record)
    app.extensions["cleargif"].events.add_sends("spring-2026", "news", 40, now)
    app.extensions["cleargif"].close()
    for path, n in HITS.items():
        for i in range(n):
            referrer = "https://news.example.org/" if i % 2 else ""
            request = urllib.request.Request(
                f"{collector.url}/t.gif?p={path}&r={referrer}",
                headers={"Origin": site.url, "User-Agent": "Mozilla/5.0 (X11; Linux "
                         "x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
            with urllib.request.urlopen(request, timeout=5) as resp:
                assert resp.status == 200
    for headers in [{"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}] * 5 + \
            [{"Sec-Purpose": "prefetch"}]:
        request = urllib.request.Request(f"{collector.url}/t.gif?p=/pricing",
                                         headers={"Origin": site.url, **headers})
        urllib.request.urlopen(request, timeout=5).close()
    # Five browsers decide, so that the consent panel draws its chart and table.
    for i in range(5):
        body = json.dumps({"purposes": {"analytics": True, "marketing": i < 2}}).encode()
        request = urllib.request.Request(f"{collector.url}/consent", data=body,
                                         headers={"Origin": site.url,
                                                  "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()
    yield collector


@pytest.fixture(autouse=True)
def _expect(playwright_api: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


def context(browser: Any, **options: Any) -> Any:
    ctx = browser.new_context(**options)
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def sign_in(page: Any, collector: Collector, query: str = "") -> None:
    from playwright.sync_api import expect

    page.goto(f"{collector.url}/dashboard/{query}")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Anmelden|دخول")).click()
    expect(page.locator("#panel-time .chart-svg")).to_be_visible()


def pages_panel(page: Any) -> Any:
    return page.locator("#panel-pages")


def test_sign_in_and_filter_by_keyboard_alone(browser: Any, owner: Collector) -> None:
    from playwright.sync_api import expect

    ctx = context(browser, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{owner.url}/dashboard/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    def tab_to(check: Any, limit: int = 80) -> dict[str, Any]:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focus = page.evaluate(FOCUS)
            assert focus is None or focus["visible"], f"focus not visible: {focus}"
            if focus and check(focus):
                return dict(focus)
        raise AssertionError("never reached by Tab")

    first = tab_to(lambda f: True)
    assert first["text"] == "Skip to the numbers"  # the skip link comes first
    tab_to(lambda f: f["id"] == "username")
    page.keyboard.type(USER)
    tab_to(lambda f: f["id"] == "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#panel-time .chart-svg")).to_be_visible()
    expect(pages_panel(page).get_by_role("link", name="/pricing", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Over time")).to_be_visible()

    tab_to(lambda f: f["tag"] == "a" and f["text"] == "/pricing")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"f=path%3A%2Fpricing"))
    expect(page.locator(".chip")).to_contain_text("Page is /pricing")
    # Focus comes back to the row that was used, now the filter in force.
    focused = page.evaluate(FOCUS)
    assert focused and focused["text"].startswith("/pricing"), focused
    expect(page.locator("#panel-pages tr.selected")).to_contain_text("/pricing")
    assert page.locator(".kpi.k-views .value").inner_text() == "6"
    # The chip's × removes the filter, by keyboard too.
    tab_to(lambda f: f["text"].startswith("×"))
    page.keyboard.press("Enter")
    expect(page.locator(".chip")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-keyboard.png"))
    assert not errors, errors
    ctx.close()


def test_change_the_period_and_go_back(browser: Any, owner: Collector) -> None:
    from playwright.sync_api import expect

    ctx = context(browser)
    page = ctx.new_page()
    sign_in(page, owner)
    period = page.locator(".heading .period")
    expect(period).to_contain_text(" to ")
    page.select_option("#period", "7d")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"period=7d"))
    today = date.today()
    expect(period).to_contain_text(f"{today - timedelta(days=6)} to {today}")
    page.select_option("#period", "custom")
    expect(page.locator("#since")).to_be_visible()
    page.fill("#since", (today - timedelta(days=1)).isoformat())
    page.fill("#until", today.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"period=custom&since="))
    expect(period).to_contain_text(f"{today - timedelta(days=1)} to {today}")
    assert "month=" not in page.url  # only the chosen period's fields are sent
    page.go_back()
    expect(page).to_have_url(re.compile(r"period=7d"))
    expect(period).to_contain_text(f"{today - timedelta(days=6)} to {today}")
    ctx.close()


def test_works_without_javascript(browser: Any, owner: Collector) -> None:
    from playwright.sync_api import expect

    ctx = context(browser, java_script_enabled=False)
    page = ctx.new_page()
    sign_in(page, owner)
    pages_panel(page).get_by_role("link", name="/docs", exact=True).click()
    expect(page).to_have_url(re.compile(r"f=path%3A%2Fdocs"))
    expect(page.locator(".chip")).to_contain_text("Page is /docs")
    page.select_option("#period", "today")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"period=today"))
    expect(page.locator(".chip")).to_contain_text("Page is /docs")  # filters stay
    page.locator("#panel-sources").get_by_role("link", name="UTM medium").click()
    expect(page.locator("#panel-sources [aria-current=page]")).to_have_text("UTM medium")
    ctx.close()


def test_a_download_is_what_cleargif_export_writes(browser: Any, owner: Collector) -> None:
    from collector import create_app

    ctx = context(browser, accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, owner, "?f=referrer_host:")
    with page.expect_download() as info:
        pages_panel(page).get_by_role("link", name="Download Pages as CSV").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    assert re.fullmatch(r"cleargif-127\.0\.0\.1-path-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv",
                        download.suggested_filename), download.suggested_filename
    meta = [line for line in text.splitlines() if line.startswith("#")]
    rows = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    since = re.search(r"^# since: (\S+)$", text, re.M)
    until = re.search(r"^# until: (\S+)$", text, re.M)
    assert since and until
    app = create_app({"DATA_DIR": str(owner.data_dir), "SECRET_KEYS": ["x" * 32],
                      "TOKEN_KEYS": ["y" * 32]})
    out = app.test_cli_runner().invoke(args=[
        "export", "--daily", "--by", "path", "--since", since.group(1), "--until", until.group(1),
        "--filter", "site:127.0.0.1", "--filter", "kind:pageview",
        "--filter", "referrer_host:"])
    app.extensions["cleargif"].close()
    assert out.exit_code == 0, out.output
    assert rows == out.stdout
    assert meta == [line for line in out.stderr.splitlines() if line.startswith("#")]
    table = list(csv.DictReader(io.StringIO(rows)))
    # Every other hit of each page came with a referrer: the direct ones remain.
    assert int({r["path"]: r["hits"] for r in table}["/"]) >= 5
    ctx.close()


@pytest.mark.parametrize("name, options, query", [
    ("light", {}, ""),
    ("dark", {"color_scheme": "dark"}, ""),
    ("arabic", {}, "?lang=ar"),
    ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
               "has_touch": True}, ""),
])
def test_axe_finds_no_violations(browser: Any, owner: Collector, name: str,
                                 options: dict[str, Any], query: str) -> None:
    if not AXE.exists():
        from tests.conftest import require_or_skip

        require_or_skip("axe-core missing: run npm ci to install it (package-lock.json)")
    ctx = context(browser, **{"viewport": {"width": 1280, "height": 900}, **options})
    page = ctx.new_page()
    page.goto(f"{owner.url}/dashboard/login{query}")
    # Evaluated rather than added as a <script>: the page's CSP refuses inline scripts.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    run = "axe.run(document).then(r => ({violations: r.violations, passes: r.passes.length}))"
    login = page.evaluate(run)
    sign_in(page, owner, query)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    for panel in ("#panel-campaigns table", "#panel-consent .chart-svg",
                  "#panel-not-counted table", "#panel-pages table"):
        assert page.locator(panel).count() >= 1, f"{panel} is not on the page axe checks"
    board = page.evaluate(run)
    assert login["passes"] > 15 and board["passes"] > 25, (login["passes"], board["passes"])
    shown = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
             for v in login["violations"] + board["violations"]]
    assert not shown, shown
    if name == "phone":
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)
    ctx.close()


def test_refusals(browser: Any, owner: Collector) -> None:
    from playwright.sync_api import expect

    ctx = context(browser)
    page = ctx.new_page()
    # Signed out: every dashboard page leads to the form.
    for path in ("/dashboard/", "/dashboard/csv?table=path"):
        page.goto(f"{owner.url}{path}")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # A wrong password says so, without saying which part was wrong.
    page.fill("#username", USER)
    page.fill("#password", "not the password")
    with page.expect_response(re.compile(r"/dashboard/login")) as info:
        page.get_by_role("button", name="Sign in").click()
    assert info.value.status == 403
    expect(page.get_by_role("alert")).to_have_text("The user name or password is not right.")
    expect(page.locator("#username")).to_have_value(USER)
    expect(page.locator("#password")).to_have_value("")
    # A post without the CSRF token is refused, even with the right password.
    response = page.request.post(f"{owner.url}/dashboard/login",
                                 form={"username": USER, "password": PASSWORD})
    assert response.status == 400 and "The form had expired" in response.text()
    page.goto(f"{owner.url}/dashboard/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    ctx.close()


def test_remember_me_and_sign_out(browser: Any, owner: Collector) -> None:
    from playwright.sync_api import expect

    ctx = context(browser)
    page = ctx.new_page()
    page.goto(f"{owner.url}/dashboard/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.get_by_label(re.compile("Remember me")).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#panel-time .chart-svg")).to_be_visible()
    jar = {c["name"]: c for c in ctx.cookies()}
    assert jar["cg_dashboard"]["sameSite"] == "Strict" and jar["cg_dashboard"]["httpOnly"]
    assert jar["cg_dashboard"]["path"] == "/dashboard"
    assert jar["cg_remember"]["httpOnly"] and jar["cg_remember"]["expires"] > 0
    # A browser restart keeps only the remembered login, which signs in again.
    ctx.clear_cookies(name="cg_dashboard")
    page.goto(f"{owner.url}/dashboard/")
    expect(page.locator("#panel-time .chart-svg")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_have_text("You are signed out.")
    assert "cg_remember" not in {c["name"] for c in ctx.cookies()}
    ctx.close()


def test_the_demo_pages_visitors_show_up(browser: Any, owner: Collector) -> None:
    """A newcomer's path: visitors of the demo page who accept, then their numbers on the
    dashboard (the demo counts as the collector's own site, 127.0.0.1 here)."""
    from playwright.sync_api import expect

    for _ in range(5):
        # Headless Chromium says so in its User-Agent, and bots are not counted.
        ctx = context(browser, user_agent=CHROME)
        page = ctx.new_page()
        page.goto(f"{owner.url}/")
        page.get_by_role("button", name="Accept all").click()
        expect(page.locator("#demo-state")).to_contain_text('"decided": true')
        expect(page.locator("#demo-dash-h + p a")).to_have_attribute("href", "/dashboard/")
        page.reload()  # the first view was counted before the choice, without ids
        expect(page.locator("#demo-state")).to_contain_text('"decided": true')
        ctx.close()
    assert len(owner.wait_events(5, path="/", site="127.0.0.1", visitor_id="_%")) >= 5
    ctx = context(browser)
    page = ctx.new_page()
    sign_in(page, owner, "?site=127.0.0.1&period=today")
    returning = page.locator(".kpi.k-returning .value")
    assert int(returning.inner_text().replace(",", "")) >= 5
    expect(pages_panel(page).get_by_role("link", name="/", exact=True)).to_be_visible()
    ctx.close()
