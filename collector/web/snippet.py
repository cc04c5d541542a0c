"""The site snippet served gzip-compressed (DESIGN 9: it is small over the wire too).

Flask's static view sends files as they are on disk, and a collector often runs without a
compressing proxy in front, so ``/static/js/cleargif.js`` is compressed here: once, at
level 9, kept in memory until the file changes. A client whose ``Accept-Encoding`` does not
allow gzip gets the file as before. Both forms say ``Vary: Accept-Encoding``, and the
compressed one has its own ETag, so no cache answers a request for one form with the other.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
from dataclasses import dataclass

from flask import Flask, Response, request, send_file

#: The file under the static folder that is served compressed.
SNIPPET = "js/cleargif.js"


@dataclass(frozen=True, slots=True)
class Compressed:
    """A file's gzip form and what identifies the version it was made from."""

    version: tuple[int, int]  # (mtime_ns, size) of the file when compressed
    body: bytes
    etag: str
    mtime: float


class CompressedFile:
    """A file's gzip form at level 9, made again only when the file's mtime or size change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cached: Compressed | None = None

    def get(self) -> Compressed:
        """The compressed form of the file as it is now.

        :raises OSError: the file cannot be read.
        """
        st = os.stat(self.path)
        cached = self._cached
        if cached is not None and cached.version == (st.st_mtime_ns, st.st_size):
            return cached
        with open(self.path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read()
        # mtime=0: the same file always compresses to the same bytes (and ETag).
        body = gzip.compress(raw, compresslevel=9, mtime=0)
        etag = hashlib.sha256(body).hexdigest()[:32] + "-gzip"
        cached = Compressed((st.st_mtime_ns, st.st_size), body, etag, st.st_mtime)
        self._cached = cached  # one assignment: concurrent requests see old or new, whole
        return cached


def accepts_gzip() -> bool:
    """The request's ``Accept-Encoding`` allows gzip (``gzip;q=0`` refuses it)."""
    return request.accept_encodings["gzip"] > 0


def init_app(app: Flask) -> None:
    """Serve the snippet gzip-compressed where accepted; every other static file as before."""
    snippet = CompressedFile(os.path.join(app.static_folder or "", SNIPPET))

    def static(filename: str) -> Response:
        if filename != SNIPPET:
            return app.send_static_file(filename)
        gz = None
        if accepts_gzip():
            with contextlib.suppress(OSError):  # not there: Flask's view answers its 404
                gz = snippet.get()
        if gz is None:
            resp = app.send_static_file(filename)
        else:
            resp = send_file(io.BytesIO(gz.body), mimetype="text/javascript",
                             download_name=os.path.basename(SNIPPET), etag=gz.etag,
                             last_modified=gz.mtime, conditional=True)
            resp.headers["Content-Encoding"] = "gzip"
        resp.vary.add("Accept-Encoding")
        return resp

    app.view_functions["static"] = static
