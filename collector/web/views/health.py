"""``GET /healthz``: liveness and store reachability."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ...errors import StorageError
from ...extension import ext

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 when both stores answer, else 503 naming the one that failed."""
    col = ext()
    status = {}
    for name, store in (("events", col.events), ("identity", col.identity)):
        try:
            store.ping()
            status[name] = "ok"
        except StorageError as exc:
            status[name] = str(exc)
    ok = all(v == "ok" for v in status.values())
    resp = jsonify(status="ok" if ok else "failing", stores=status)
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
