"""One place that decides on a hit and stores it, fed with plain request facts.

Both the Flask views (``POST /t``, odd methods on ``/t.gif``) and the lean WSGI path for
``GET /t.gif`` (:class:`PixelFastPath`) read a :class:`HitFacts` from the WSGI environ
and call :func:`process_hit`. The fast path skips Flask's request machinery, which costs
more than everything the collector itself does for a hit.

This path never opens the identity store and never reads ``cg_remember``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.http import dump_cookie

from . import clock
from .consent import (
    ConsentState,
    CookiePlan,
    evaluate,
    header_dnt,
    header_gpc,
    hit_policy,
    plan_cookies,
)
from .errors import StorageError
from .extension import Collector, Settings
from .records import UTM_KEYS, PageInput, build_pageview, site_of
from .registry import CONSENT_COOKIE

log = logging.getLogger("cleargif")

#: The 43-byte transparent 1x1 GIF.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
       b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
GIF_HEADERS = {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
               "Content-Length": str(len(GIF))}
MAX_QUERY = 16 * 1024  # longer query strings are cut before parsing
RETRY_AFTER = "30"


@dataclass(frozen=True, slots=True)
class HitFacts:
    """What one request says, as plain values."""

    params: Mapping[str, str]
    cookies: Mapping[str, str]
    origin: str | None
    referer: str | None
    user_agent: str | None
    accept_language: str | None
    dnt: str | None
    gpc: str | None
    prefetch: bool
    host: str
    remote_addr: str | None


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        return None
    # WSGI strings are latin-1 decoded bytes; re-read them as UTF-8 like Werkzeug does.
    try:
        return str(value).encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return str(value)


def query_params(query: str) -> dict[str, str]:
    """The first non-empty value of each parameter (bad UTF-8 is replaced).

    A plain loop: ``parse_qsl`` validates more than a pixel needs and shows up in profiles.
    """
    params: dict[str, str] = {}
    for pair in query[:MAX_QUERY].split("&"):
        key, _, value = pair.partition("=")
        if not value:
            continue
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key not in params:
            params[key] = unquote_plus(value) if "%" in value or "+" in value else value
    return params


def cookie_dict(header: str) -> dict[str, str]:
    """Cookie names to values (the first of each name); quotes around a value dropped.

    Simpler than a full RFC 6265 parser on purpose: the collector only looks up its own
    cookies, whose values never need quoting, and other cookies only by name.
    """
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in cookies:
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies


def facts_from_environ(environ: Mapping[str, Any],
                       params: Mapping[str, str] | None = None) -> HitFacts:
    """Read a :class:`HitFacts` from a WSGI environ; ``params`` replaces the query string
    (``POST /t`` sends them as a JSON body)."""
    if params is None:
        raw = environ.get("QUERY_STRING", "")
        params = query_params(raw.encode("latin-1", "replace").decode("utf-8", "replace"))
    purpose = (environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE") or "").lower()
    cookie_header = environ.get("HTTP_COOKIE")
    return HitFacts(
        params=params,
        cookies=cookie_dict(cookie_header) if cookie_header else {},
        origin=_header(environ, "HTTP_ORIGIN"),
        referer=_header(environ, "HTTP_REFERER"),
        user_agent=_header(environ, "HTTP_USER_AGENT"),
        accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
        dnt=environ.get("HTTP_DNT"),
        gpc=environ.get("HTTP_SEC_GPC"),
        prefetch="prefetch" in purpose,
        host=(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").lower(),
        remote_addr=environ.get("REMOTE_ADDR"),
    )


def consent_of(col: Collector, cookie: str | None, dnt: str | None, gpc: str | None,
               at: float) -> ConsentState:
    """The consent in force for a request's ``cg_consent`` cookie and headers."""
    s = col.settings
    return evaluate(col.load_consent(cookie), revision=s.revision,
                    consent_days=s.consent_days, now=at, dnt=header_dnt(dnt, s.honor_dnt),
                    gpc=header_gpc(gpc))


@dataclass(frozen=True, slots=True)
class HitOutcome:
    """What the response must say: stored (or not counted), or failed; and the cookies."""

    failed: bool
    plan: CookiePlan
    reason: str | None  # why it was not counted, if it was not


def drop_reason(col: Collector, facts: HitFacts, inp: PageInput, site: str | None,
                count: bool) -> str | None:
    """Why a hit is not counted (it is still answered), or None."""
    s = col.settings
    if not count:
        return "method"
    if facts.prefetch:
        return "prefetch"
    # Only SITES count: the Host header is the client's to choose, so it vouches for nothing.
    if site is None or site not in s.sites:
        return "site"
    if s.exclude_networks and _excluded(s, facts.remote_addr):
        return "network"
    return None


