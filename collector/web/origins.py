"""Who may call the collector from a page: CORS for ``ALLOWED_ORIGINS`` and the
collector's own origin, and the refusal of cross-site consent changes (DESIGN 3)."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import Request, Response, request

from ..extension import Settings
from ..logs import REVIEWED

log = logging.getLogger("cleargif")


def own_origin(s: Settings, req: Request) -> str:
    """The collector's own origin as the browser sees it: ``PUBLIC_URL``'s when set (always
    behind a proxy), else the request's scheme and Host (a client reaching the collector
    directly can only name the collector there, or it would not have reached it)."""
    if s.public_origin:
        return s.public_origin
    return f"{req.scheme}://{req.host}".lower()


def origin_allowed(s: Settings, req: Request, origin: str) -> bool:
    """Exact match on scheme://host[:port] against ``ALLOWED_ORIGINS`` or our own origin."""
    return origin in s.allowed_origins or origin == own_origin(s, req)


def origin_of(url: str) -> str | None:
    """The origin (``scheme://host[:port]``, default port left out) of an absolute http(s)
    URL such as a ``Referer``, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")

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
        # A site's origin (http://192.0.2.5:8100 for a site served by address) is what the
        # operator must add to ALLOWED_ORIGINS: written as it is, not as ":ip".
        log.warning("%s", line, extra=REVIEWED)

def cross_site_refusal(s: Settings, req: Request) -> str | None:
    """Why a consent-changing request must be refused, or None when it may proceed.

    A foreign Origin is refused; a missing or ``null`` Origin is refused when
    ``Sec-Fetch-Site`` shows a browser sent it (a browser always names the origin of a
    legitimate cross-origin write). Without an Origin, the ``Referer`` must name an
    allowed origin: a foreign one is refused, and so is a request that names none of
    Origin, Referer and ``Sec-Fetch-Site`` (nothing then says where it came from).
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
    referer = req.headers.get("Referer")
    if referer:
        came_from = origin_of(referer)
        if came_from is not None and origin_allowed(s, req, came_from):
            return None
        # Only the origin is repeated: a Referer's path and query are the visitor's.
        shown = came_from if came_from and came_from.isprintable() else "another site"
        return (f"A consent change from a page of {shown[:100]} is refused; send it from a "
                "site listed in ALLOWED_ORIGINS.")
    return ("A consent change must say where it comes from: send an Origin (or Referer) "
            "header naming a site listed in ALLOWED_ORIGINS, as browsers do.")
