"""The admin API under ``/api/v1``: bearer tokens with scopes (DESIGN 3).

``aggregate`` for analysts, ``sender`` for email senders, ``pii`` for the privacy
officer. A missing, unknown or revoked token gets 401; a token without the scope, 403; a
client over the ``api`` rate limit, 429. A store failure is a 503 with ``Retry-After``
(never the 400 of bad input: that would tell a sender not to retry).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request

from ... import clock
from ...analytics.export import export as aggregate_export
from ...analytics.query import Query, QueryError, parse_day, parse_dimensions, parse_filter
from ...config import MAX_REVISION
from ...errors import CleargifError, ConfigError, StorageError
from ...extension import ext
from ...mail import campaigns
from ...privacy import apitokens, audit
from ..requests import json_body, over_limit
from ..responses import json_error, too_many

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Response])


def require(scope: str) -> Callable[[F], F]:
    """Let the view run only for a live token holding ``scope``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            # Before the token is looked up: the limit also slows down guessing one.
            wait = over_limit("api")
            if wait is not None:
                return too_many(wait)
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                resp = json_error("This endpoint needs an API token: send 'Authorization: "
                                  "Bearer <token>' (make one with `cleargif token new`).", 401)
                resp.headers["WWW-Authenticate"] = 'Bearer realm="cleargif"'
                return resp
            found = apitokens.lookup(ext().identity, token.strip())
            if found is None:
                resp = json_error("The API token is unknown or revoked.", 401)
                resp.headers["WWW-Authenticate"] = 'Bearer realm="cleargif", ' \
                                                   'error="invalid_token"'
                return resp
            if scope not in found.scopes:
                return json_error(f"The token {found.name!r} lacks the {scope!r} scope this "
                                  "endpoint needs.", 403)
            g.api_token = found
            resp = view(*args, **kwargs)
            resp.headers["Cache-Control"] = "no-store"
            return resp

        return wrapper  # type: ignore[return-value]

    return decorator


def parse_revision(text: str | None) -> int | None:
    """A policy revision from a query parameter; ValueError when it is not one."""
    if not text:
        return None
    value = int(text)
    if not 1 <= value <= MAX_REVISION:
        raise ValueError(text)
    return value


def flag(name: str) -> bool:
    """A boolean query parameter (``1``, ``true``, ``yes``)."""
    return request.args.get(name, "").lower() in ("1", "true", "yes")


@bp.get("/aggregate")
@require("aggregate")
def aggregate() -> Response:
    """The export's aggregates as JSON: ``since``, ``until``, ``by`` (``day`` unless
    given, as in the CLI; empty for totals), ``revision``, ``include_bots``,
    ``filter=dimension:value`` as often as needed, and ``daily`` (read summarised days
    from daily totals, as the dashboard does)."""
    col = ext()
    try:
        revision = request.args.get("revision")
        query = Query(since=parse_day(request.args.get("since"), "since"),
                      until=parse_day(request.args.get("until"), "until"),
                      by=parse_dimensions(request.args.get("by", "day")),
                      revision=parse_revision(revision),
                      include_bots=flag("include_bots"), timezone=col.settings.timezone,
                      filters=tuple(parse_filter(f) for f in request.args.getlist("filter")),
                      daily=flag("daily"))
    except QueryError as exc:
        return json_error(str(exc).replace("--", ""), 400)
    except ValueError:
        return json_error(f"revision must be a whole number from 1 to {MAX_REVISION}.", 400)
    try:
        meta, result = aggregate_export(col.events, query, col.config["K_MIN"])
    except ConfigError as exc:  # roll-ups filed in another TIMEZONE
        return json_error(str(exc).replace("--", ""), 409)
    return jsonify(meta=meta, rows=result.rows)


#: Largest request bodies: a sends record is a few words; a suppression batch holds up to
#: 10,000 entries of a list and a recipient id (at most 128 characters each).
MAX_SENDS_BODY = 4 * 1024
MAX_SUPPRESSIONS_BODY = 4 * 1024 * 1024


def _body(max_bytes: int) -> tuple[Any, Response | None]:
    """The JSON body (whatever its Content-Type), or a 400/413 answer saying what is wrong."""
    try:
        return json_body(max_bytes), None
    except ValueError as exc:
        return None, json_error(str(exc), 413 if "larger" in str(exc) else 400)


