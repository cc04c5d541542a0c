"""One place that decides on a hit and stores it, fed with plain request facts
(DESIGN 2, 3, 5).

Both the views (``POST /t``, odd methods on ``/t.gif``) and the lean WSGI path for
``GET /t.gif`` (:class:`collector.ingest.fastpath.PixelFastPath`) read a
:class:`~collector.ingest.facts.HitFacts` and call :func:`process_hit`. A hit that is
answered but not counted says why with a :class:`Drop`.

This path never opens the identity store and never reads ``cg_remember``.
"""

from __future__ import annotations

import enum
import ipaddress
import time
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
    #: Its client is over the ``hits`` rate limit (``RATE_LIMITS``).
    RATE = "rate"


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
                count: bool, limited: bool = False) -> Drop | None:
    """Why a hit is not counted (it is still answered), or None."""
    s = col.settings
    if not count:
        return Drop.METHOD
    if limited:
        return Drop.RATE
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


def count_drop(col: Collector, reason: Drop, at: float) -> None:
    """Count a hit that was answered but not stored. A lost drop counter is not worth a
    retry from the browser, so a store failure here only goes to the log."""
    if col.metrics is not None:
        col.metrics.dropped.labels(reason=reason.value).inc()
    try:
        col.events.count_dropped(local_day(col.settings, at), reason)
    except StorageError as exc:
        col.store_failed("events", exc)


def rate_limited(col: Collector, address: str | None) -> bool:
    """Whether a hit from ``address`` is over the ``hits`` rate limit (it is then answered
    but not counted)."""
    return col.limits.hit("hits", address, time.monotonic()) is not None


def process_hit(col: Collector, facts: HitFacts, count: bool = True,
                limited: bool = False) -> HitOutcome:
    """Decide on one hit, store it if consent and filters allow, plan the cookies.

    A hit that should be stored but cannot be is reported as failed, with no new cookies,
    so that the answer (503) never claims what did not happen.

    :param limited: its client is over the ``hits`` rate limit: answered, not counted.
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
    reason = drop_reason(col, facts, site, count, limited)
    plan = plan_cookies(state, facts.cookies, now=at, visitor_days=s.visitor_days,
                        registry=col.registry, ids=col.id_signer,
                        issue=reason is None)
    if reason is not None:
        count_drop(col, reason, at)
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
    metrics = col.metrics
    started = time.perf_counter() if metrics is not None else 0.0
    try:
        col.events.add_event(record)
    except StorageError as exc:
        col.store_failed("events", exc)
        return HitOutcome(True, CookiePlan(expire=plan.expire), None)
    if metrics is not None:
        metrics.commit.labels(store="events").observe(time.perf_counter() - started)
        metrics.hits.inc()
    if col.failures.failing("events"):
        col.store_recovered("events")
    return HitOutcome(False, plan, None)


def local_day(s: Settings, at: float) -> str:
    """The day of ``at`` in ``TIMEZONE``, as the dropped counters file it."""
    return clock.local_day(at, s.tz).isoformat()
