"""Answers every route shares: the clear GIF, JSON errors, and the 503 of a store that
cannot be written (DESIGN 3)."""

from __future__ import annotations

from flask import Response, jsonify

#: The 43-byte transparent 1x1 GIF.
#: The 43-byte transparent 1x1 GIF.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
       b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
GIF_HEADERS = {"Content-Type": "image/gif", "Cache-Control": "no-store, max-age=0",
               "Content-Length": str(len(GIF))}

#: Seconds a client is asked to wait before retrying a hit that could not be stored.
RETRY_AFTER = "30"


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
