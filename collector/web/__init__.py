"""The HTTP edge: the blueprints (:mod:`.views`), request and response helpers, CORS and
origin checks, the cookie headers, error answers and the snippet's compressed serving.
Views read request facts and hand them to the pure modules; they decide nothing."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire the HTTP edge into ``app``: blueprints, the snippet's compressed serving, error
    answers, the stale-cookie hook and the headers every answer sends."""
    from . import cookies, errors, headers, metrics, snippet, views

    views.init_app(app)
    app.register_blueprint(metrics.bp)
    snippet.init_app(app)  # the site snippet gzip-compressed where the client accepts it
    errors.init_app(app)
    cookies.init_app(app)
    headers.init_app(app)
