"""Building event records from request facts, as pure functions (DESIGN 1.1, 5).

A view hands :func:`build_pageview` the raw parameters and headers it read; what comes
back holds only scrubbed, allow-listed values. No raw User-Agent, address, query string
or cookie value can reach the store through here. The small pure helpers are cached: real
traffic repeats the same origins, referrers, paths and languages.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sdk.scrub import EMAIL, IP, TOKEN, PathPatterns, identifying_kinds, scrub_path, scrub_text

from .agents import parse_agent

#: The fields of an event record, in storage order.
FIELDS = ("ts", "kind", "name", "site", "path", "referrer_host", "utm_source", "utm_medium",
          "utm_campaign", "campaign", "list", "link", "recipient", "browser", "browser_major",
          "os", "device", "lang", "agent", "purposes", "revision", "session_id", "visitor_id")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
MAX_PARAM = 2048  # longer page or referrer URLs are cut before parsing
MAX_NAME = 64
MAX_UTM = 100
MAX_ID = 128  # campaign, list and link ids (sdk.tokens.MAX_FIELD_LENGTH)
#: The snippet (static/js/cleargif.js, ``CAP``) cuts the path and the event name at this
#: many characters: a value that long may have lost its end.
SNIPPET_CAP = 1024
_HOST_RE = re.compile(r"^[a-z0-9.-]{1,253}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True, slots=True)
class PageInput:
    """What a page-view request says, raw."""

    page: str | None
    referrer: str | None
    event: str | None
    utm: Mapping[str, str]
    origin: str | None
    referer_header: str | None
    user_agent: str | None
    accept_language: str | None


@functools.lru_cache(maxsize=8192)
def host_of(url: str | None) -> str | None:
    """The lower-case host of an absolute http(s) URL, without port or userinfo."""
    if not url:
        return None
    try:
        parts = urlsplit(url[:MAX_PARAM].strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    host = host.rstrip(".")
    return host if _HOST_RE.match(host) or ":" in host else None


def site_of(inp: PageInput) -> str | None:
    """The site a hit belongs to: an absolute ``p``, else Origin, else Referer."""
    return host_of(inp.page) or host_of(inp.origin) or host_of(inp.referer_header)


@functools.lru_cache(maxsize=1024)
def target_site(url: str | None) -> str | None:
    """The host of a click target as stored: ``:ip`` for an address; scrubbed when it
    holds an address, an IP or a long number (``call-4155550132.example.com`` is
    ``call-:num.example.com``); as it is otherwise (``xn--hxajbheg2az3al``, a Greek IDN,
    is a name, not a token)."""
    host = host_of(url)
    if host is None:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if identifying_kinds(host):
            return scrub_text(host, max_len=253) or None
        return host
    return IP


def drop_partial_tail(text: str) -> str:
    """``text`` without its last run (back to the last ``/`` or white space).

    For a value that was cut, by the snippet or by a cap here: the cut may have gone
    through an address (``jane.doe@g``), which no pattern recognises any more.
    """
    for i in range(len(text) - 1, -1, -1):
        if text[i] == "/" or text[i].isspace():
            return text[:i + 1]
    return ""


def _cut_page(page: str) -> str:
    """``page`` capped at :data:`MAX_PARAM`, its partial end dropped when it was (or may
    have been) cut: the last ``utm_*`` pair when the cut is in the query, the last path
    segment otherwise."""
    if len(page) != SNIPPET_CAP and len(page) <= MAX_PARAM:
        return page  # the snippet cuts at exactly SNIPPET_CAP: longer came whole
    text = page[:MAX_PARAM]
    if "#" in text:
        return text  # the cut is in the fragment, which is never kept
    query = text.find("?")
    if query >= 0:
        return text[:max(text.rfind("&"), query)]
    return drop_partial_tail(text)


def split_page(page: str | None) -> tuple[str, dict[str, str]]:
    """A page URL or path into ``(path, utm)``; the query is dropped but for ``utm_*``.

    A value exactly :data:`SNIPPET_CAP` long (the snippet's cut), or over
    :data:`MAX_PARAM`, may have been cut: its partial last segment or ``utm_*`` pair is
    dropped (see :func:`_cut_page`).
    """
    text = _cut_page(page or "/").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "/", {}
    path = parts.path if (parts.scheme or parts.netloc) else text.split("?")[0].split("#")[0]
    # "+" is kept (unquote, not unquote_plus) until after scrubbing, so that a plus-addressed
    # email in a raw query is still seen whole.
    utm = {}
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key in UTM_KEYS and value:
            utm[key] = unquote(value)
    return path or "/", utm


@functools.lru_cache(maxsize=8192)
def referrer_host(referrer: str | None, site: str | None) -> str | None:
    """The referrer's host, scrubbed; None for internal navigation or none at all."""
    host = host_of(referrer)
    if host is None or host == site:
        return None
    return scrub_text(host, max_len=253)


@functools.lru_cache(maxsize=1024)
def primary_lang(accept_language: str | None) -> str | None:
    """The primary subtag of the first language in ``Accept-Language``."""
    if not accept_language:
        return None
    first = accept_language[:64].split(",")[0].split(";")[0].strip().lower()
    primary = first.split("-")[0]
    return primary if _LANG_RE.match(primary) else None


@functools.lru_cache(maxsize=4096)
def clean_name(value: str | None, default: str = "pageview") -> str:
    """An event name, scrubbed and capped.

    A name longer than ``4 * MAX_NAME`` (or cut by the snippet) loses its partial last
    word before scrubbing; one that is a single such run is stored as ``:token``.
    """
    raw = (value or "").strip()
    if not raw:
        return default
    text = unquote(raw)
    if len(text) > MAX_NAME * 4 or len(raw) == SNIPPET_CAP:
        text = drop_partial_tail(text[:MAX_NAME * 4]).strip()
        if not text:
            return TOKEN
    return scrub_text(text, max_len=MAX_NAME)


@functools.lru_cache(maxsize=4096)
def clean_utm(value: str | None) -> str | None:
    """A ``utm_*`` value, scrubbed and capped.

    A value longer than ``4 * MAX_UTM`` loses its partial last word before scrubbing.
    ``+`` is a space in a query: the value is scrubbed before it becomes one (a
    plus-addressed email is seen whole) and again in the form that is stored.
    """
    if not value:
        return None
    text = value.strip()
    if len(text) > MAX_UTM * 4:
        text = drop_partial_tail(text[:MAX_UTM * 4])
    text = scrub_text(text, max_len=MAX_UTM * 8).replace("+", " ").lower()
    return scrub_text(text, max_len=MAX_UTM).strip() or None


@functools.lru_cache(maxsize=4096)
def clean_id(value: str) -> str:
    """A campaign, list or link id as stored: scrubbed like free text (DESIGN 1.1).

    The SDK refuses ids this would change, so theirs are stored as sent; tokens made by
    other code may still carry an address or a number. Campaign sends and reports look
    names up through this too, so they keep matching the events. An ``@`` the scrubber
    leaves (no address around it, such as a handle ``@jane``) makes the whole id
    ``:email``: the SDK never sends one, so nothing readable is lost.
    """
    scrubbed = scrub_text(value, max_len=MAX_ID)
    return EMAIL if "@" in scrubbed or "\uff20" in scrubbed else scrubbed


# Paths repeat (a site has few pages); PathPatterns is hashable.
_scrub_path = functools.lru_cache(maxsize=8192)(scrub_path)


def empty_record() -> dict[str, Any]:
    """A record with every field present and None."""
    return dict.fromkeys(FIELDS)


def build_pageview(inp: PageInput, *, now: float, site: str, purposes: list[str],
                   revision: int, session_id: str | None, visitor_id: str | None,
                   patterns: PathPatterns | None = None) -> dict[str, Any]:
    """The record of one page view or event.

    ``visitor_id`` is recorded only by callers that checked analytics and personalization
    are both granted; ``session_id`` only with analytics (see :func:`consent.hit_policy`).
    """
    path, utm_in_page = split_page(inp.page)
    utm = {**utm_in_page, **{k: v for k, v in inp.utm.items() if k in UTM_KEYS and v}}
    name = clean_name(inp.event)
    agent = parse_agent(inp.user_agent)
    record = empty_record()
    record.update(
        ts=int(now),
        kind="pageview" if name == "pageview" else "event",
        name=name,
        site=site,
        path=_scrub_path(path, patterns),
        referrer_host=referrer_host(inp.referrer, site),
        utm_source=clean_utm(utm.get("utm_source")),
        utm_medium=clean_utm(utm.get("utm_medium")),
        utm_campaign=clean_utm(utm.get("utm_campaign")),
        browser=agent.browser,
        browser_major=agent.browser_major,
        os=agent.os,
        device=agent.device,
        lang=primary_lang(inp.accept_language),
        purposes=",".join(purposes),
        revision=revision,
        session_id=session_id,
        visitor_id=visitor_id if session_id else None,
    )
    return record


#: The name of the record of a fetch of an unsubscribe page (``GET /u/…``): a click that
#: is no link's, kept only so that reports can tell a scanner's burst.
UNSUBSCRIBE_PAGE = "unsubscribe_page"


def build_email_event(*, kind: str, now: float, campaign: str, list_id: str,
                      recipient: str | None, agent_verdict: str, user_agent: str | None,
                      accept_language: str | None, link: str | None = None,
                      target: str | None = None,
                      patterns: PathPatterns | None = None,
                      name: str | None = None) -> dict[str, Any]:
    """The record of an email open or click (DESIGN 5).

    ``name`` is the kind, but for the fetch of an unsubscribe page (kind ``click``,
    name :data:`UNSUBSCRIBE_PAGE`, no link): reports count it in no open or click, only
    in telling a scanner's burst.

    ``recipient`` is given only for mails sent with per-recipient tracking. A click keeps
    its link id, the target's host (in ``site``, by :func:`target_site`: ``:ip`` for an
    address, otherwise scrubbed) and its scrubbed path without query (in ``path``); never
    the target's query string or fragment. Campaign, list and link ids
    are scrubbed by :func:`clean_id`: tokens come from senders' code, not only this SDK.
    """
    agent = parse_agent(user_agent)
    record = empty_record()
    record.update(
        ts=int(now), kind=kind, name=name or kind, campaign=clean_id(campaign),
        list=clean_id(list_id),
        recipient=recipient, agent=agent_verdict, browser=agent.browser,
        browser_major=agent.browser_major, os=agent.os, device=agent.device,
        lang=primary_lang(accept_language), purposes="",
    )
    if kind == "click" and target:
        path, _ = split_page(target)
        record.update(link=clean_id(link) if link else None, site=target_site(target),
                      path=scrub_path(path, patterns))
    return record
