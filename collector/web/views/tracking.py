"""Page-view pixels: ``GET /t.gif`` and ``POST /t`` (DESIGN 3).

``GET /t.gif`` is normally answered by :class:`collector.ingest.pipeline.PixelFastPath` before
Flask sees it; the view below serves the other methods (answered, never counted) and any
deployment that bypasses the middleware. Both hand plain facts to
:func:`collector.ingest.pipeline.process_hit`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ... import clock
from ...extension import ext
from ...ingest.facts import facts_from_environ
from ...ingest.pipeline import Drop, count_drop, process_hit
from ..cookies import apply_plan
from ..origins import add_cors, preflight
from ..requests import json_body, over_limit
from ..responses import gif_response, json_error, too_many, unavailable

bp = Blueprint("tracking", __name__)

MAX_BODY = 8 * 1024
PIXEL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


@bp.route("/t.gif", methods=PIXEL_METHODS, provide_automatic_options=False)
def pixel() -> Response:
    """The page-view pixel: always the GIF; only ``GET`` counts."""
    col = ext()
    limited = request.method == "GET" and over_limit("hits") is not None
    outcome = process_hit(col, facts_from_environ(request.environ),
                          count=request.method == "GET", limited=limited)
    resp = gif_response(503 if outcome.failed else 200)
    return apply_plan(resp, col.settings, outcome.plan)


@bp.route("/t", methods=["POST", "OPTIONS"])
def beacon() -> Response:
    """The same hit as a JSON body (``sendBeacon`` sends it as ``text/plain``)."""
    col = ext()
    if request.method == "OPTIONS":
        return preflight(col.settings, "POST")
    wait = over_limit("hits")
    if wait is not None:
        count_drop(col, Drop.RATE, clock.now())
        return add_cors(too_many(wait), col.settings, request)
    try:
        body = json_body(MAX_BODY)
    except ValueError as exc:
        status = 413 if "larger" in str(exc) else 400
        return add_cors(json_error(str(exc), status), col.settings, request)
    if not isinstance(body, dict):
        return add_cors(json_error('The body must be a JSON object such as {"p": "/path"}.',
                                   400), col.settings, request)
    bad = [k for k, v in body.items() if v is not None and not isinstance(v, str)]
    if bad:
        return add_cors(json_error(f"Field {str(bad[0])[:40]!r} must be a string.", 400),
                        col.settings, request)
    params = {str(k): v for k, v in body.items() if isinstance(v, str)}
    outcome = process_hit(col, facts_from_environ(request.environ, params))
    if outcome.failed:
        resp = unavailable("The hit could not be stored; retry later.")
    else:
        resp = Response(status=204)
    return add_cors(apply_plan(resp, col.settings, outcome.plan), col.settings, request)