def _excluded(s: Settings, addr: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((addr or "").split("%")[0])
    except ValueError:
        return False
    # A dual-stack server sees IPv4 clients as ::ffff:a.b.c.d; 10.0.0.0/8 must still match.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return any(ip in net or (mapped is not None and mapped in net)
               for net in s.exclude_networks)


def process_hit(col: Collector, facts: HitFacts, count: bool = True) -> HitOutcome:
    """Decide on one hit, store it if consent and filters allow, plan the cookies.

    A hit that should be stored but cannot be is reported as failed, with no new cookies,
    so that the answer (503) never claims what did not happen.
    """
    at = clock.now()
    s = col.settings
    state = consent_of(col, facts.cookies.get(CONSENT_COOKIE), facts.dnt, facts.gpc, at)
    p = facts.params
    inp = PageInput(page=p.get("p") or None, referrer=p.get("r") or None,
                    event=p.get("e") or None,
                    utm={k: p[k] for k in UTM_KEYS if p.get(k)},
                    origin=facts.origin, referer_header=facts.referer,
                    user_agent=facts.user_agent, accept_language=facts.accept_language)
    site = site_of(inp)
    reason = drop_reason(col, facts, inp, site, count)
    plan = plan_cookies(state, facts.cookies, now=at, visitor_days=s.visitor_days,
                        registry=col.registry, ids=col.id_signer,
                        issue=reason is None)
    if reason is not None:
        # A lost drop counter is not worth a retry from the browser.
        with contextlib.suppress(StorageError):
            col.events.count_dropped(local_day(s, at), reason)
        return HitOutcome(False, plan, reason)
    policy = hit_policy(state, s.counting)
    if not policy.store:
        return HitOutcome(False, plan, "consent")
    ids = policy.with_ids
    record = build_pageview(inp, now=at, site=site or facts.host,
                            purposes=state.granted_list if ids else [], revision=s.revision,
                            session_id=plan.session_id if ids else None,
                            visitor_id=plan.visitor_id if ids else None,
                            patterns=col.patterns)
    try:
        col.events.add_event(record)
    except StorageError as exc:
        log.error("hit not stored: %s", exc)
        return HitOutcome(True, CookiePlan(expire=plan.expire), None)
    return HitOutcome(False, plan, None)


def local_day(s: Settings, at: float) -> str:
    """The day of ``at`` in ``TIMEZONE``."""
    return datetime.fromtimestamp(at, s.tz).date().isoformat()


def cookie_headers(s: Settings, plan: CookiePlan) -> list[tuple[str, str]]:
    """``Set-Cookie`` headers for a plan: sets, then expiries in host-only and
    ``COOKIE_DOMAIN`` form."""
    headers = []
    for c in plan.set:
        headers.append(("Set-Cookie", dump_cookie(
            c.name, c.value, max_age=c.max_age, path="/", domain=s.cookie_domain,
            secure=s.cookie_secure, httponly=True, samesite="Lax")))
    for name in plan.expire:
        for domain in (None, s.cookie_domain) if s.cookie_domain else (None,):
            headers.append(("Set-Cookie", dump_cookie(
                name, "", max_age=0, expires=0, path="/", domain=domain,
                secure=s.cookie_secure, httponly=True, samesite="Lax")))
    return headers


_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_GIF_HEADER_LIST = list(GIF_HEADERS.items())


class PixelFastPath:
    """WSGI middleware answering ``GET /t.gif`` without Flask's request machinery.

    Everything else goes to the Flask app unchanged. The decisions are the same
    functions the Flask views call.
    """

    def __init__(self, app: _WSGIApp, collector: Collector) -> None:
        self.app = app
        self.collector = collector

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer ``GET /t.gif`` here; pass every other request to the wrapped app."""
        if environ.get("PATH_INFO") != "/t.gif" or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        col = self.collector
        try:
            outcome = process_hit(col, facts_from_environ(environ))
            headers = _GIF_HEADER_LIST + cookie_headers(col.settings, outcome.plan)
        except Exception:  # a bug must not cost the page its image, nor leak a traceback
            log.exception("pixel failed")
            # Not stored, so not 200: the browser may retry.
            start_response("503 Service Unavailable",
                           [*_GIF_HEADER_LIST, ("Retry-After", RETRY_AFTER)])
            return [GIF]
        if outcome.failed:
            start_response("503 Service Unavailable", [*headers, ("Retry-After", RETRY_AFTER)])
        else:
            start_response("200 OK", headers)
        return [GIF]
