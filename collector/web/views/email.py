"""Email endpoints: open pixel, tracked links and unsubscribe (DESIGN 3).

None of them reads or sets cookies: they are fetched by mail clients, image proxies and
link scanners, and a cookie would only link an email reader to a web visitor. Forged or
mangled tokens record nothing; only the classifier's verdict about who fetched is kept.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from ... import clock
from ...errors import InvalidToken, StorageError
from ...extension import ext
from ...ingest.agents import classify_fetch
from ...ingest.pipeline import Drop, count_drop
from ...ingest.records import build_email_event
from ...mail import campaigns
from ..requests import over_limit, read_form
from ..responses import RETRY_AFTER, gif_response

bp = Blueprint("email", __name__)

PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff",
                # No page of the collector is ever shown inside another site's frame.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self'; frame-ancestors 'none'"}


def page(title: str, message: str, status: int = 200, form: bool = False) -> Response:
    """A small HTML page without script."""
    resp = Response(render_template("email_page.html", title=title, message=message,
                                    form=form), status=status, mimetype="text/html")
    resp.headers.update(PAGE_HEADERS)
    return resp


def _verdict(kind: str, sent_at: float) -> str:
    return classify_fetch(kind=kind, user_agent=request.headers.get("User-Agent"),
                          method=request.method, headers=dict(request.headers),
                          seconds_since_send=clock.now() - sent_at)


@bp.route("/o/<token>.gif", methods=["GET", "HEAD"])
def open_pixel(token: str) -> Response:
    """An email open: always the GIF; a bad token is not recorded."""
    col = ext()
    try:
        opened = col.token_codec.load_open(token, now=clock.now())
    except InvalidToken:
        return gif_response()
    if over_limit("hits") is not None:
        count_drop(col, Drop.RATE, clock.now())
        return gif_response()
    record = build_email_event(
        kind="open", now=clock.now(), campaign=opened.campaign, list_id=opened.list,
        recipient=opened.recipient, agent_verdict=_verdict("open", opened.sent_at.timestamp()),
        user_agent=request.headers.get("User-Agent"),
        accept_language=request.headers.get("Accept-Language"))
    try:
        col.events.add_event(record)
    except StorageError as exc:
        col.store_failed("events", exc)
        return gif_response(503)
    col.store_recovered("events")
    return gif_response()


@bp.route("/c/<token>", methods=["GET", "HEAD"])
def click(token: str) -> Response:
    """A tracked link: 302 to the signed http(s) target; a bad token never redirects."""
    col = ext()
    try:
        clicked = col.token_codec.load_click(token, now=clock.now())
    except InvalidToken:
        return page("This link is broken", "The link is damaged or too old to follow. Copy "
                    "the address from the email again, or visit the sender's site directly.",
                    400)
    record = build_email_event(
        kind="click", now=clock.now(), campaign=clicked.campaign, list_id=clicked.list,
        recipient=clicked.recipient,
        agent_verdict=_verdict("click", clicked.sent_at.timestamp()),
        user_agent=request.headers.get("User-Agent"),
        accept_language=request.headers.get("Accept-Language"), link=clicked.link,
        target=clicked.target, patterns=col.patterns)
    # The reader still gets where they meant to go if the store fails or the client is
    # over its limit; the click is lost (and the failure logged).
    if over_limit("hits") is not None:
        count_drop(col, Drop.RATE, clock.now())
    else:
        try:
            col.events.add_event(record)
        except StorageError as exc:
            col.store_failed("events", exc)
        else:
            col.store_recovered("events")
    return Response(status=302, headers={"Location": clicked.target,
                                         "Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer"})


@bp.route("/u/<token>", methods=["GET", "HEAD", "POST"])
def unsubscribe(token: str) -> Response:
    """GET shows a confirm page and changes nothing (mail scanners fetch links); POST
    unsubscribes: RFC 8058 one-click (urlencoded, multipart or empty body) or the form."""
    col = ext()
    try:
        unsub = col.token_codec.load_unsubscribe(token)
    except InvalidToken:
        return page("This unsubscribe link is broken", "The link is damaged. Use the "
                    "unsubscribe link of a recent email from this sender, or reply to it and "
                    "ask to be removed.", 400)
    if unsub.recipient is None:
        return page("This link names no subscriber", "This unsubscribe link was made "
                    "without a recipient, so it cannot unsubscribe anyone. Reply to the "
                    "email and ask to be removed.", 400)
    if request.method != "POST":
        return page("Unsubscribe?", f"Stop receiving the list “{unsub.list}” at this "
                    "address. Nothing changes until you confirm.", form=True)
    try:
        everything = read_form().get("scope") == "all"
    except ValueError:  # an unreadable body is still a one-click POST: unsubscribe the list
        everything = False
    try:
        campaigns.suppress(col.identity, campaigns.ALL_MAIL if everything else unsub.list,
                           unsub.recipient, unsub.campaign, int(clock.now()))
    except StorageError as exc:
        col.store_failed("identity", exc)
        resp = page("Please try again", "We could not record your request just now. Please "
                    "try again in a minute.", 503)
        resp.headers["Retry-After"] = RETRY_AFTER
        return resp
    col.store_recovered("identity")
    what = "any more mail from this sender" if everything else f"the list “{unsub.list}”"
    return page("You are unsubscribed", f"You will not receive {what} again.")
