"""User-Agent classification for page views and email fetches (DESIGN 1.1, 5).

:func:`parse_agent` turns a User-Agent header into the four coarse fields an event may
keep. ua-parser copies free text from the header into its family names (a crawler called
``JaneDoe-Spider`` comes back as that family), so a family is kept only when it is on a
fixed list of widely known names; anything else is recorded as ``Other``.

:func:`classify_fetch` says who fetched an email pixel or followed an email link: a
person, a mail provider's image proxy, Apple's Mail Privacy Protection, a prefetch, a
security scanner, or nobody knows.

Nothing here does I/O; ua-parser loads its rules on the first parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ua_parser import parse as _ua_parse

__all__ = [
    "APPLE_MPP",
    "CLICK_SCANNER_SECONDS",
    "DEVICES",
    "GOOGLE_PROXY",
    "HUMAN",
    "KNOWN_BOTS",
    "KNOWN_BROWSERS",
    "KNOWN_OSES",
    "MAX_UA_LENGTH",
    "OPEN_PREFETCH_SECONDS",
    "PREFETCH",
    "SCANNER",
    "UNKNOWN",
    "VERDICTS",
    "YAHOO_PROXY",
    "Agent",
    "classify_fetch",
    "parse_agent",
]

#: Only this many leading characters of a User-Agent are ever parsed (DESIGN 1.1).
MAX_UA_LENGTH: Final = 512

#: The values of :attr:`Agent.device`.
DEVICES: Final = frozenset({"desktop", "mobile", "tablet", "bot", "other"})

#: Crawlers, link unfurlers, monitors, HTTP libraries and headless browsers, spelled as
#: ua-parser names them (``facebookexternalhit`` is ``FacebookBot``, Bing's is
#: ``bingbot``). A browser family on this list makes the device ``bot``.
KNOWN_BOTS: Final = frozenset({
    # Search engines
    "Googlebot", "Googlebot-Image", "Googlebot-News", "Googlebot-Video", "Googlebot-Mobile",
    "Google-InspectionTool", "AdsBot-Google", "Mediapartners-Google", "Storebot",
    "GoogleOther", "bingbot", "BingPreview", "msnbot", "msnbot-media", "YandexBot",
    "Baiduspider", "Baiduspider-image", "Baiduspider-render", "DuckDuckBot", "Applebot",
    "Yahoo! Slurp", "Slurp", "SeznamBot", "PetalBot", "Qwantify", "Yeti", "Exabot",
    "MojeekBot", "Sogou web spider", "360Spider", "YisouSpider", "Mail.RU_Bot", "Daumoa",
    # Social previews and chat unfurlers
    "FacebookBot", "Twitterbot", "LinkedInBot", "Pinterestbot", "Slackbot",
    "Slackbot-LinkExpanding", "Discordbot", "TelegramBot",
    # SEO, archives, AI crawlers
    "AhrefsBot", "SemrushBot", "MJ12bot", "DotBot", "BLEXBot", "Screaming Frog SEO Spider",
    "Amazonbot", "Bytespider", "GPTBot", "OAI-SearchBot", "ClaudeBot", "PerplexityBot",
    "CCBot", "archive.org_bot", "ia_archiver", "heritrix", "Nutch", "Diffbot",
    # Uptime and performance monitors
    "UptimeRobot", "PingdomBot", "StatusCakeBot", "NewRelicPingerBot", "Site24x7",
    "WebPageTest.org bot",
    # HTTP clients, scrapers, headless browsers
    "curl", "Wget", "wget2", "PycURL", "Python Requests", "Python-urllib", "Python aiohttp",
    "Go-http-client", "Java", "okhttp", "Apache-HttpClient", "Google-HTTP-Java-Client",
    "libwww-perl", "axios", "reqwest", "PostmanRuntime", "HTTPie", "Scrapy",
    "HeadlessChrome", "PhantomJS",
})

# Image proxies fetch on behalf of a person reading mail: neither a bot nor the reader's
# own device.
_MAIL_PROXIES: Final = frozenset({"GmailImageProxy", "YahooMailProxy"})

#: Browser families recorded as themselves: browsers, in-app browsers of the large
#: platforms, mail clients and proxies, and :data:`KNOWN_BOTS`. One-off app names that
#: ua-parser also reports (``Luminary``, ``Collector for ArcGIS``…) become ``Other``.
KNOWN_BROWSERS: Final = frozenset({
    # Browsers
    "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
    "Firefox", "Firefox Mobile", "Firefox iOS", "Firefox Beta", "Safari", "Mobile Safari",
    "Mobile Safari UI/WKWebView", "Edge", "Edge Mobile", "IE", "IE Mobile", "Opera",
    "Opera Mini", "Opera Mobile", "Opera GX", "Opera Touch", "Opera Coast", "Opera Tablet",
    "Samsung Internet", "UC Browser", "Yandex Browser", "Brave", "Vivaldi",
    "DuckDuckGo Mobile", "DuckDuckGo", "Amazon Silk", "Android", "Maxthon", "QQ Browser",
    "QQ Browser Mobile", "QQ Browser Mini", "Baidu Browser", "Sogou Explorer",
    "360 Secure Browser", "Whale", "Coc Coc", "MiuiBrowser", "Huawei Browser",
    "HeyTap Browser", "VivoBrowser", "Mint Browser", "Puffin", "Pale Moon", "Waterfox",
    "SeaMonkey", "Konqueror", "Epiphany", "Midori", "Falkon", "qutebrowser", "Iron",
    "Avast Secure Browser", "Ecosia Android", "Ecosia iOS", "Aloha Browser",
    "MullvadBrowser", "Sailfish Browser", "BlackBerry WebKit", "Nokia Browser", "NetFront",
    "Oculus Browser", "Tizen Browser", "Seznam prohlížeč", "Electron", "Ladybird",
    # In-app browsers
    "Facebook", "Facebook Messenger", "Instagram", "Pinterest", "Twitter", "LINE",
    "WeChat Browser", "KakaoTalk", "Snapchat", "TikTok", "Telegram", "Weibo", "WhatsApp",
    "Google", "Microsoft Teams", "Skype",
    # Mail clients and image proxies
    "Thunderbird", "Outlook", "Outlook-iOS", "Outlook-iOS-Android", "MacOutlook",
    "Apple Mail", "Windows Live Mail", "Lotus Notes", "Postbox", "Airmail", "Superhuman",
    "Evolution", "The Bat!", "kmail2", "YahooMobileMail", *_MAIL_PROXIES,
    *KNOWN_BOTS,
})

_DESKTOP_OSES: Final = frozenset({
    "Windows", "Mac OS X", "Mac OS", "Chrome OS", "Linux", "Ubuntu", "Kubuntu", "Lubuntu",
    "Linux Mint", "Debian", "Fedora", "Red Hat", "CentOS", "openSUSE", "SUSE", "Arch Linux",
    "Gentoo", "Slackware", "Mageia", "Mandriva", "PCLinuxOS", "FreeBSD", "OpenBSD", "NetBSD",
    "BSD", "Solaris",
})
_MOBILE_OSES: Final = frozenset({
    "iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "Symbian OS",
    "Symbian^3", "Symbian^3 Anna", "Symbian^3 Belle", "Nokia Series 40",
    "Nokia Series 30 Plus", "KaiOS", "HarmonyOS", "Firefox OS", "Sailfish", "MeeGo", "Maemo",
    "Bada", "Brew MP", "BREW", "webOS", "Tizen",
})
_TABLET_OSES: Final = frozenset({"BlackBerry Tablet OS", "Kindle"})
# Televisions, streaming sticks, watches.
_OTHER_OSES: Final = frozenset({
    "tvOS", "WatchOS", "ATV OS X", "Roku", "Web0S", "GoogleTV", "Chromecast Android",
    "Chromecast Fuchsia", "Chromecast Linux", "Chromecast SmartSpeaker",
})

#: OS families recorded as themselves; any other becomes ``Other``.
KNOWN_OSES: Final = _DESKTOP_OSES | _MOBILE_OSES | _TABLET_OSES | _OTHER_OSES

# What ua-parser misses: unnamed crawlers and HTTP libraries. "Cubot" is a phone brand.
_BOT_UA_RE: Final = re.compile(
    r"(?<!cu)bot|crawl|spider|slurp|scrap(?:er|y)|archiver|headless|phantomjs"
    r"|\bcurl/|\bwget|python-|aiohttp|httpx|go-http-client|\bjava/|okhttp|apache-httpclient"
    r"|libwww-perl|\baxios/|node-fetch|undici|postmanruntime|httpie|guzzlehttp",
    re.IGNORECASE,
)
_OTHER_DEVICE_UA_RE: Final = re.compile(
    r"smart-?tv|hbbtv|googletv|android tv|\btv\b|\bcrkey|\baft[a-z]|bravia|xbox|playstation"
    r"|nintendo|\bquest\b",
    re.IGNORECASE,
)
_OTHER_DEVICE_RE: Final = re.compile(r"TV|PlayStation|Nintendo|Xbox|Quest|Watch|Chromecast")
_TABLET_DEVICE_RE: Final = re.compile(r"iPad|Tablet|Kindle|Playbook|TouchPad")
_MOBILE_DEVICES: Final = frozenset(
    {"iPhone", "iPod", "iOS-Device", "Generic Smartphone", "Generic Feature Phone"}
)
_MOBILE_UA_RE: Final = re.compile(r"Mobi")
_MAJOR_RE: Final = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True, slots=True)
class Agent:
    """The coarse, allow-listed description of a User-Agent that an event may keep.

    :ivar browser: a :data:`KNOWN_BROWSERS` family or ``Other``.
    :ivar browser_major: the major version (digits only, at most 6), None when unknown
        or when ``browser`` is ``Other``.
    :ivar os: a :data:`KNOWN_OSES` family or ``Other``.
    :ivar device: one of :data:`DEVICES`.
    """

    browser: str
    browser_major: str | None
    os: str
    device: str


_NO_AGENT: Final = Agent("Other", None, "Other", "other")


def parse_agent(user_agent: str | None) -> Agent:
    """Classify a User-Agent header into allow-listed browser, OS and device fields.

    Only the first :data:`MAX_UA_LENGTH` characters are parsed. Results are cached
    (a bounded LRU keyed by those characters), since real traffic repeats a few hundred
    strings and an uncached parse costs up to a millisecond.

    :param user_agent: the header value, or None when absent.
    :returns: the :class:`Agent`; ``Agent("Other", None, "Other", "other")`` for a
        missing or blank header.
    """
    if not user_agent:
        return _NO_AGENT
    ua = user_agent[:MAX_UA_LENGTH].strip()
    return _parse_cached(ua) if ua else _NO_AGENT


@lru_cache(maxsize=4096)
def _parse_cached(ua: str) -> Agent:
    result = _ua_parse(ua).with_defaults()
    family = result.user_agent.family
    browser = family if family in KNOWN_BROWSERS else "Other"
    major = result.user_agent.major
    if browser == "Other" or major is None or not _MAJOR_RE.fullmatch(major):
        major = None
    os_family = result.os.family
    return Agent(
        browser=browser,
        browser_major=major,
        os=os_family if os_family in KNOWN_OSES else "Other",
        device=_device(ua, family, os_family, result.device.family, result.device.brand),
    )


def _device(ua: str, family: str, os_family: str, device: str, brand: str | None) -> str:
    """The device class, from ua-parser's raw families (before allow-listing)."""
    if family in _MAIL_PROXIES:
        return "other"
    if device == "Spider" or family in KNOWN_BOTS or _BOT_UA_RE.search(ua):
        return "bot"
    if (os_family in _OTHER_OSES or _OTHER_DEVICE_RE.search(device)
            or _OTHER_DEVICE_UA_RE.search(ua)):
        return "other"
    if (_TABLET_DEVICE_RE.search(device) or os_family in _TABLET_OSES
            or (brand or "").endswith("_Tablet")):
        return "tablet"
    if device in _MOBILE_DEVICES:
        return "mobile"
    # Android browsers put "Mobile" in phone User-Agents only; without it, a tablet.
    if os_family == "Android" and not _MOBILE_UA_RE.search(ua):
        return "tablet"
    if os_family in _MOBILE_OSES or _MOBILE_UA_RE.search(ua):
        return "mobile"
    if os_family in _DESKTOP_OSES or device == "Mac":
        return "desktop"
    return "other"


