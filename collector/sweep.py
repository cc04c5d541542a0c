"""Expire stale cookies on every collector response (DESIGN 1.4).

The pixel and consent views plan their own cookies; this ``after_request`` hook covers
every other answer (the banner's configuration, the snippet itself, health checks, the
API, the demo): a cookie whose purpose is not granted now is expired in its host-only and
``COOKIE_DOMAIN`` forms. Email endpoints are left alone: they neither read nor set
cookies (see the README's deviations).
"""

from __future__ import annotations

from flask import Flask, Response, request

from . import clock
from .consent import CookiePlan, stale_cookies
from .extension import ext
from .web import apply_plan, consent_state

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
