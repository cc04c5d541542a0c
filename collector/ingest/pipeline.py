"""One place that decides on a hit and stores it, fed with plain request facts
(DESIGN 2, 3, 5).

Both the views (``POST /t``, odd methods on ``/t.gif``) and the lean WSGI path for
``GET /t.gif`` (:class:`collector.ingest.fastpath.PixelFastPath`) read a
:class:`~collector.ingest.facts.HitFacts` and call :func:`process_hit`. A hit that is
answered but not counted says why with a :class:`Drop`.

This path never opens the identity store and never reads ``cg_remember``.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import logging
from dataclasses import dataclass

from .. import clock
from ..consent.registry import CONSENT_COOKIE
from ..consent.rules import (
    ConsentState,
    CookiePlan,
    evaluate,
    header_dnt,
    header_gpc,
    hit_policy,
    plan_cookies,
)
from ..errors import StorageError
from ..extension import Collector, Settings
from .facts import HitFacts
from .records import UTM_KEYS, PageInput, build_pageview, site_of

log = logging.getLogger("cleargif")


class Drop(enum.StrEnum):
    """Why a hit was answered but not counted; stored by name in the dropped counters."""

    #: Not a ``GET``: answered with the GIF, never counted.
    METHOD = "method"
    #: ``Sec-Purpose: prefetch`` (or ``Purpose``): the page may never be shown.
    PREFETCH = "prefetch"
    #: Its site is not in ``SITES``.
    SITE = "site"
    #: From ``EXCLUDE_NETWORKS`` (internal traffic).
    NETWORK = "network"
    #: Consent (and ``ANONYMOUS_COUNTING``) allows no record.
    CONSENT = "consent"


def consent_of(col: Collector, cookie: str | None, dnt: str | None, gpc: str | None,
               at: float) -> ConsentState:
    """The consent in force for a request's ``cg_consent`` cookie and headers."""
    s = col.settings
    return evaluate(col.load_consent(cookie), revision=s.revision,
                    consent_days=s.consent_days, now=at, dnt=header_dnt(dnt, s.honor_dnt),
                    gpc=header_gpc(gpc))


@dataclass(frozen=True, slots=True)
class HitOutcome:
    """What the response must say: stored (or not counted), or failed; and the cookies."""

    failed: bool
    plan: CookiePlan
    reason: Drop | None  #: why it was not counted, if it was not


def drop_reason(col: Collector, facts: HitFacts, site: str | None,
                count: bool) -> Drop | None:
    """Why a hit is not counted (it is still answered), or None."""
    s = col.settings
    if not count:
        return Drop.METHOD
    if facts.prefetch:
        return Drop.PREFETCH
    # Only SITES count: the Host header is the client's to choose, so it vouches for nothing.
    if site is None or site not in s.sites:
        return Drop.SITE
    if s.exclude_networks and _excluded(s, facts.remote_addr):
        return Drop.NETWORK
    return None


def _excluded(s: Settings, addr: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((addr or "").split("%")[0])
    except ValueError:
        return False
    # A dual-stack server sees IPv4 clients as ::ffff:a.b.c.d; 10.0.0.0/8 must still match.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return any(ip in net or (mapped is not None and mapped in net)
               for net in s.exclude_networks)


def process_hit(col: Collector, facts: HitFacts, count: bool = True) -> HitOutcome:
    """Decide on one hit, store it if consent and filters allow, plan the cookies.

    A hit that should be stored but cannot be is reported as failed, with no new cookies,
    so that the answer (503) never claims what did not happen.
    """
    at = clock.now()
    s = col.settings
    state = consent_of(col, facts.cookies.get(CONSENT_COOKIE), facts.dnt, facts.gpc, at)
    p = facts.params
    inp = PageInput(page=p.get("p") or None, referrer=p.get("r") or None,
                    event=p.get("e") or None,
                    utm={k: p[k] for k in UTM_KEYS if p.get(k)},
                    origin=facts.origin, referer_header=facts.referer,
                    user_agent=facts.user_agent, accept_language=facts.accept_language)
    site = site_of(inp)
    reason = drop_reason(col, facts, site, count)
    plan = plan_cookies(state, facts.cookies, now=at, visitor_days=s.visitor_days,
                        registry=col.registry, ids=col.id_signer,
                        issue=reason is None)
    if reason is not None:
        # A lost drop counter is not worth a retry from the browser.
        with contextlib.suppress(StorageError):
            col.events.count_dropped(local_day(s, at), reason)
        return HitOutcome(False, plan, reason)
    policy = hit_policy(state, s.counting)
    if not policy.store:
        return HitOutcome(False, plan, Drop.CONSENT)
    ids = policy.with_ids
    record = build_pageview(inp, now=at, site=site or facts.host,
                            purposes=state.granted_list if ids else [], revision=s.revision,
                            session_id=plan.session_id if ids else None,
                            visitor_id=plan.visitor_id if ids else None,
                            patterns=col.patterns)
    try:
        col.events.add_event(record)
    except StorageError as exc:
        log.error("hit not stored: %s", exc)
        return HitOutcome(True, CookiePlan(expire=plan.expire), None)
    return HitOutcome(False, plan, None)


def local_day(s: Settings, at: float) -> str:
    """The day of ``at`` in ``TIMEZONE``, as the dropped counters file it."""
    return clock.local_day(at, s.tz).isoformat()
