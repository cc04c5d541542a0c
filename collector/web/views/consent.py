"""Consent endpoints: ``/consent`` and ``/consent/config`` (DESIGN 2, 3, 4).

Every decision writes a receipt before its cookie is set: a choice that cannot be
proven is not recorded at all (503).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ... import clock
from ...config import OPTIONAL_PURPOSES, PURPOSES
from ...consent.receipts import build_receipt, canonical, iso
from ...consent.registry import CONSENT_COOKIE, cookie_table, services
from ...consent.rules import (
    ChoiceRequest,
    ConsentPayload,
    ConsentState,
    decide,
    evaluate,
    infer_source,
    new_id,
    parse_request,
    plan_cookies,
)
from ...consent.texts import COUNTING_DNT, LANGUAGES, notice, notice_hash, pick_language
from ...errors import StorageError
from ...extension import Collector, ext
from ..cookies import apply_plan, consent_state, set_cookie
from ..origins import add_cors, cross_site_refusal, origin_allowed, preflight
from ..requests import json_body, over_limit, read_form
from ..responses import json_error, too_many, unavailable

bp = Blueprint("consent", __name__)

MAX_BODY = 4 * 1024
TRUE_WORDS = ("1", "true", "on", "yes", "granted")


@bp.route("/consent", methods=["GET", "POST", "DELETE", "OPTIONS"])
def consent() -> Response:
    """Read, record or withdraw the visitor's choice."""
    col = ext()
    s = col.settings
    if request.method == "OPTIONS":
        return preflight(s, "GET, POST, DELETE")
    if request.method == "GET":
        at = clock.now()
        state = consent_state(col, request, at)
        plan = plan_cookies(state, request.cookies, now=at, visitor_days=s.visitor_days,
                            registry=col.registry, ids=col.id_signer, issue=False)
        return add_cors(apply_plan(jsonify(state_json(state)), s, plan), s, request)
    wait = over_limit("consent")
    if wait is not None:
        return add_cors(too_many(wait), s, request)
    refusal = cross_site_refusal(s, request)
    if refusal:
        return add_cors(json_error(refusal, 403), s, request)
    if request.method == "DELETE":
        return add_cors(_record(col, {}, False, None, "api" if _is_api() else "dialog"),
                        s, request)
    try:
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            choice = _form_choice(read_form())
        else:
            choice = parse_request(json_body(MAX_BODY))
    except ValueError as exc:
        return add_cors(json_error(str(exc), 400), s, request)
    source = infer_source(choice.purposes, choice.source, via_api=_is_api(),
                          gpc_override=choice.gpc_override)
    resp = _record(col, choice.purposes, choice.gpc_override, choice.lang, source,
                   page_gpc=choice.gpc)
    target = request.form.get("return_to") if request.form else None
    if target and resp.status_code == 200 and _same_site_target(target):
        redirected = Response(status=303, headers={"Location": target})
        for value in resp.headers.getlist("Set-Cookie"):
            redirected.headers.add("Set-Cookie", value)
        return redirected
    return add_cors(resp, s, request)


def _is_api() -> bool:
    return "Sec-Fetch-Site" not in request.headers and "Origin" not in request.headers


def _form_choice(form: Any) -> ChoiceRequest:
    """A no-script form: ``choice=accept_all|reject_all`` or one checkbox per purpose."""
    if not any(name in form for name in ("choice", "gpc_override", *OPTIONAL_PURPOSES)):
        # An empty or unreadable body (a multipart one without its boundary, say) is no
        # decision: recording it would write a refusal nobody made.
        raise ValueError('The form holds no choice; send "choice" (accept_all, reject_all '
                         'or save) and, to save, one checkbox per purpose.')
    choice = form.get("choice", "")
    if choice == "accept_all":
        return ChoiceRequest({p: True for p in OPTIONAL_PURPOSES}, False, form.get("lang"),
                             "banner-accept-all")
    if choice == "reject_all":
        return ChoiceRequest({p: False for p in OPTIONAL_PURPOSES}, False, form.get("lang"),
                             "banner-reject-all")
    if choice not in ("", "save"):
        raise ValueError('"choice" must be accept_all, reject_all or save.')
    purposes = {p: form.get(p, "").lower() in TRUE_WORDS for p in OPTIONAL_PURPOSES}
    override = form.get("gpc_override", "").lower() in TRUE_WORDS
    return ChoiceRequest(purposes, override, form.get("lang"), "dialog")