# --- Email fetches -----------------------------------------------------------------------

HUMAN: Final = "human"
GOOGLE_PROXY: Final = "google_proxy"
YAHOO_PROXY: Final = "yahoo_proxy"
APPLE_MPP: Final = "apple_mpp"
PREFETCH: Final = "prefetch"
SCANNER: Final = "scanner"
UNKNOWN: Final = "unknown"
#: Every value :func:`classify_fetch` returns.
VERDICTS: Final = frozenset(
    {HUMAN, GOOGLE_PROXY, YAHOO_PROXY, APPLE_MPP, PREFETCH, SCANNER, UNKNOWN}
)

#: A click this soon after the send is a security gateway opening every link on arrival
#: (the default of the ``EMAIL_CLICK_TOO_SOON_SECONDS`` setting).
CLICK_SCANNER_SECONDS: Final = 10.0
#: An open this soon after the send is a fetch on delivery, not a reading (the default of
#: ``EMAIL_OPEN_TOO_SOON_SECONDS``).
OPEN_PREFETCH_SECONDS: Final = 2.0

# Apple's Mail Privacy Protection fetches every image on delivery with exactly this.
_APPLE_MPP_UA: Final = "Mozilla/5.0"

#: User-Agent shapes of mail image proxies and link scanners, first match wins. Many
#: scanners borrow an ordinary browser's User-Agent instead; the timing rules in
#: :func:`classify_fetch` are what catches those.
FETCH_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"GoogleImageProxy|via ggpht\.com", re.I), GOOGLE_PROXY),
    (re.compile(r"YahooMailProxy", re.I), YAHOO_PROXY),
    # Gmail samples message links for abuse checks.
    (re.compile(r"Gmail-content-sampling|Google-Safety", re.I), SCANNER),
    # Microsoft 365: Safe Links and Defender detonation, Bing and Skype previews, and
    # Office's link probes ("Microsoft Office Existence Discovery"). Outlook for Windows
    # fetches images as "Microsoft Office/16.0 (...; Microsoft Outlook 16.0...)" while a
    # person reads: that one is left to the human rules.
    (re.compile(r"safe-?links|Microsoft-URLAnalyzer|BingPreview|MicrosoftPreview"
                r"|SkypeUriPreview|Microsoft Office(?![^)]*Outlook)", re.I), SCANNER),
    # Defender and Gmail's sampler pose as desktop Edge 12, from 2015, which no reader
    # runs now (Windows Phone's Edge 12 is left alone).
    (re.compile(r"Win64; x64\).*\bEdge/12\."), SCANNER),
    (re.compile(r"Mimecast", re.I), SCANNER),
    (re.compile(r"Proofpoint|URL ?Defense", re.I), SCANNER),
    (re.compile(r"Barracuda", re.I), SCANNER),
    (re.compile(r"IronPort|Cisco[ -]?Secure[ -]?Email", re.I), SCANNER),
    (re.compile(r"Symantec|Broadcom|MessageLabs", re.I), SCANNER),
    # Trend Micro's URL filtering engine names itself "TMUFE", nothing more.
    (re.compile(r"Trend ?Micro|\bTMUFE\b", re.I), SCANNER),
    (re.compile(r"Sophos", re.I), SCANNER),
    (re.compile(r"Forcepoint|Websense", re.I), SCANNER),
    (re.compile(r"FireEye|Trellix", re.I), SCANNER),
    (re.compile(r"Zscaler", re.I), SCANNER),
)

