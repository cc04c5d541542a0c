"""The worker of ``cleargif serve``: gevent under gunicorn, with deadlines for a request's
head and body (DESIGN 3: exposed directly, it stays up).

A sync worker spends itself on whichever connection it reads: two clients trickling their
headers byte by byte took both workers of a default ``serve``. Here each connection is a
greenlet, so a slow or idle one costs a little memory, not a worker; and a client that
takes longer than :data:`HEADER_TIMEOUT` for a request's line and headers, or
:data:`BODY_TIMEOUT` for its body, is cut off. The collector's own work (verifying,
scrubbing, one SQLite commit) never waits on the network, so it runs as fast as before.

Imported only in gunicorn's worker processes (gevent patches the standard library there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gevent
from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.ggevent import GeventWorker

#: Seconds a client has to send a request's line and headers: from the connection, or on
#: a kept-alive connection from the previous answer (so it is also the idle timeout).
HEADER_TIMEOUT = 10.0
#: Seconds a client has to send a request's body, once its headers are in.
BODY_TIMEOUT = 20.0
#: What every answer gunicorn writes itself (a malformed request) carries besides its
#: status: nothing to sniff, nothing to frame, nothing of the request echoed back.
ERROR_HEADERS = ("Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                 "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n")

_WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyTimeout(TimeoutError):
    """The client did not send its body in time (an OSError, as a body cut short is)."""


class DeadlineBody:
    """``wsgi.input`` that must be read whole before a deadline (monotonic seconds)."""

    def __init__(self, body: Any, deadline: float) -> None:
        self.body = body
        self.deadline = deadline

    def _within(self, read: Callable[..., Any], *args: Any) -> Any:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BodyTimeout("The request body did not arrive in time.")
        with gevent.Timeout(left, BodyTimeout("The request body did not arrive in time.")):
            return read(*args)

    def read(self, size: int | None = None) -> bytes:
        """Read as the WSGI input does, within the deadline."""
        data: bytes = self._within(self.body.read, size)
        return data

    def readline(self, size: int | None = None) -> bytes:
        """Read a line, within the deadline."""
        data: bytes = self._within(self.body.readline, size)
        return data

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """Read the lines, within the deadline."""
        lines: list[bytes] = self._within(self.body.readlines, hint)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class BodyDeadline:
    """WSGI middleware giving each request's body :data:`BODY_TIMEOUT` seconds."""

    def __init__(self, app: _WSGIApp, seconds: float = BODY_TIMEOUT) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Wrap ``wsgi.input`` (when there is a body) and call the app."""
        body = environ.get("wsgi.input")
        if body is not None and (environ.get("CONTENT_LENGTH") not in (None, "", "0")
                                 or environ.get("HTTP_TRANSFER_ENCODING")):
            environ["wsgi.input"] = DeadlineBody(body, time.monotonic() + self.seconds)
        return self.app(environ, start_response)


def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it refused, with the headers every cleargif answer
    sends and without quoting the request (gunicorn's own page echoes it as HTML)."""
    body = f"{status_int} {reason}\n".encode("latin-1", "replace")
    head = (f"HTTP/1.1 {status_int} {reason}\r\n{ERROR_HEADERS}"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1", "replace") + body)


#: The status of a request gunicorn refused, by the kind of its error (the first match
#: counts); any other parse error is a 400.
REFUSED_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.LimitRequestLine, 414, "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden"),
)


class CollectorWorker(GeventWorker):
    """gunicorn's gevent worker with the deadlines above and cleargif's error answers."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer a request gunicorn could not parse with a 4xx (or 501) and one line that
        quotes nothing of it, whatever gunicorn's release: some answer an unsupported
        Transfer-Encoding with a 500 and a traceback. Other errors go to gunicorn."""
        if not isinstance(exc, http_errors.ParseException) or \
                isinstance(exc, http_errors.ConfigurationProblem):
            super().handle_error(req, client, addr, exc)
            return
        status, reason = next(((code, words) for kind, code, words in REFUSED_STATUS
                               if isinstance(exc, kind)), (400, "Bad Request"))
        refuse = getattr(self.log, "refuse", None)
        if refuse is not None:
            refuse(str(exc))
        try:
            util.write_error(client, status, reason, "")
        except Exception:  # the client is gone: nothing to answer
            self.log.debug("Failed to send error message.")

    def init_process(self) -> None:
        """Answer refused requests the cleargif way, then start as gevent's worker does."""
        util.write_error = write_error
        super().init_process()

    def load_wsgi(self) -> None:
        """Load the app and put the body deadline in front of it."""
        super().load_wsgi()
        app: _WSGIApp = getattr(self, "wsgi")  # noqa: B009 (gunicorn sets it untyped)
        self.wsgi = BodyDeadline(app)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """Serve one request, then let the other connections' greenlets run: a kept-alive
        client whose next request is already in would otherwise be served again and again
        while the others wait (gevent only switches when a read would block)."""
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.sleep(0)

    def timeout_ctx(self) -> gevent.Timeout:
        """The deadline for a request's line and headers (gunicorn reads them inside it,
        and closes the connection silently when it passes)."""
        return gevent.Timeout(HEADER_TIMEOUT, False)
