"""Email endpoints: open pixel, tracked links and unsubscribe (DESIGN 3).

None of them reads or sets cookies: they are fetched by mail clients, image proxies and
link scanners, and a cookie would only link an email reader to a web visitor. Forged or
mangled tokens record nothing; only the classifier's verdict about who fetched is kept.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from sdk.pseudonym import check_recipient
from sdk.tokens import ClickToken, UnsubscribeToken

from ... import clock
from ...errors import CleargifError, ExpiredToken, InvalidToken, StorageError
from ...extension import ext
from ...ingest.agents import classify_fetch
from ...ingest.pipeline import Drop, count_drop
from ...ingest.records import UNSUBSCRIBE_PAGE, build_email_event, clean_id
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
    config = ext().config
    return classify_fetch(kind=kind, user_agent=request.headers.get("User-Agent"),
                          method=request.method, headers=dict(request.headers),
                          seconds_since_send=clock.now() - sent_at,
                          click_too_soon=config["EMAIL_CLICK_TOO_SOON_SECONDS"],
                          open_too_soon=config["EMAIL_OPEN_TOO_SOON_SECONDS"])


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


def _redirect(target: str) -> Response:
    return Response(status=302, headers={"Location": target, "Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer"})


@bp.route("/c/<token>", methods=["GET", "HEAD"])
def click(token: str) -> Response:
    """A tracked link: 302 to the signed http(s) target; a bad token never redirects.

    A token past its 400 days still leads to its target, uncounted: the signature proves
    the target as well as ever, and an old mail's link should not break.
    """
    col = ext()
    try:
        clicked = col.token_codec.load_click(token, now=clock.now())
    except InvalidToken as exc:
        if isinstance(exc, ExpiredToken) and isinstance(exc.token, ClickToken):
            return _redirect(exc.token.target)
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
    return _redirect(clicked.target)


def _record_page_fetch(unsub: UnsubscribeToken) -> None:
    """Record that the unsubscribe page of a mail was fetched, for reports to tell a
    scanner's burst (a scanner fetches the pixel, every link and this page at once).

    Only for a recipient whose opens or clicks of this campaign and list are already
    recorded: an unsubscribe link names its recipient in every tracking mode, but the
    event store may hold a recipient only for mails tracked individually. The record
    changes nothing else, and is lost rather than the page when the store fails.
    """
    col = ext()
    campaign, list_id = clean_id(unsub.campaign), clean_id(unsub.list)
    try:
        recipient = check_recipient(str(unsub.recipient))
        if not col.events.recipient_tracked(campaign, list_id, recipient):
            return
        col.events.add_event(build_email_event(
            kind="click", name=UNSUBSCRIBE_PAGE, now=clock.now(), campaign=unsub.campaign,
            list_id=unsub.list, recipient=recipient,
            agent_verdict=_verdict("click", unsub.sent_at.timestamp()),
            user_agent=request.headers.get("User-Agent"),
            accept_language=request.headers.get("Accept-Language")))
    except CleargifError:  # a recipient the event store may not hold, or a store failure
        return


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
        _record_page_fetch(unsub)
        return page("Unsubscribe?", f"Stop receiving the list “{unsub.list}” at this "
                    "address. Nothing changes until you confirm.", form=True)
    try:
        everything = read_form().get("scope") == "all"
    except ValueError:  # an unreadable body is still a one-click POST: unsubscribe the list
        everything = False
    try:
        campaigns.suppress(col.identity, campaigns.ALL_MAIL if everything else unsub.list,
                           unsub.recipient, unsub.campaign, int(clock.now()), "unsubscribe")
    except StorageError as exc:
        col.store_failed("identity", exc)
        resp = page("Please try again", "We could not record your request just now. Please "
                    "try again in a minute.", 503)
        resp.headers["Retry-After"] = RETRY_AFTER
        return resp
    col.store_recovered("identity")
    what = "any more mail from this sender" if everything else f"the list “{unsub.list}”"
    return page("You are unsubscribed", f"You will not receive {what} again.")
