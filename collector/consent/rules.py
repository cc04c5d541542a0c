"""Consent decisions as pure functions over plain values (DESIGN 2).

Nothing here reads a request or writes a response: views gather the facts (the verified
cookie payload, DNT and GPC headers, the time) and apply the results. That keeps every
rule testable as a table.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sdk.times import DAY

from ..config import OPTIONAL_PURPOSES, PURPOSES
from .registry import SESSION_COOKIE, VISITOR_COOKIE, Registry

SCHEMA_VERSION = 1
SOURCES = ("banner-accept-all", "banner-reject-all", "dialog", "api")
#: A visit ends after this many idle seconds.
VISIT_IDLE_SECONDS = 30 * 60
#: ``cg_sid`` is re-sent (with a new last-seen) only when this much time has passed, so
#: most hits of a visit carry no Set-Cookie; a visit's end is known to within a minute.
SESSION_REFRESH_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ConsentPayload:
    """What the signed ``cg_consent`` cookie holds (the receipt's schema, a subset of it)."""

    subject_id: str
    receipt_id: str
    revision: int
    granted: tuple[str, ...]
    decided_at: int
    gpc_override: bool = False
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form that is signed into the cookie."""
        return {"schema": self.schema, "subject_id": self.subject_id,
                "receipt_id": self.receipt_id, "revision": self.revision,
                "granted": list(self.granted), "time": self.decided_at,
                "gpc_override": self.gpc_override}

    @classmethod
    def from_json(cls, data: Any) -> ConsentPayload | None:
        """Parse a verified payload; None when its shape is wrong."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            return None
        try:
            granted = tuple(p for p in data["granted"] if p in OPTIONAL_PURPOSES)
            payload = cls(subject_id=str(data["subject_id"]), receipt_id=str(data["receipt_id"]),
                          revision=int(data["revision"]), granted=granted,
                          decided_at=int(data["time"]),
                          gpc_override=bool(data.get("gpc_override", False)))
        except (KeyError, TypeError, ValueError):
            return None
        if not (is_random_id(payload.subject_id) and is_random_id(payload.receipt_id)):
            return None
        return payload


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The consent in force for one request."""

    decided: bool
    purposes: Mapping[str, bool]
    chosen: Mapping[str, bool] | None
    gpc: bool
    dnt: bool
    revision: int
    decided_at: int | None = None
    payload: ConsentPayload | None = None

    def granted(self, purpose: str) -> bool:
        """Whether ``purpose`` is granted now."""
        return bool(self.purposes.get(purpose))

    @property
    def granted_list(self) -> list[str]:
        """Granted purposes in the canonical order, ``necessary`` included."""
        return [p for p in PURPOSES if self.purposes.get(p)]

    @property
    def refused(self) -> bool:
        """A standing refusal of analytics: a decision without it, or DNT."""
        return self.dnt or (self.decided and not self.purposes.get("analytics"))


def new_id() -> str:
    """A random 128-bit id as 32 lowercase hex characters."""
    return secrets.token_hex(16)


_RANDOM_ID = re.compile(r"[0-9a-f]{32}")


def is_random_id(value: str) -> bool:
    """True for exactly 32 lowercase hex characters (the shape of :func:`new_id`)."""
    return _RANDOM_ID.fullmatch(value) is not None


def header_dnt(value: str | None, honor: bool) -> bool:
    """``DNT: 1`` counts only when ``HONOR_DNT`` is on."""
    return honor and (value or "").strip() == "1"


def header_gpc(value: str | None) -> bool:
    """``Sec-GPC: 1`` exactly (the spec allows no other true value)."""
    return value == "1"


def evaluate(payload: ConsentPayload | None, *, revision: int, consent_days: int, now: float,
             dnt: bool, gpc: bool) -> ConsentState:
    """The consent in force: a stale, foreign-revision or missing choice means undecided.

    Undecided denies every purpose but ``necessary``. DNT is a standing refusal of
    analytics and personalization; GPC denies marketing unless the visitor switched it on
    in the dialog itself (``gpc_override``).
    """
    decided = (payload is not None and payload.revision == revision
               and 0 <= now - payload.decided_at <= consent_days * DAY + 60)
    chosen = ({p: p in payload.granted for p in OPTIONAL_PURPOSES}
              if decided and payload is not None else None)
    purposes = {"necessary": True}
    for p in OPTIONAL_PURPOSES:
        purposes[p] = bool(chosen and chosen[p])
    if dnt:
        purposes["analytics"] = purposes["personalization"] = False
    if gpc and not (payload is not None and decided and payload.gpc_override):
        purposes["marketing"] = False
    return ConsentState(decided=decided, purposes=purposes, chosen=chosen, gpc=gpc, dnt=dnt,
                        revision=revision,
                        decided_at=payload.decided_at if decided and payload else None,
                        payload=payload if decided else None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a consent request grants after the standing refusals are applied."""

    granted: tuple[str, ...]
    denied: tuple[str, ...]
    gpc_override: bool


def decide(requested: Mapping[str, Any], *, source: str, gpc_override: bool, dnt: bool,
           gpc: bool) -> Decision:
    """Apply DNT and GPC to a visitor's request.

    ``gpc_override`` grants marketing under GPC only from the dialog's own toggle; "Accept
    all" and API calls never do.
    """
    override = bool(gpc_override) and gpc and source == "dialog"
    granted = []
    for p in OPTIONAL_PURPOSES:
        want = requested.get(p) is True
        if p in ("analytics", "personalization") and dnt:
            want = False
        if p == "marketing" and gpc and not override:
            want = False
        if want:
            granted.append(p)
    denied = tuple(p for p in OPTIONAL_PURPOSES if p not in granted)
    return Decision(tuple(granted), denied, override and "marketing" in granted)


@dataclass(frozen=True, slots=True)
class ChoiceRequest:
    """A validated ``POST /consent`` body (JSON or form).

    :ivar gpc: the page saw ``navigator.globalPrivacyControl`` (GPC that only script can
        see). It can only deny: it counts as GPC, never as consent.
    """

    purposes: dict[str, bool]
    gpc_override: bool = False
    lang: str | None = None
    source: str | None = None
    gpc: bool = False


def parse_request(body: Any) -> ChoiceRequest:
    """Validate a ``POST /consent`` JSON body:
    ``{purposes, gpc_override?, lang?, source?, gpc?}``.

    :raises ValueError: with a sentence for the JSON error answer.
    """
    if not isinstance(body, Mapping):
        raise ValueError("The body must be a JSON object such as "
                         '{"purposes": {"analytics": true}}.')
    purposes = body.get("purposes")
    if not isinstance(purposes, Mapping):
        raise ValueError('"purposes" must be an object mapping purposes to true or false, '
                         'such as {"analytics": true, "marketing": false}.')
    out: dict[str, bool] = {}
    for key, value in purposes.items():
        if key == "necessary":
            continue
        if key not in OPTIONAL_PURPOSES:
            raise ValueError(f'Unknown purpose {str(key)[:40]!r}; use '
                             + ", ".join(OPTIONAL_PURPOSES) + ".")
        if not isinstance(value, bool):
            raise ValueError(f'Purpose "{key}" must be true or false.')
        out[key] = value
    override = body.get("gpc_override", False)
    if not isinstance(override, bool):
        raise ValueError('"gpc_override" must be true or false.')
    lang = body.get("lang")
    if lang is not None and (not isinstance(lang, str) or len(lang) > 35):
        raise ValueError('"lang" must be a language tag such as "en" or "de".')
    source = body.get("source")
    if source is not None and source not in SOURCES:
        raise ValueError('"source" must be one of ' + ", ".join(SOURCES) + ".")
    gpc = body.get("gpc", False)
    if not isinstance(gpc, bool):
        raise ValueError('"gpc" must be true or false.')
    return ChoiceRequest(out, override, lang, source, gpc)


def infer_source(purposes: Mapping[str, bool], given: str | None, via_api: bool,
                 gpc_override: bool = False) -> str:
    """The receipt's source: as given, else inferred from the request and the choice.

    Only the dialog's own marketing toggle sends ``gpc_override``, so a browser request
    carrying it came from a dialog, whatever the shape of the choice.
    """
    if given:
        return given
    if via_api:
        return "api"
    if gpc_override:
        return "dialog"
    if purposes and all(purposes.get(p) is True for p in OPTIONAL_PURPOSES):
        return "banner-accept-all"
    if not any(purposes.values()):
        return "banner-reject-all"
    return "dialog"


# --- cookies ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SetCookie:
    """A cookie to set. ``max_age`` None makes a browser-session cookie."""

    name: str
    value: str
    max_age: int | None


@dataclass(frozen=True, slots=True)
class CookiePlan:
    """The cookies one response sets and expires, and the ids the hit may record."""

    set: tuple[SetCookie, ...] = ()
    expire: tuple[str, ...] = ()
    session_id: str | None = None
    visitor_id: str | None = None
    new_visit: bool = False


class IdCookieSigner(Protocol):
    """Makes and checks the values of the id cookies (:class:`~.idcookies.IdSigner`)."""

    def stamp(self, name: str, ident: str, stamp: int) -> str:
        """The cookie value for id ``ident`` of cookie ``name`` at ``stamp``."""

    def parse(self, name: str, value: str | None) -> tuple[str, int] | None:
        """``(id, seconds)`` of a genuine value for cookie ``name``, else None."""


def stale_cookies(state: ConsentState, cookie_names: Iterable[str],
                  registry: Registry) -> list[str]:
    """Cookies the request carries whose purpose is not granted now: each must be expired."""
    stale = []
    for name in cookie_names:
        purpose = registry.purpose_of(name)
        if purpose is not None and purpose != "necessary" and not state.granted(purpose):
            stale.append(name)
    return stale


def plan_cookies(state: ConsentState, cookies: Mapping[str, str], *, now: float,
                 visitor_days: int, registry: Registry, ids: IdCookieSigner,
                 issue: bool = True) -> CookiePlan:
    """Which cookies a response sets and expires, and the ids a hit may record.

    :param cookies: the request's cookies, name to value.
    :param ids: signs new id cookies and checks the ones sent (a value it did not sign
        is no id).
    :param issue: False for responses that must not create cookies (prefetches, plain
        consent reads); expiry still happens, as on every collector response.
    """
    now_i = int(now)
    expire = stale_cookies(state, cookies, registry)
    sets: list[SetCookie] = []
    session_id = visitor_id = None
    new_visit = False
    if state.granted("analytics"):
        current = ids.parse(SESSION_COOKIE, cookies.get(SESSION_COOKIE))
        if current and 0 <= now_i - current[1] < VISIT_IDLE_SECONDS:
            session_id = current[0]
            if now_i - current[1] >= SESSION_REFRESH_SECONDS and issue:
                sets.append(SetCookie(SESSION_COOKIE,
                                      ids.stamp(SESSION_COOKIE, session_id, now_i), None))
        elif issue:
            session_id, new_visit = new_id(), True
            sets.append(SetCookie(SESSION_COOKIE, ids.stamp(SESSION_COOKIE, session_id, now_i),
                                  None))
        elif SESSION_COOKIE in cookies:
            expire.append(SESSION_COOKIE)  # a visit that ended, or a forged value
    if state.granted("personalization"):
        current = ids.parse(VISITOR_COOKIE, cookies.get(VISITOR_COOKIE))
        if current and 0 <= now_i - current[1] < visitor_days * DAY:
            visitor_id = current[0]  # fixed at first issue: never re-sent, never extended
        elif issue:
            visitor_id = new_id()
            sets.append(SetCookie(VISITOR_COOKIE, ids.stamp(VISITOR_COOKIE, visitor_id, now_i),
                                  visitor_days * DAY))
        elif VISITOR_COOKIE in cookies:
            expire.append(VISITOR_COOKIE)
    return CookiePlan(set=tuple(sets), expire=tuple(dict.fromkeys(expire)),
                      session_id=session_id, visitor_id=visitor_id, new_visit=new_visit)


@dataclass(frozen=True, slots=True)
class HitPolicy:
    """Whether a hit is stored, and with which ids."""

    store: bool
    with_ids: bool


def hit_policy(state: ConsentState, counting: str) -> HitPolicy:
    """Apply ``ANONYMOUS_COUNTING`` (DESIGN 2, "Hits without consent").

    With analytics granted a hit is stored with its ids. Otherwise ``always`` stores it
    with no ids, ``never`` drops it, and ``until-refused`` stores it anonymously only while
    undecided (a decision without analytics, or DNT, is a refusal).
    """
    if state.granted("analytics"):
        return HitPolicy(True, True)
    if counting == "always":
        return HitPolicy(True, False)
    if counting == "until-refused" and not state.refused:
        return HitPolicy(True, False)
    return HitPolicy(False, False)
