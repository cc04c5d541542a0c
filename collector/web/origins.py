"""Who may call the collector from a page: CORS for ``ALLOWED_ORIGINS`` and the
collector's own origin, and the refusal of cross-site consent changes (DESIGN 3)."""

from __future__ import annotations

import logging
import time

from flask import Request, Response, request

from ..extension import Settings

log = logging.getLogger("cleargif")


def own_origin(req: Request) -> str:
    """The collector's own origin as the browser sees it."""
    return f"{req.scheme}://{req.host}".lower()

def origin_allowed(s: Settings, req: Request, origin: str) -> bool:
    """Exact match on scheme://host[:port] against ``ALLOWED_ORIGINS`` or our own origin."""
    return origin in s.allowed_origins or origin == own_origin(req)

def add_cors(resp: Response, s: Settings, req: Request) -> Response:
    """CORS with credentials for an allowed Origin; ``Vary: Origin`` always. A refused
    origin is logged (once an hour), since only the browser's console would say why the
    banner of that site stays away."""
    resp.vary.add("Origin")
    origin = req.headers.get("Origin")
    if origin and origin != "null":
        if origin_allowed(s, req, origin):
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        else:
            _log_refused(origin)
    return resp

def preflight(s: Settings, methods: str) -> Response:
    """The answer to an ``OPTIONS`` preflight: 204, CORS headers when allowed."""
    resp = Response(status=204)
    origin = request.headers.get("Origin")
    if origin and origin_allowed(s, request, origin):
        resp.headers["Access-Control-Allow-Methods"] = methods
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
        resp.headers["Access-Control-Max-Age"] = "600"
    return add_cors(resp, s, request)

def _log_refused(origin: str) -> None:
    from ..extension import ext

    line = ext().refused_origins.notice(origin, time.monotonic())
    if line is not None:
        log.warning("%s", line)

def cross_site_refusal(s: Settings, req: Request) -> str | None:
    """Why a consent-changing request must be refused, or None when it may proceed.

    A foreign Origin is refused; a missing or ``null`` Origin is refused when
    ``Sec-Fetch-Site`` shows a browser sent it (a browser always names the origin of a
    legitimate cross-origin write).
    """
    origin = req.headers.get("Origin")
    if origin and origin != "null":
        if origin_allowed(s, req, origin):
            return None
        return (f"Origin {origin[:100]} may not change consent here; add it to "
                "ALLOWED_ORIGINS if it is one of your sites.")
    if origin == "null":
        return "Origin null may not change consent; send the request from a listed site."
    if req.headers.get("Sec-Fetch-Site") is not None:
        return ("A browser request without an Origin may not change consent; send it from "
                "a page of a site listed in ALLOWED_ORIGINS.")
    return None
