"""Cookies on the wire: a :class:`~collector.consent.rules.CookiePlan` as ``Set-Cookie``
headers with the DESIGN flags, and the hook that expires stale cookies on every collector
response (DESIGN 1.4).

The pixel and consent views plan their own cookies; the ``after_request`` hook covers
every other answer (the banner's configuration, the snippet itself, health checks, the
API, the demo): a cookie whose purpose is not granted now is expired in its host-only and
``COOKIE_DOMAIN`` forms. Email endpoints are left alone: they neither read nor set
cookies (see the README's deviations).
"""

from __future__ import annotations

from flask import Flask, Request, Response, request
from werkzeug.http import dump_cookie

from .. import clock
from ..consent.registry import CONSENT_COOKIE
from ..consent.rules import ConsentState, CookiePlan, stale_cookies
from ..extension import Collector, Settings, ext
from ..ingest.pipeline import consent_of


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


def consent_state(col: Collector, req: Request, at: float) -> ConsentState:
    """The consent in force for ``req``."""
    return consent_of(col, req.cookies.get(CONSENT_COOKIE), req.headers.get("DNT"),
                      req.headers.get("Sec-GPC"), at)

def set_cookie(resp: Response, s: Settings, name: str, value: str,
               max_age: int | None) -> None:
    """Set one of cleargif's cookies with the DESIGN flags."""
    resp.set_cookie(name, value, max_age=max_age, path="/", domain=s.cookie_domain,
                    secure=s.cookie_secure, httponly=True, samesite="Lax")

def apply_plan(resp: Response, s: Settings, plan: CookiePlan) -> Response:
    """Write a cookie plan onto a response (the same headers as the fast path's)."""
    for name, value in cookie_headers(s, plan):
        resp.headers.add(name, value)
    return resp


EMAIL_PREFIXES = ("/o/", "/c/", "/u/")

def _already_set(resp: Response) -> set[str]:
    return {h.split("=", 1)[0].strip() for h in resp.headers.getlist("Set-Cookie")}

def init_app(app: Flask) -> None:
    """Register the hook on ``app``."""

    @app.after_request
    def expire_stale_cookies(resp: Response) -> Response:
        if not request.cookies or request.path.startswith(EMAIL_PREFIXES):
            return resp
        col = ext()
        state = consent_state(col, request, clock.now())
        done = _already_set(resp)
        stale = [n for n in stale_cookies(state, request.cookies, col.registry)
                 if n not in done]
        if stale:
            apply_plan(resp, col.settings, CookiePlan(expire=tuple(stale)))
        return resp
