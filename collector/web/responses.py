"""Answers every route shares: the clear GIF, JSON errors, the 503 of a store that cannot
be written and the 429 of a client over its rate limit (DESIGN 3)."""

from __future__ import annotations

import math

from flask import Response, jsonify

#: The 43-byte transparent 1x1 GIF.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
       b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
GIF_HEADERS = {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
               "Content-Length": str(len(GIF)), "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}

#: Seconds a client is asked to wait before retrying a write that could not be stored.
RETRY_AFTER = "30"
#: What a client is told when a store cannot be used: no path, no store error.
STORE_UNAVAILABLE = "The collector cannot store this just now; retry later."


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


def unavailable(message: str = STORE_UNAVAILABLE) -> Response:
    """503 with ``Retry-After``: a store failed (``message`` names no server path)."""
    resp = json_error(message, 503)
    resp.headers["Retry-After"] = RETRY_AFTER
    return resp


def retry_after(wait: float) -> str:
    """``Retry-After`` for a wait in seconds: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


def too_many(wait: float) -> Response:
    """429 with ``Retry-After``: the client is over its rate limit."""
    resp = json_error("Too many requests from this client; retry after "
                      f"{retry_after(wait)} s.", 429)
    resp.headers["Retry-After"] = retry_after(wait)
    return resp
