"""gunicorn's logger without client data (DESIGN 3: no log line holds a client address,
a User-Agent or a query string).

gunicorn writes ``Invalid request from ip=…: <what was wrong, quoting the request>`` for
every malformed request, and ``Error handling request <method> <uri>`` above a traceback.
:class:`PrivateLogger` rewrites the first into a sentence that quotes nothing (and a flood
of them into one line a minute), drops the request from the second, never writes an
access log, and scrubs whatever else it writes (:class:`collector.logs.PrivacyFilter`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gunicorn.glogging import Logger

from ..logs import FloodLog, PrivacyFilter

#: What gunicorn says of a malformed request, as words that quote none of it: the first
#: fragment found in its error (lowercased) names the problem.
REFUSALS = (
    ("header fields too large", "its headers are too large"),
    ("limit request headers", "it has too many headers"),
    ("request line is too large", "its request line is too long"),
    ("uri too long", "its request line is too long"),
    ("chunk", "its chunked body is broken"),
    ("transfer-encoding", "its Transfer-Encoding is not supported"),
    ("transfer coding", "its Transfer-Encoding is not supported"),
    ("method", "its method is invalid"),
    ("http version", "its HTTP version is invalid"),
    ("request line", "its request line is invalid"),
    ("header", "a header is invalid"),
    ("proxy", "its PROXY line is invalid"),
)


def refusal(error: str) -> str:
    """A sentence for a request gunicorn refused, from its error text (quoted by nothing)."""
    lowered = error.lower()
    what = next((words for fragment, words in REFUSALS if fragment in lowered),
                "it is malformed")
    return f"Refused a request because {what}; nothing of it is logged."


class PrivateLogger(Logger):
    """gunicorn's logger, minus addresses, requests and access lines."""

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.refused = FloodLog(lambda line: super(PrivateLogger, self).warning(line))

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up, then put the privacy filter in front of each."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, PrivacyFilter) for f in handler.filters):
                    handler.addFilter(PrivacyFilter())

    def refuse(self, error: str) -> None:
        """Say that a request was refused for ``error`` (gunicorn's text, which may quote
        the request: only the kind of problem is kept); a flood is one line a minute."""
        line = refusal(error)
        self.refused.failed(line, line, time.monotonic())

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Rewrite gunicorn's "Invalid request from ip=…" lines, summarise a flood."""
        if isinstance(msg, str) and msg.startswith("Invalid request from ip="):
            self.refuse(msg.split(": ", 1)[1] if ": " in msg else "")
            return
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Drop the request gunicorn names above a traceback."""
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            msg, args = "Error handling a request (its method and URL are not logged)", ()
        super().exception(msg, *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """As :meth:`exception`, for error lines."""
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            msg, args = "Error handling a request (its method and URL are not logged)", ()
        super().error(msg, *args, **kwargs)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Never: an access line holds the address and the whole URL."""

    def log(self, lvl: Any, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Route through the rewriting methods above."""
        level = lvl if isinstance(lvl, int) else logging.getLevelName(str(lvl).upper())
        if level == logging.WARNING:
            self.warning(msg, *args, **kwargs)
        else:
            super().log(lvl, msg, *args, **kwargs)