# Speculative loads announce themselves: Chrome "Sec-Purpose: prefetch;prerender",
# older Chrome "Purpose: prefetch", Firefox "X-Moz: prefetch", Safari's "X-Purpose:
# preview" for Top Sites thumbnails.
_PREFETCH_HEADERS: Final = frozenset({"sec-purpose", "purpose", "x-purpose", "x-moz"})


def classify_fetch(
    *,
    kind: str,
    user_agent: str | None,
    method: str,
    headers: Mapping[str, str],
    seconds_since_send: float | None,
    click_too_soon: float = CLICK_SCANNER_SECONDS,
    open_too_soon: float = OPEN_PREFETCH_SECONDS,
) -> str:
    """Say who fetched an email open pixel or followed an email link (DESIGN 5).

    In order: ``HEAD`` requests are scanners; prefetch headers (``Sec-Purpose``,
    ``Purpose``, ``X-Moz``, ``X-Purpose``) make a prefetch; a User-Agent of exactly
    ``Mozilla/5.0`` is Apple Mail Privacy Protection on an open (on a click it is a
    scanner: MPP never follows links); a :data:`FETCH_RULES` scanner or a bot per
    :func:`parse_agent` is a scanner; a click within ``click_too_soon`` seconds of the
    send is a scanner and an open within ``open_too_soon`` a prefetch;
    then the Google and Yahoo image proxies; a known browser or mail client is a human;
    anything else, an empty User-Agent included, is unknown.

    :param kind: ``"open"`` or ``"click"``.
    :param user_agent: the User-Agent header, or None.
    :param method: the HTTP method.
    :param headers: the request headers; names are matched case-insensitively. Only
        ``.items()`` is used, so Werkzeug's ``request.headers`` works at run time (for
        mypy, pass ``dict(request.headers)`` or cast).
    :param seconds_since_send: seconds from the token's send timestamp to now; a
        negative value (a sender clock ahead of ours) counts as immediate. The send time
        is what the sender's ``sent_at`` said: the time the mail was handed over for
        delivery, else when it was prepared.
    :param click_too_soon: seconds after the send within which a click is a scanner
        (``EMAIL_CLICK_TOO_SOON_SECONDS``; 0 turns the rule off).
    :param open_too_soon: seconds after the send within which an open is a prefetch
        (``EMAIL_OPEN_TOO_SOON_SECONDS``; 0 turns the rule off).
    :returns: one of :data:`VERDICTS`.
    :raises ValueError: for a ``kind`` other than ``open`` or ``click``.
    """
    if kind not in ("open", "click"):
        raise ValueError(f"kind must be 'open' or 'click', not {kind!r}.")
    if method.upper() == "HEAD":
        return SCANNER
    if _announces_prefetch(headers):
        return PREFETCH
    ua = (user_agent or "")[:MAX_UA_LENGTH].strip()
    if ua == _APPLE_MPP_UA:
        return APPLE_MPP if kind == "open" else SCANNER
    proxy: str | None = None
    for pattern, verdict in FETCH_RULES:
        if pattern.search(ua):
            if verdict == SCANNER:
                return SCANNER
            proxy = verdict
            break
    agent = parse_agent(ua)
    if proxy is None and agent.device == "bot":
        return SCANNER
    if seconds_since_send is not None:
        if kind == "click" and click_too_soon > 0 and seconds_since_send < click_too_soon:
            return SCANNER
        if kind == "open" and open_too_soon > 0 and seconds_since_send < open_too_soon:
            return PREFETCH
    if proxy is not None:
        return proxy
    if agent.browser != "Other":
        return HUMAN
    return UNKNOWN


def _announces_prefetch(headers: Mapping[str, str]) -> bool:
    # .items() because iterating a Werkzeug Headers yields pairs, not names.
    for name, value in headers.items():
        if name.lower() in _PREFETCH_HEADERS:
            lowered = str(value).lower()
            if "prefetch" in lowered or "preview" in lowered or "prerender" in lowered:
                return True
    return False
