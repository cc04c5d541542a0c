"""Error answers: pixels answer the GIF, everything else ``{"error": "…"}``; never a
traceback. A store that fails answers 503 with ``Retry-After`` on every route, says
nothing of where or what the store is, and is logged as one line a minute however many
requests meet it."""

from __future__ import annotations

import time

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..errors import CleargifError, StorageError
from .responses import RETRY_AFTER, gif_response, json_error, unavailable

PIXEL_PREFIXES = ("/t.gif", "/o/")


def _is_pixel() -> bool:
    return request.path.startswith(PIXEL_PREFIXES)


def _query_is_utf8() -> bool:
    """Whether the raw query string decodes as UTF-8 (WSGI hands it over as latin-1)."""
    try:
        request.environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 400
        if _is_pixel():
            # 200 means stored: an internal error answers 503 so the browser may retry.
            return gif_response(503 if code >= 500 else 200)
        message = {
            404: "Nothing here; see the README for the collector's endpoints.",
            405: f"Method {request.method} is not allowed on {request.path[:100]}.",
            413: "The request body is too large.",
        }.get(code, exc.description or exc.name)
        return json_error(message, code)

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError) -> Response:
        from ..extension import ext

        ext().failures.failed("request", f"A request failed on a store: {exc}",
                              time.monotonic())
        if _is_pixel():
            return gif_response(503)
        if request.path.startswith("/u/"):
            from .views.email import page

            resp = page("Please try again", "We could not record your request just now. "
                        "Please try again in a minute.", 503)
            resp.headers["Retry-After"] = RETRY_AFTER
            return resp
        return unavailable()

    @app.errorhandler(CleargifError)
    def cleargif_error(exc: CleargifError) -> Response:
        app.logger.error("%s", exc)
        if _is_pixel():
            return gif_response(503)
        return json_error(str(exc), 500)

    @app.errorhandler(UnicodeDecodeError)
    def not_utf8(exc: UnicodeDecodeError) -> Response:
        # A WSGI server that passes raw bytes lets a query string reach Werkzeug undecoded:
        # that is the client's doing. Any other decoding error (a key file that is not
        # UTF-8, say) is the collector's, and answers as one.
        if not _query_is_utf8():
            if _is_pixel():
                return gif_response(200)
            return json_error("The request is not valid UTF-8; percent-encode it as UTF-8.",
                              400)
        app.logger.error("internal error", exc_info=exc)
        if _is_pixel():
            return gif_response(503)
        return json_error("Internal error; it has been logged.", 500)
