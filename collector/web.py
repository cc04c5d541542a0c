"""The thin edge between Flask and the pure modules: request facts in, responses out."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Request, Response, jsonify, request
from gunicorn.http.errors import ParseException as GunicornParseError

from .consent import ConsentState, CookiePlan
from .extension import Collector, Settings
from .hits import GIF, GIF_HEADERS, RETRY_AFTER, consent_of, cookie_headers
from .registry import CONSENT_COOKIE

log = logging.getLogger("cleargif")


def gif_response(status: int = 200) -> Response:
    """The clear GIF, never cached. A 503 asks the client to retry."""
    resp = Response(GIF, status=status, headers=GIF_HEADERS)
    if status == 503:
        resp.headers["Retry-After"] = RETRY_AFTER
    return resp


def json_error(message: str, status: int) -> Response:
    """``{"error": message}`` with ``status``."""
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


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
    from .extension import ext

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


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

BODY_UNREADABLE = ("The request body could not be read (a broken chunked encoding, or a "
                   "body shorter than announced); send it again whole.")


#: What a WSGI server raises for a body it cannot read: OSError (a body cut short), and
#: gunicorn's ParseException family (a broken chunked encoding), which is no OSError.
BODY_ERRORS: tuple[type[Exception], ...] = (OSError, GunicornParseError)


def read_form() -> Any:
    """``request.form``, read once.

    :raises ValueError: with a sentence, when the body cannot be read.
    """
    try:
        return request.form
    except BODY_ERRORS:
        raise ValueError(BODY_UNREADABLE) from None


def json_body(max_bytes: int) -> Any:
    """The request body parsed as JSON whatever its Content-Type.

    :raises ValueError: with a sentence, for an empty, oversized, non-UTF-8, non-JSON,
        too deeply nested or surrogate-holding body.
    """
    import json

    length = request.content_length
    if length is not None and length > max_bytes:
        raise ValueError(f"The body is larger than {max_bytes} bytes; send less.")
    try:
        raw = request.get_data(cache=False)
    except BODY_ERRORS:
        raise ValueError(BODY_UNREADABLE) from None
    if len(raw) > max_bytes:
        raise ValueError(f"The body is larger than {max_bytes} bytes; send less.")
    if not raw.strip():
        raise ValueError("The body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except UnicodeDecodeError:
        raise ValueError("The body is not valid UTF-8; send UTF-8 JSON.") from None
    except ValueError:
        raise ValueError("The body is not valid JSON; send a JSON object.") from None
    except RecursionError:
        raise ValueError("The body nests too deeply; send a flat JSON object.") from None
    # JSON's "\ud800" escapes decode to lone surrogates, which no store can encode. Only
    # a body with such an escape (rare: a beacon never sends one) is checked whole, since
    # a pair of them (an emoji) is fine.
    try:
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("The body holds an unpaired surrogate escape such as \\ud800; "
                         "send valid Unicode.") from None
    return value


def state_json(state: ConsentState) -> dict[str, Any]:
    """The public consent state (no ids)."""
    from .receipts import iso

    return {"revision": state.revision, "decided": state.decided,
            "purposes": dict(state.purposes),
            "chosen": dict(state.chosen) if state.chosen is not None else None,
            "gpc": state.gpc, "dnt": state.dnt,
            # The dialog's own toggle granted marketing over GPC (the page may see GPC
            # that no header carried, so it needs to know).
            "gpc_override": bool(state.decided and state.payload is not None
                                 and state.payload.gpc_override),
            "decided_at": iso(state.decided_at) if state.decided_at is not None else None}
