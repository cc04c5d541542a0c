"""``GET /t.gif`` answered before Flask's request machinery, which costs more than
everything the collector itself does for a hit. The decisions are the same functions the
Flask views call (:func:`collector.ingest.pipeline.process_hit`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ..extension import Collector
from ..web.cookies import cookie_headers
from ..web.responses import GIF, GIF_HEADERS, RETRY_AFTER
from .facts import facts_from_environ
from .pipeline import process_hit, rate_limited

log = logging.getLogger("cleargif")

_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_GIF_HEADER_LIST = list(GIF_HEADERS.items())


class PixelFastPath:
    """WSGI middleware answering ``GET /t.gif`` without Flask's request machinery.

    Everything else goes to the Flask app unchanged. The decisions are the same
    functions the Flask views call.
    """

    def __init__(self, app: _WSGIApp, collector: Collector) -> None:
        self.app = app
        self.collector = collector

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer ``GET /t.gif`` here; pass every other request to the wrapped app."""
        if environ.get("PATH_INFO") != "/t.gif" or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        col = self.collector
        try:
            limited = rate_limited(col, environ.get("REMOTE_ADDR"))
            outcome = process_hit(col, facts_from_environ(environ), limited=limited)
            headers = _GIF_HEADER_LIST + cookie_headers(col.settings, outcome.plan)
        except Exception:  # a bug must not cost the page its image, nor leak a traceback
            log.exception("pixel failed")
            if col.metrics is not None:
                col.metrics.errors.labels(route="tracking.pixel").inc()
            # Not stored, so not 200: the browser may retry.
            start_response("503 Service Unavailable",
                           [*_GIF_HEADER_LIST, ("Retry-After", RETRY_AFTER)])
            return [GIF]
        if outcome.failed:
            if col.metrics is not None:
                col.metrics.errors.labels(route="tracking.pixel").inc()
            start_response("503 Service Unavailable", [*headers, ("Retry-After", RETRY_AFTER)])
        else:
            start_response("200 OK", headers)
        return [GIF]
