"""``GET /metrics`` in Prometheus' text format (DESIGN 3), off unless ``METRICS_TOKEN`` is
set; the counters are :class:`collector.metrics.Metrics`."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics, for a request bearing ``METRICS_TOKEN``; 404 while it is unset."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from ..extension import ext
    from .requests import over_limit
    from .responses import json_error, too_many

    col = ext()
    token = col.config.get("METRICS_TOKEN")
    if not token or col.metrics is None:
        return json_error("Nothing here; /metrics is off until METRICS_TOKEN is set.", 404)
    wait = over_limit("api")
    if wait is not None:
        return too_many(wait)
    kind, _, given = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                           token.encode()):
        resp = json_error("/metrics needs 'Authorization: Bearer <METRICS_TOKEN>'.", 401)
        resp.headers["WWW-Authenticate"] = 'Bearer realm="cleargif-metrics"'
        return resp
    resp = Response(col.metrics.exposition(), mimetype=None,
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
    return resp
