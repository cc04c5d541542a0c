"""``GET /healthz``: liveness, and whether each store can commit a write (DESIGN 3:
health means writable)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from ...errors import StorageError
from ...extension import ext

bp = Blueprint("health", __name__)

#: Seconds a failed hit write keeps ``/healthz`` failing while no write has succeeded
#: since: a store whose small test commit passes may still refuse larger ones (a full
#: disk with room left in SQLite's write-ahead log, say).
FAILURE_MEMORY = 10.0


@bp.get("/healthz")
def healthz() -> Response:
    """200 when both stores commit a test write, else 503 naming the failing one with a
    sentence that names no server path."""
    col = ext()
    status = {}
    now = time.monotonic()
    for name, store in (("events", col.events), ("identity", col.identity)):
        try:
            store.check_writable()
        except StorageError as exc:
            col.store_failed(name, exc)
            status[name] = "failing: it cannot commit a write"
            continue
        last = col.failures.last_failure(name)
        if last is not None and now - last < FAILURE_MEMORY:
            status[name] = "failing: writes failed in the last seconds"
        else:
            col.store_recovered(name)
            status[name] = "ok"
    ok = all(v == "ok" for v in status.values())
    resp = jsonify(status="ok" if ok else "failing", stores=status)
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    if not ok:
        resp.headers["Retry-After"] = "30"
    return resp
