"""The HTTP edge: the blueprints (:mod:`.views`), request and response helpers, CORS and
origin checks, the cookie headers, error answers and the snippet's compressed serving.
Views read request facts and hand them to the pure modules; they decide nothing."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire the HTTP edge into ``app``: blueprints, the snippet's compressed serving, error
    answers and the stale-cookie hook."""
    from . import cookies, errors, snippet, views

    views.init_app(app)
    snippet.init_app(app)  # the site snippet gzip-compressed where the client accepts it
    errors.init_app(app)
    cookies.init_app(app)
