"""Reading request bodies: JSON whatever the Content-Type, and forms, with a sentence for
every way a body can be bad (DESIGN 3: bad input never yields a 5xx)."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import request
from gunicorn.http.errors import ParseException as GunicornParseError

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

BODY_UNREADABLE = ("The request body could not be read (a broken chunked encoding, or a "
                   "body shorter than announced); send it again whole.")

#: What a WSGI server raises for a body it cannot read: OSError (a body cut short), and
#: gunicorn's ParseException family (a broken chunked encoding), which is no OSError.
BODY_ERRORS: tuple[type[Exception], ...] = (OSError, GunicornParseError)

def over_limit(kind: str) -> float | None:
    """Take one request of class ``kind`` (``RATE_LIMITS``) from this request's client:
    None when within its limit, else the seconds it must wait. The address is hashed in
    memory only (:class:`~collector.web.ratelimit.RateLimiter`)."""
    from ..extension import ext

    return ext().limits.hit(kind, request.remote_addr, time.monotonic())


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
