"""Subject access and erasure in the admin API (scope ``pii``), every call audited.

``GET /api/v1/subjects/<kind>/<id>[?reason=…]`` answers everything held about the
subject as JSON (an unknown subject gets empty sections, not an error);
``DELETE /api/v1/subjects/<kind>/<id>?reason=…[&events=strip]`` erases it but its
suppression entries. ``kind`` is ``account``, ``recipient``, ``visitor`` or ``consent``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from ... import clock
from ...consent.receipts import sealer
from ...extension import ext
from ...privacy import audit
from ...privacy.subjects import (
    KINDS,
    Stores,
    Subject,
    SubjectError,
    erase_subject,
    erasure_reason,
    export_counts,
    export_subject,
    parse_subject,
)
from ..responses import json_error
from .admin import require

bp = Blueprint("subjects", __name__, url_prefix="/api/v1")


def _subject(kind: str, subject_id: str) -> Subject | Response:
    """The subject named by the path, or the 4xx answer that explains what is wrong."""
    if kind not in KINDS:
        return json_error(f"Unknown subject kind {kind[:40]!r}; use /api/v1/subjects/"
                          "account|recipient|visitor|consent/<id>.", 404)
    try:
        return parse_subject(kind, subject_id)
    except SubjectError as exc:
        return json_error(str(exc), 400)


def _audit(action: str, subject: Subject, reason: str | None,
           detail: dict[str, Any]) -> None:
    """One audit entry naming the request's token as the actor."""
    audit.log_access(action, subject_kind=subject.kind, subject_id=subject.id,
                     reason=reason, detail=detail,
                     actor=audit.token_actor(g.api_token.name))


def _stores() -> Stores:
    col = ext()
    return Stores(col.events, col.identity, current_app.config["IDENTITY_URL"],
                  lambda: sealer(col.receipt_keys))


@bp.get("/subjects/<kind>/<path:subject_id>")
@require("pii")
def export(kind: str, subject_id: str) -> Response:
    """Everything held about one subject."""
    subject = _subject(kind, subject_id)
    if isinstance(subject, Response):
        return subject
    try:
        why = audit.check_reason(request.args.get("reason"), subject_id=subject.id)
    except audit.AuditError as exc:
        return json_error(str(exc), 400)
    history = audit.read(ext().identity, subject_hmacs=audit.subject_hmacs(
        current_app.config, subject.kind, subject.id))
    document = export_subject(subject, _stores(), now=clock.now(), history=history)
    _audit(audit.EXPORT, subject, why, export_counts(document))
    return jsonify(document)


@bp.delete("/subjects/<kind>/<path:subject_id>")
@require("pii")
def erase(kind: str, subject_id: str) -> Response:
    """Erase one subject but its suppression entries; ``reason`` is required."""
    subject = _subject(kind, subject_id)
    if isinstance(subject, Response):
        return subject
    events = request.args.get("events", "delete")
    if events not in ("delete", "strip"):
        return json_error("events must be delete (the default) or strip (keep the events "
                          "without their ids).", 400)
    if not request.args.get("reason", "").strip():
        return json_error("Say why: add ?reason=request, ?reason=child (data of a child "
                          "under 13) or a few words.", 400)
    try:
        why = erasure_reason(request.args.get("reason"), subject)
    except audit.AuditError as exc:
        return json_error(str(exc), 400)
    audit.subject_keyring(current_app.config)  # no key, no audit entry: fail before erasing
    result = erase_subject(subject, _stores(), reason=why, now=clock.now(),
                           strip_events=events == "strip")
    _audit(audit.ERASE, subject, why, result.counts())
    body = {"subject": {"kind": subject.kind}, "reason": why, **result.counts()}
    warning = result.warning()
    if warning:
        body["warning"] = warning
    return jsonify(body)