@bp.post("/campaigns/<campaign>/sends")
@require("sender")
def campaign_sends(campaign: str) -> Response:
    """Record sends: ``{"count": N, "list": "…", "mode": "individual" | "aggregate" |
    "none"}`` (``list`` and ``mode`` optional)."""
    col = ext()
    body, problem = _body(MAX_SENDS_BODY)
    if problem is not None:
        return problem
    if not isinstance(body, dict) or "count" not in body:
        return json_error('Send a JSON object such as {"count": 1200, "list": "news"}.', 400)
    try:
        total = campaigns.record_sends(col.events, campaign, body["count"], body.get("list"),
                                       int(clock.now()), body.get("mode"))
    except StorageError:
        raise  # a store failure: 503 with Retry-After (errors.storage_error)
    except CleargifError as exc:
        return json_error(str(exc), 400)
    return jsonify(campaign=campaign, sends=total)


@bp.get("/campaigns/<campaign>")
@require("aggregate")
def campaign_report(campaign: str) -> Response:
    """A campaign's report (sends, opens by agent, open rate, clicks, unsubscribes)."""
    col = ext()
    try:
        if not campaigns.known(col.events, col.identity, campaign):
            return json_error(campaigns.unknown_message(col.events, campaign), 404)
        return jsonify(col.campaign_reports.report(col.events, col.identity, campaign,
                                                   col.config["K_MIN"],
                                                   col.config["EMAIL_BURST_SECONDS"]))
    except StorageError:
        raise  # a store failure: 503 with Retry-After (errors.storage_error)
    except CleargifError as exc:
        return json_error(str(exc), 400)


@bp.get("/suppressions")
@require("sender")
def suppressions() -> Response:
    """Suppression entries since ``since`` (ISO-8601): recipients not to mail again, in
    pages of 1000; ``next`` is the ``after`` cursor of the following page."""
    col = ext()
    try:
        since = campaigns.parse_since(request.args.get("since"))
    except StorageError:
        raise  # a store failure: 503 with Retry-After (errors.storage_error)
    except CleargifError as exc:
        return json_error(str(exc), 400)
    try:
        entries, nxt = campaigns.suppressions_since(col.identity, since,
                                                    request.args.get("after"), campaigns.PAGE)
    except StorageError:
        raise  # a store failure: 503 with Retry-After (errors.storage_error)
    except CleargifError as exc:
        return json_error(str(exc), 400)
    audit.log_access(audit.SUPPRESSIONS_READ, detail={"count": len(entries), "since": since})
    return jsonify(suppressions=entries, count=len(entries), next=nxt)


@bp.post("/suppressions")
@require("sender")
def add_suppressions() -> Response:
    """Add entries the sender learned elsewhere (bounces, complaints):
    ``{"suppressions": [{"list": "news" | "*", "recipient": "…", "campaign": "…",
    "reason": "bounce"}]}`` (``campaign`` optional; ``reason`` one of
    :data:`~collector.mail.campaigns.REASONS`, ``manual`` when left out)."""
    from sdk.errors import InvalidRecipient
    from sdk.pseudonym import check_recipient

    col = ext()
    body, problem = _body(MAX_SUPPRESSIONS_BODY)
    if problem is not None:
        return problem
    items = body.get("suppressions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or len(items) > 10_000:
        return json_error('Send {"suppressions": [{"list": "news", "recipient": "…"}]} with '
                          "1 to 10000 entries.", 400)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            return json_error("Each suppression must be an object with list and recipient.",
                              400)
        try:
            list_id = campaigns.check_id(item.get("list", ""), "list")
            recipient = check_recipient(item.get("recipient", ""))
            campaign = item.get("campaign")
            if campaign is not None:
                campaigns.check_name(campaign, "campaign")
            reason = campaigns.check_reason(item.get("reason", "manual"))
        except (CleargifError, InvalidRecipient) as exc:
            return json_error(str(exc), 400)
        entries.append((list_id, recipient, campaign, reason))
    # Every entry was checked first: a bad one leaves nothing half-written.
    added = campaigns.suppress_many(col.identity, entries, int(clock.now()))
    return jsonify(added=added)
