"""Page-view pixels: ``GET /t.gif`` and ``POST /t`` (DESIGN 3).

The views only read request facts; :func:`handle_hit` decides and stores. This path
never opens the identity store and never reads ``cg_remember``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Request, Response, request

from .. import clock
from ..consent import CookiePlan, hit_policy, plan_cookies
from ..errors import StorageError
from ..extension import Collector, ext
from ..records import PageInput, build_pageview, site_of
from ..web import (
    add_cors,
    apply_plan,
    client_address,
    consent_state,
    gif_response,
    json_body,
    json_error,
    preflight,
)

bp = Blueprint("tracking", __name__)

MAX_BODY = 8 * 1024
PIXEL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


def is_prefetch(req: Request) -> bool:
    """Browser prefetches and prerenders are not visits."""
    purpose = req.headers.get("Sec-Purpose") or req.headers.get("Purpose") or ""
    return "prefetch" in purpose.lower()


def local_day(col: Collector, at: float) -> str:
    """The day of ``at`` in ``TIMEZONE``."""
    return datetime.fromtimestamp(at, ZoneInfo(col.settings.timezone)).date().isoformat()


def handle_hit(col: Collector, req: Request, params: dict[str, Any], resp: Response,
               count: bool = True) -> Response:
    """Decide on one hit, store it if consent and filters allow, set or expire cookies.

    :returns: ``resp`` with cookies applied, or a 503 replacement when the write failed.
    """
    at = clock.now()
    s = col.settings
    state = consent_state(col, req, at)
    prefetch = is_prefetch(req)
    inp = PageInput(page=_str(params.get("p")), referrer=_str(params.get("r")),
                    event=_str(params.get("e")),
                    utm={k: v for k in ("utm_source", "utm_medium", "utm_campaign")
                         if (v := _str(params.get(k)))},
                    origin=req.headers.get("Origin"), referer_header=req.headers.get("Referer"),
                    user_agent=req.headers.get("User-Agent"),
                    accept_language=req.headers.get("Accept-Language"))
    site = site_of(inp)
    own = (req.host or "").split(":")[0].lower()
    reason = None
    if not count:
        reason = "method"
    elif prefetch:
        reason = "prefetch"
    elif site is None or (site not in s.sites and site != own):
        reason = "site"
    elif s.exclude_networks and _excluded(col, req):
        reason = "network"
    policy = hit_policy(state, s.counting)
    plan = plan_cookies(state, req.cookies, now=at, visitor_days=s.visitor_days,
                        registry=col.registry, issue=reason is None)
    if reason is not None:
        # A lost drop counter is not worth a retry from the browser.
        with contextlib.suppress(StorageError):
            col.events.count_dropped(local_day(col, at), reason)
    elif policy.store:
        with_ids = policy.with_ids
        record = build_pageview(
            inp, now=at, site=site or own, purposes=state.granted_list if with_ids else [],
            revision=s.revision, session_id=plan.session_id if with_ids else None,
            visitor_id=plan.visitor_id if with_ids else None,
            patterns=col.patterns)
        try:
            col.events.add_event(record)
        except StorageError:
            # 200 means stored: without the write, say so, and set no new cookies.
            failed = gif_response(503) if resp.mimetype == "image/gif" else json_error(
                "The hit could not be stored; retry later.", 503)
            failed.headers["Retry-After"] = "30"
            return apply_plan(failed, s, CookiePlan(expire=plan.expire))
    return apply_plan(resp, s, plan)


def _excluded(col: Collector, req: Request) -> bool:
    addr = client_address(req)
    return addr is not None and any(addr in net for net in col.settings.exclude_networks)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@bp.route("/t.gif", methods=PIXEL_METHODS)
def pixel() -> Response:
    """The page-view pixel: always the GIF; only ``GET`` counts."""
    return handle_hit(ext(), request, request.args.to_dict(), gif_response(),
                      count=request.method == "GET")


@bp.route("/t", methods=["POST", "OPTIONS"])
def beacon() -> Response:
    """The same hit as a JSON body (``sendBeacon`` sends it as ``text/plain``)."""
    col = ext()
    if request.method == "OPTIONS":
        return preflight(col.settings, "POST")
    try:
        body = json_body(MAX_BODY)
    except ValueError as exc:
        return add_cors(json_error(str(exc), 413 if "larger" in str(exc) else 400),
                        col.settings, request)
    if not isinstance(body, dict):
        return add_cors(json_error('The body must be a JSON object such as {"p": "/path"}.',
                                   400), col.settings, request)
    bad = [k for k, v in body.items() if v is not None and not isinstance(v, str)]
    if bad:
        return add_cors(json_error(f"Field {str(bad[0])[:40]!r} must be a string.", 400),
                        col.settings, request)
    resp = handle_hit(col, request, body, Response(status=204))
    return add_cors(resp, col.settings, request)
