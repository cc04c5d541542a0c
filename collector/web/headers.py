"""Headers on every answer of the Flask app (DESIGN 3): ``X-Content-Type-Options:
nosniff`` always, and a Content-Security-Policy that forbids framing on any answer that
does not set its own (the unsubscribe and error pages; the demo and dashboard set
``frame-ancestors 'self'`` themselves). Also counts 5xx answers by route for
``/metrics``. The lean ``GET /t.gif`` path sends the same headers itself."""

from __future__ import annotations

from flask import Flask, Response, request

#: The policy of an answer that sets none: nothing loads, nothing frames it.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


def init_app(app: Flask) -> None:
    """Register the hook on ``app``."""

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers["X-Content-Type-Options"] = "nosniff"
        if "Content-Security-Policy" not in resp.headers:
            resp.headers["Content-Security-Policy"] = DEFAULT_CSP
        if resp.status_code >= 500:
            from ..extension import ext

            metrics = ext().metrics
            if metrics is not None:
                # The endpoint's name, never the path: a path may hold anything.
                metrics.errors.labels(route=request.endpoint or "unrouted").inc()
        return resp
