"""User-Agent classification (DESIGN 1.1) and email fetch verdicts (DESIGN 5)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from collector.ingest.agents import (
    DEVICES,
    FETCH_RULES,
    KNOWN_BOTS,
    KNOWN_BROWSERS,
    KNOWN_OSES,
    MAX_UA_LENGTH,
    SCANNER,
    VERDICTS,
    Agent,
    classify_fetch,
    parse_agent,
)

SAMPLE = Path(__file__).resolve().parent / "data" / "user-agents.txt"

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
              "Gecko) Version/17.4 Safari/605.1.15")
EDGE_WIN = CHROME_WIN + " Edg/124.0.2478.51"
CHROME_OS = ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/124.0.0.0 Safari/537.36")
CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36")
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")
SAMSUNG = ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
           "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36")
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36")
FIREFOX_TABLET = "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0"
KINDLE = ("Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Silk/120.4.1 like Chrome/120.0.6099.230 Safari/537.36")
CUBOT_PHONE = ("Mozilla/5.0 (Linux; Android 10; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0.0.0 Mobile Safari/537.36")
XBOX = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/124.0.0.0 Safari/537.36 Edge/44.18363.8131")
SMART_TV = ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_PHONE = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
                   "(KHTML, like Gecko) Chrome/120.0.6099.109 Mobile Safari/537.36 (compatible; "
                   "Googlebot/2.1; +http://www.google.com/bot.html)")
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
FACEBOOK_HIT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.6099.109 Safari/537.36")
THUNDERBIRD = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
               "Thunderbird/115.10.1")
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
OUTLOOK_WORD_ENGINE = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"
APPLE_MAIL = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
              "Gecko)")
IOS_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Mobile/15E148")
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
               "GoogleImageProxy)")
GMAIL_PROXY_OLD = ("Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.0.7) Gecko/2009021910 "
                   "Firefox/3.0.7 (via ggpht.com)")
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WIN, Agent("Chrome", "124", "Windows", "desktop")),
        (FIREFOX_WIN, Agent("Firefox", "125", "Windows", "desktop")),
        (FIREFOX_UBUNTU, Agent("Firefox", "125", "Ubuntu", "desktop")),
        (SAFARI_MAC, Agent("Safari", "17", "Mac OS X", "desktop")),
        (EDGE_WIN, Agent("Edge", "124", "Windows", "desktop")),
        (CHROME_OS, Agent("Chrome", "124", "Chrome OS", "desktop")),
        (CHROME_LINUX, Agent("Chrome", "124", "Linux", "desktop")),
        (IPHONE_SAFARI, Agent("Mobile Safari", "17", "iOS", "mobile")),
        (ANDROID_CHROME, Agent("Chrome Mobile", "124", "Android", "mobile")),
        (SAMSUNG, Agent("Samsung Internet", "24", "Android", "mobile")),
        (FIREFOX_ANDROID, Agent("Firefox Mobile", "125", "Android", "mobile")),
        (CUBOT_PHONE, Agent("Chrome Mobile", "120", "Android", "mobile")),
        (IPAD, Agent("Mobile Safari", "17", "iOS", "tablet")),
        (ANDROID_TABLET, Agent("Chrome", "124", "Android", "tablet")),
        (FIREFOX_TABLET, Agent("Firefox Mobile", "125", "Android", "tablet")),
        (KINDLE, Agent("Amazon Silk", "120", "Android", "tablet")),
        (XBOX, Agent("Edge", "44", "Windows", "other")),
        (SMART_TV, Agent("Samsung Internet", "4", "Tizen", "other")),
        (THUNDERBIRD, Agent("Thunderbird", "115", "Windows", "desktop")),
        (OUTLOOK_DESKTOP, Agent("Outlook", "2016", "Windows", "desktop")),
        (APPLE_MAIL, Agent("Apple Mail", "605", "Mac OS X", "desktop")),
        (IOS_MAIL, Agent("Mobile Safari UI/WKWebView", None, "iOS", "mobile")),
        (GMAIL_PROXY, Agent("GmailImageProxy", None, "Windows", "other")),
        (YAHOO_PROXY, Agent("YahooMailProxy", None, "Other", "other")),
        (GOOGLEBOT, Agent("Googlebot", "2", "Other", "bot")),
        (GOOGLEBOT_PHONE, Agent("Googlebot", "2", "Android", "bot")),
        (BINGBOT, Agent("bingbot", "2", "Other", "bot")),
        ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
         Agent("YandexBot", "3", "Other", "bot")),
        ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
         Agent("Baiduspider", "2", "Other", "bot")),
        ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
         Agent("DuckDuckBot", "1", "Other", "bot")),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
         Agent("Applebot", "0", "Mac OS X", "bot")),
        (FACEBOOK_HIT, Agent("FacebookBot", "1", "Other", "bot")),
        ("Twitterbot/1.0", Agent("Twitterbot", "1", "Other", "bot")),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
         Agent("AhrefsBot", "7", "Other", "bot")),
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
         Agent("SemrushBot", "7", "Other", "bot")),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
         "+https://openai.com/gptbot)", Agent("GPTBot", "1", "Other", "bot")),
        ("curl/8.4.0", Agent("curl", "8", "Other", "bot")),
        ("Wget/1.21.4", Agent("Wget", "1", "Other", "bot")),
        ("python-requests/2.31.0", Agent("Python Requests", "2", "Other", "bot")),
        ("Go-http-client/1.1", Agent("Go-http-client", "1", "Other", "bot")),
        ("okhttp/4.12.0", Agent("okhttp", "4", "Other", "bot")),
        (HEADLESS, Agent("HeadlessChrome", "120", "Linux", "bot")),
        # Families ua-parser does not name are still bots by shape.
        ("python-httpx/0.25.2", Agent("Other", None, "Other", "bot")),
        ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
         Agent("Other", None, "Other", "bot")),
    ],
)
def test_parse_agent(ua: str, expected: Agent) -> None:
    assert parse_agent(ua) == expected


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        # ua-parser would report these free-text names as browser families.
        ("Mozilla/5.0 (compatible; JaneDoe-Spider/1.0)", Agent("Other", None, "Other", "bot")),
        ("Mozilla/5.0 (compatible; JohnSmith-crawler/2.1; +mailto:john@example.com)",
         Agent("Other", None, "Other", "bot")),
        ("MyNameIsJohnSmith/1.0", Agent("Other", None, "Other", "other")),
        ("JohnSmithBrowser/3.0 (Windows NT 10.0; Win64; x64)",
         Agent("Other", None, "Windows", "desktop")),
        ("Luminary/1.0", Agent("Other", None, "Other", "other")),
    ],
)
def test_free_text_families_become_other(ua: str, expected: Agent) -> None:
    assert parse_agent(ua) == expected


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_missing_user_agent(ua: str | None) -> None:
    assert parse_agent(ua) == Agent("Other", None, "Other", "other")


@pytest.mark.parametrize("base", [CHROME_WIN, IPHONE_SAFARI, GOOGLEBOT, "curl/8.4.0"])
def test_only_the_first_512_characters_are_parsed(base: str) -> None:
    long_ua = base + " " + "x" * 10_000
    assert parse_agent(long_ua) == parse_agent(long_ua[:MAX_UA_LENGTH])
    assert parse_agent(long_ua).browser == parse_agent(base).browser


def test_text_past_the_cap_is_not_seen() -> None:
    ua = "Mozilla/5.0 (" + "a" * 600 + ") Googlebot/2.1"
    assert parse_agent(ua).browser == "Other"


def test_cache_returns_equal_results() -> None:
    first = parse_agent(CHROME_WIN)
    again = parse_agent(CHROME_WIN)
    assert again == first
    assert again is first
    long_ua = CHROME_WIN + "x" * 1_000
    assert parse_agent(long_ua) is parse_agent(long_ua[:MAX_UA_LENGTH])


def test_agent_is_frozen() -> None:
    agent = parse_agent(CHROME_WIN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        agent.browser = "JaneDoe"  # type: ignore[misc]


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_every_family_over_the_sample_is_allow_listed(sample: list[str]) -> None:
    agents = [parse_agent(ua) for ua in sample]
    assert {a.browser for a in agents} <= KNOWN_BROWSERS | {"Other"}
    assert {a.os for a in agents} <= KNOWN_OSES | {"Other"}
    assert {a.device for a in agents} <= DEVICES
    for agent in agents:
        major = agent.browser_major
        assert major is None or (major.isascii() and major.isdigit() and len(major) <= 6)
        if agent.browser == "Other":
            assert major is None


def test_allow_lists_cover_the_common_traffic(sample: list[str]) -> None:
    # The sample is mostly rare crawlers; the lists should still name a good share of it
    # and every device class should occur.
    agents = [parse_agent(ua) for ua in sample]
    named = sum(a.browser != "Other" for a in agents)
    assert named >= len(sample) // 4
    assert {a.device for a in agents} == DEVICES
    assert KNOWN_BOTS <= KNOWN_BROWSERS


def test_parse_agent_is_thread_safe(sample: list[str]) -> None:
    expected = [parse_agent(ua) for ua in sample[:300]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(parse_agent, sample[:300] * 4))
    assert results == expected * 4


# --- email fetches -------------------------------------------------------------------------

APPLE_MPP_UA = "Mozilla/5.0"
EDGE_12 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246")
HOUR = 3600.0

FETCHES = [
    # (kind, user_agent, method, headers, seconds_since_send, verdict)
    ("open", APPLE_MPP_UA, "GET", {}, HOUR, "apple_mpp"),
    ("open", APPLE_MPP_UA, "GET", {}, 0.5, "apple_mpp"),
    ("click", APPLE_MPP_UA, "GET", {}, HOUR, "scanner"),
    ("open", GMAIL_PROXY, "GET", {}, HOUR, "google_proxy"),
    ("open", GMAIL_PROXY_OLD, "GET", {}, HOUR, "google_proxy"),
    ("open", GMAIL_PROXY, "GET", {}, 0.5, "prefetch"),
    ("open", YAHOO_PROXY, "GET", {}, HOUR, "yahoo_proxy"),
    ("open", EDGE_12 + " Gmail-content-sampling", "GET", {}, HOUR, "scanner"),
    ("click", EDGE_12, "GET", {}, HOUR, "scanner"),
    ("click", "Microsoft Office Existence Discovery", "GET", {}, HOUR, "scanner"),
    ("click", "Microsoft Office Protocol Discovery", "GET", {}, HOUR, "scanner"),
    ("click", "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "GET", {},
     HOUR, "scanner"),
    ("click", CHROME_WIN + " BingPreview/1.0b", "GET", {}, HOUR, "scanner"),
    ("click", "Microsoft Office/16.0 (Microsoft Outlook 16.0; SafeLinks)", "GET", {}, HOUR,
     "scanner"),
    ("click", "Barracuda Sentinel (EE)", "GET", {}, HOUR, "scanner"),
    # Mimecast and Proofpoint mostly present as ordinary browsers (the timing rule catches
    # those); these pin the rule for deployments that name themselves.
    ("click", "Mimecast URL Protection", "GET", {}, HOUR, "scanner"),
    ("click", "Proofpoint URL Defense", "GET", {}, HOUR, "scanner"),
    ("click", "SophosAgent/1.0 (type= spa )", "GET", {}, HOUR, "scanner"),
    ("open", CHROME_WIN, "HEAD", {}, HOUR, "scanner"),
    ("open", APPLE_MPP_UA, "head", {}, HOUR, "scanner"),
    ("click", "curl/8.4.0", "GET", {}, HOUR, "scanner"),
    ("click", "python-requests/2.31.0", "GET", {}, HOUR, "scanner"),
    ("click", "Go-http-client/2.0", "GET", {}, HOUR, "scanner"),
    ("click", "Java/17.0.2", "GET", {}, HOUR, "scanner"),
    ("click", "okhttp/4.12.0", "GET", {}, HOUR, "scanner"),
    ("click", HEADLESS, "GET", {}, HOUR, "scanner"),
    ("click", GOOGLEBOT, "GET", {}, HOUR, "scanner"),
    ("open", FACEBOOK_HIT, "GET", {}, HOUR, "scanner"),
    ("click", CHROME_WIN, "GET", {}, 3.0, "scanner"),
    ("click", CHROME_WIN, "GET", {}, -30.0, "scanner"),
    ("click", None, "GET", {}, 3.0, "scanner"),
    ("open", CHROME_WIN, "GET", {}, 1.0, "prefetch"),
    ("open", CHROME_WIN, "GET", {"Sec-Purpose": "prefetch;prerender"}, HOUR, "prefetch"),
    ("click", CHROME_WIN, "GET", {"sec-purpose": "prefetch"}, HOUR, "prefetch"),
    ("click", CHROME_WIN, "GET", {"SEC-PURPOSE": "Prefetch"}, HOUR, "prefetch"),
    ("click", CHROME_WIN, "GET", {"Purpose": "prefetch"}, HOUR, "prefetch"),
    ("click", FIREFOX_WIN, "GET", {"X-Moz": "prefetch"}, HOUR, "prefetch"),
    ("click", SAFARI_MAC, "GET", {"X-Purpose": "preview"}, HOUR, "prefetch"),
    ("click", CHROME_WIN, "GET", {}, HOUR, "human"),
    ("click", CHROME_WIN, "GET", {"Sec-Fetch-Mode": "navigate"}, None, "human"),
    ("click", IPHONE_SAFARI, "GET", {}, 12.0, "human"),
    ("open", CHROME_WIN, "GET", {}, 5.0, "human"),
    ("open", THUNDERBIRD, "GET", {}, HOUR, "human"),
    ("open", OUTLOOK_DESKTOP, "GET", {}, HOUR, "human"),
    ("open", OUTLOOK_WORD_ENGINE, "GET", {}, HOUR, "human"),
    ("open", APPLE_MAIL, "GET", {}, HOUR, "human"),
    ("open", IOS_MAIL, "GET", {}, HOUR, "human"),
    ("open", "", "GET", {}, HOUR, "unknown"),
    ("open", None, "GET", {}, None, "unknown"),
    ("open", "   ", "GET", {}, HOUR, "unknown"),
    ("open", "MyNameIsJohnSmith/1.0", "GET", {}, HOUR, "unknown"),
]


@pytest.mark.parametrize(
    ("kind", "ua", "method", "headers", "seconds", "verdict"),
    FETCHES,
    ids=[f"{f[0]}-{f[5]}-{i}" for i, f in enumerate(FETCHES)],
)
def test_classify_fetch(kind: str, ua: str | None, method: str, headers: dict[str, str],
                        seconds: float | None, verdict: str) -> None:
    assert classify_fetch(kind=kind, user_agent=ua, method=method, headers=headers,
                          seconds_since_send=seconds) == verdict


def test_every_verdict_is_covered() -> None:
    assert {f[5] for f in FETCHES} == VERDICTS


@pytest.mark.parametrize(
    "ua",
    [
        "Cisco-IronPort-WSA/14.0", "Symantec Email Security.cloud", "MessageLabs Link Scanner",
        "Trend Micro URL Scanner", "Forcepoint Email Security", "FireEye ETP",
        "Zscaler Sandbox", "Microsoft-URLAnalyzer", "Mozilla/5.0 (compatible; Google-Safety)",
    ],
)
def test_vendor_scanners(ua: str) -> None:
    assert classify_fetch(kind="click", user_agent=ua, method="GET", headers={},
                          seconds_since_send=HOUR) == SCANNER


def test_fetch_rules_are_data() -> None:
    assert FETCH_RULES
    assert all(verdict in VERDICTS for _, verdict in FETCH_RULES)


def test_werkzeug_headers_are_read_case_insensitively() -> None:
    headers = Headers([("SEC-Purpose", "prefetch")])
    verdict = classify_fetch(kind="open", user_agent=CHROME_WIN, method="GET",
                             headers=headers,  # type: ignore[arg-type]
                             seconds_since_send=HOUR)
    assert verdict == "prefetch"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'open' or 'click'"):
        classify_fetch(kind="view", user_agent=CHROME_WIN, method="GET", headers={},
                       seconds_since_send=HOUR)


# Real User-Agents of link scanners, mail image proxies and mail clients, as they reach a
# collector: (User-Agent, verdict on an open, verdict on a click), an hour after the send.
REAL_FETCHERS = [
    # Security gateways and link checkers that name themselves.
    ("TMUFE", "scanner", "scanner"),  # Trend Micro's URL filtering engine, nothing more
    ("Barracuda Sentinel (EE)", "scanner", "scanner"),
    ("Microsoft Office Existence Discovery", "scanner", "scanner"),
    (EDGE_12, "scanner", "scanner"),  # Defender and Gmail's sampler pose as Edge 12
    ("Mozilla/5.0 (compatible; Google-Safety)", "scanner", "scanner"),
    ("Cisco-IronPort-WSA/14.0", "scanner", "scanner"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "scanner", "scanner"),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
     "scanner", "scanner"),
    (FACEBOOK_HIT, "scanner", "scanner"),
    (GOOGLEBOT, "scanner", "scanner"),
    (HEADLESS, "scanner", "scanner"),
    ("curl/8.4.0", "scanner", "scanner"),
    ("Wget/1.21.4", "scanner", "scanner"),
    ("python-requests/2.31.0", "scanner", "scanner"),
    ("Go-http-client/1.1", "scanner", "scanner"),
    # Image proxies fetch on a person's open; they never follow links for one.
    (GMAIL_PROXY, "google_proxy", "google_proxy"),
    (GMAIL_PROXY_OLD, "google_proxy", "google_proxy"),
    (YAHOO_PROXY, "yahoo_proxy", "yahoo_proxy"),
    # Apple Mail Privacy Protection fetches images on delivery; it never clicks.
    (APPLE_MPP_UA, "apple_mpp", "scanner"),
    # Mail clients and the browsers links open in.
    (OUTLOOK_DESKTOP, "human", "human"),
    (OUTLOOK_WORD_ENGINE, "human", "human"),
    ("Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; .NET4.0E; Microsoft "
     "Outlook 16.0.5356; ms-office; MSOffice 16)", "human", "human"),
    (THUNDERBIRD, "human", "human"),
    (APPLE_MAIL, "human", "human"),
    (IOS_MAIL, "human", "human"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/121.0.6167.178 Mobile Safari/537.36",
     "human", "human"),  # the Gmail app's web view
    (CHROME_WIN, "human", "human"),
    (EDGE_WIN, "human", "human"),
    (FIREFOX_WIN, "human", "human"),
    (SAFARI_MAC, "human", "human"),
    (IPHONE_SAFARI, "human", "human"),
    (SAMSUNG, "human", "human"),
    # No User-Agent (curl -H 'User-Agent:'), or none anyone can recognise: neither.
    (None, "unknown", "unknown"),
    ("", "unknown", "unknown"),
    ("x", "unknown", "unknown"),
    ("-", "unknown", "unknown"),
    ("Mozilla/4.0", "unknown", "unknown"),
    ("MyNameIsJohnSmith/1.0", "unknown", "unknown"),
]


@pytest.mark.parametrize(("ua", "on_open", "on_click"), REAL_FETCHERS,
                         ids=[f"{i}-{f[1]}-{f[2]}" for i, f in enumerate(REAL_FETCHERS)])
def test_real_fetchers(ua: str | None, on_open: str, on_click: str) -> None:
    verdicts = [classify_fetch(kind=kind, user_agent=ua, method="GET", headers={},
                               seconds_since_send=HOUR) for kind in ("open", "click")]
    assert verdicts == [on_open, on_click]


@pytest.mark.parametrize(("kind", "seconds", "windows", "verdict"), [
    ("click", 3.0, {}, "scanner"),  # the defaults: 10 s for clicks, 2 s for opens
    ("click", 11.0, {}, "human"),
    ("open", 1.0, {}, "prefetch"),
    ("click", 3.0, {"click_too_soon": 0}, "human"),  # 0 turns the rule off
    ("click", -30.0, {"click_too_soon": 0}, "human"),
    ("open", 1.0, {"open_too_soon": 0}, "human"),
    ("click", 25.0, {"click_too_soon": 30}, "scanner"),
    ("open", 5.0, {"open_too_soon": 10}, "prefetch"),
    ("open", 5.0, {"click_too_soon": 30}, "human"),  # each window is its kind's
])
def test_too_soon_windows(kind: str, seconds: float, windows: dict[str, float],
                          verdict: str) -> None:
    assert classify_fetch(kind=kind, user_agent=CHROME_WIN, method="GET", headers={},
                          seconds_since_send=seconds, **windows) == verdict