def _same_site_target(target: str) -> bool:
    """Whether a no-script form may be sent back to ``target``: an absolute http(s) URL
    (no user name, whitespace, control characters or backslash, as for email click
    targets) on a listed origin. Anything else gets the JSON answer, never a redirect."""
    from urllib.parse import urlsplit

    from sdk.tokens import check_target

    try:
        parts = urlsplit(check_target(target))
    except ValueError:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin_allowed(ext().settings, request, origin)


def _record(col: Collector, purposes: dict[str, bool], gpc_override: bool, lang: str | None,
            source: str, *, page_gpc: bool = False) -> Response:
    """Write a receipt for the decision, then set ``cg_consent`` and the purpose cookies.

    :param page_gpc: the page saw GPC that the request's headers do not carry; it counts
        as GPC for this decision and its receipt (GPC only ever denies).
    """
    s = col.settings
    signer = col.consent_signer  # fail closed before anything is written when no key exists
    at = clock.now()
    current = consent_state(col, request, at)
    if page_gpc and not current.gpc:
        current = dataclasses.replace(current, gpc=True)
    decision = decide(purposes, source=source, gpc_override=gpc_override, dnt=current.dnt,
                      gpc=current.gpc)
    old = col.load_consent(request.cookies.get(CONSENT_COOKIE))
    # The subject id follows the browser across decisions, so its receipts can be found.
    subject = old.subject_id if old is not None else new_id()
    receipt_id = new_id()
    chosen_lang = pick_language(lang or request.accept_languages.best, s.default_lang)
    receipt = build_receipt(receipt_id=receipt_id, subject_id=subject, now=at,
                            revision=s.revision,
                            notice_sha256=notice_hash(chosen_lang, s.counting, s.revision,
                                                      dnt=current.dnt),
                            lang=chosen_lang, decision=decision, source=source,
                            gpc=current.gpc, dnt=current.dnt)
    try:
        col.identity.append_receipt(receipt_id, subject, int(at), canonical(receipt),
                                    col.receipt_keys.sign)
    except StorageError as exc:
        col.store_failed("identity", exc)
        return unavailable("Your choice could not be recorded; please try again later.")
    col.store_recovered("identity")
    if col.metrics is not None:
        col.metrics.decisions.labels(source=source).inc()
    payload = ConsentPayload(subject_id=subject, receipt_id=receipt_id, revision=s.revision,
                             granted=decision.granted, decided_at=int(at),
                             gpc_override=decision.gpc_override)
    state = evaluate(payload, revision=s.revision, consent_days=s.consent_days, now=at,
                     dnt=current.dnt, gpc=current.gpc)
    resp = jsonify(state_json(state))
    set_cookie(resp, s, CONSENT_COOKIE, str(signer.dumps(payload.to_json())),
               s.consent_days * 86400)
    plan = plan_cookies(state, request.cookies, now=at, visitor_days=s.visitor_days,
                        registry=col.registry, ids=col.id_signer)
    return apply_plan(resp, s, plan)


@bp.route("/consent/config", methods=["GET", "OPTIONS"])
def consent_config() -> Response:
    """What the banner needs: purposes and texts, the cookie table, revision, counting."""
    col = ext()
    s = col.settings
    if request.method == "OPTIONS":
        return preflight(s, "GET")
    lang = pick_language(request.args.get("lang") or request.accept_languages.best,
                         s.default_lang)
    body: dict[str, Any] = {
        "revision": s.revision,
        "consent_days": s.consent_days,
        "policy_url": s.policy_url,
        "counting": s.counting,
        "purposes": list(PURPOSES),
        "lang": lang,
        "languages": list(LANGUAGES),
        # Both counting sentences: the snippet shows the DNT one when GET /consent says DNT,
        # so this answer stays the same for every visitor.
        "texts": {**notice(lang, s.counting), "counting_dnt": COUNTING_DNT[lang][s.counting]},
        "notice_sha256": notice_hash(lang, s.counting, s.revision),
        "cookies": cookie_table(col.registry),
        "services": services(col.config),
    }
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-cache"
    return add_cors(resp, s, request)


def state_json(state: ConsentState) -> dict[str, Any]:
    """The public consent state (no ids)."""
    return {"revision": state.revision, "decided": state.decided,
            "purposes": dict(state.purposes),
            "chosen": dict(state.chosen) if state.chosen is not None else None,
            "gpc": state.gpc, "dnt": state.dnt,
            # The dialog's own toggle granted marketing over GPC (the page may see GPC
            # that no header carried, so it needs to know).
            "gpc_override": bool(state.decided and state.payload is not None
                                 and state.payload.gpc_override),
            "decided_at": iso(state.decided_at) if state.decided_at is not None else None}
