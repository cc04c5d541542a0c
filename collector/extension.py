"""The collector's per-app state: settings read once from the validated config, the two
stores, the cookie registry and the consent-cookie signer.

Views reach it with :func:`ext`. Stores open their files lazily, so nothing is opened
before a server forks its workers.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from itsdangerous import BadData, URLSafeSerializer

from sdk.scrub import PathPatterns, compile_path_patterns
from sdk.tokens import TokenCodec

from .config import read_keys
from .consent.idcookies import IdSigner
from .consent.receipts import ReceiptKeys
from .consent.registry import Registry, build_registry
from .consent.rules import ConsentPayload
from .errors import ConfigError, StorageError
from .logs import FloodLog
from .storage import EventStore, IdentityStore, open_events, open_identity
from .web.ratelimit import RateLimiter

if TYPE_CHECKING:
    from .metrics import Metrics

CONSENT_SALT = "cleargif.consent"
CONSENT_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Settings:
    """The values the request paths need, precomputed from ``app.config``."""

    revision: int
    consent_days: int
    visitor_days: int
    honor_dnt: bool
    counting: str
    sites: frozenset[str]
    allowed_origins: frozenset[str]
    cookie_domain: str | None
    cookie_secure: bool
    exclude_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    timezone: str
    default_lang: str
    policy_url: str
    tz: ZoneInfo
    #: The collector's own origin from ``PUBLIC_URL``; None: from the request's Host.
    public_origin: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build from a validated config mapping."""
        return cls(
            revision=config["POLICY_REVISION"], consent_days=config["CONSENT_DAYS"],
            visitor_days=config["VISITOR_DAYS"], honor_dnt=config["HONOR_DNT"],
            counting=config["ANONYMOUS_COUNTING"], sites=frozenset(config["SITES"]),
            allowed_origins=frozenset(config["ALLOWED_ORIGINS"]),
            cookie_domain=config["COOKIE_DOMAIN"], cookie_secure=config["COOKIE_SECURE"],
            exclude_networks=tuple(config["EXCLUDE_NETWORKS"]), timezone=config["TIMEZONE"],
            default_lang=config["DEFAULT_LANG"], policy_url=config["POLICY_URL"],
            tz=ZoneInfo(config["TIMEZONE"]), public_origin=config.get("PUBLIC_URL"))


class RefusedOrigins:
    """Which refused cross-origin callers were logged lately: each origin once an hour, and
    at most :attr:`limit` origins an hour, however many a flood of made-up ones brings.

    Origins are the sites' own (``https://shop.example``), never a visitor's address.
    """

    def __init__(self, limit: int = 50, period: float = 3600.0) -> None:
        self.limit = limit
        self.period = period
        self._logged: dict[str, float] = {}
        self._since = float("-inf")

    def notice(self, origin: str, now: float) -> str | None:
        """The log line for a request from ``origin``, which ``ALLOWED_ORIGINS`` does not
        list, or None when it was said within the hour (or the hour's limit is reached).

        :param now: a monotonic clock, in seconds.
        """
        if now - self._since >= self.period:
            self._logged.clear()
            self._since = now
        shown = origin[:100] if origin.isprintable() and origin.isascii() else None
        key = shown or "(unprintable)"
        if key in self._logged or len(self._logged) >= self.limit:
            return None
        self._logged[key] = now
        if shown is None:
            return ("Refused a cross-origin request whose Origin header is not printable "
                    "ASCII; no site sends that, so nothing needs changing.")
        return (f"Refused a cross-origin request from {shown}, which ALLOWED_ORIGINS does "
                "not list: if it is one of your sites, add it to ALLOWED_ORIGINS (such as "
                f"CLEARGIF_ALLOWED_ORIGINS={shown}, comma-separated) and restart. Said once "
                "an hour per origin.")


class Collector:
    """Everything the views share; one per app, kept in ``app.extensions["cleargif"]``."""

    def __init__(self, app: Flask) -> None:
        self.config = app.config
        self.settings = Settings.from_config(app.config)
        self.registry: Registry = build_registry(app.config)
        try:
            self.patterns: PathPatterns = compile_path_patterns(app.config["PATH_PATTERNS"])
        except ValueError as exc:
            raise ConfigError("PATH_PATTERNS", f"PATH_PATTERNS: {exc}") from None
        self.events: EventStore = open_events(app.config["EVENTS_URL"],
                                              sync=app.config["SYNC"])
        self._identity: IdentityStore | None = None
        self._consent_cache: dict[str, ConsentPayload | None] = {}
        self.refused_origins = RefusedOrigins()
        #: Per-client rate limits (``RATE_LIMITS``), by a keyed hash of the address only.
        self.limits = RateLimiter(app.config["RATE_LIMITS"])
        #: Store failures, logged as one line a minute however many requests meet them;
        #: also what ``/healthz`` knows of writes that failed lately (kinds: store names).
        self.failures = FloodLog(logging.getLogger("cleargif").error)
        #: Prometheus metrics, or None while ``METRICS_TOKEN`` is unset (then nothing is
        #: counted: the hit path pays nothing for them).
        self.metrics: Metrics | None = None
        if app.config.get("METRICS_TOKEN"):
            from .metrics import Metrics

            self.metrics = Metrics()
        #: Campaign reports kept while nothing they read changed (dashboard, API).
        from .mail.campaigns import ReportCache

        self.campaign_reports = ReportCache()
        #: Builds another app like this one (set by :func:`init_app`).
        self.factory: Callable[[Mapping[str, Any]], Flask] = _no_factory

    @property
    def identity(self) -> IdentityStore:
        """The identity store; opened on first use, never by the hit paths."""
        if self._identity is None:
            self._identity = open_identity(self.config["IDENTITY_URL"],
                                           sync=self.config["SYNC"])
        return self._identity

    @cached_property
    def consent_signer(self) -> URLSafeSerializer:
        """Signs ``cg_consent`` with ``SECRET_KEYS`` (newest signs, all verify)."""
        return URLSafeSerializer(read_keys(self.config, "SECRET_KEYS"), salt=CONSENT_SALT)

    @cached_property
    def id_signer(self) -> IdSigner:
        """Signs and checks ``cg_sid`` and ``cg_vid`` with ``SECRET_KEYS`` (read when an id
        cookie is first made or checked)."""
        return IdSigner(lambda: read_keys(self.config, "SECRET_KEYS"))

    @cached_property
    def receipt_keys(self) -> ReceiptKeys:
        """Signs and checks the receipt chain with ``SECRET_KEYS`` (read on first use).

        :raises ConfigError: no ``SECRET_KEYS`` (the message says how to make one).
        """
        return ReceiptKeys(read_keys(self.config, "SECRET_KEYS"))

    @cached_property
    def token_codec(self) -> TokenCodec:
        """Verifies email tokens with ``TOKEN_KEYS`` (shared with senders)."""
        return TokenCodec(read_keys(self.config, "TOKEN_KEYS"))

    def load_consent(self, value: str | None) -> ConsentPayload | None:
        """Verify a ``cg_consent`` value; None when absent, forged or malformed.

        Results are cached by the exact value: one browser sends the same cookie on every
        hit, and verifying it (HMAC, base64, zlib, JSON) is the costliest step of a hit.
        """
        if not value or len(value) > 1024:
            return None
        cache = self._consent_cache
        if value in cache:
            return cache[value]
        try:
            payload = ConsentPayload.from_json(self.consent_signer.loads(value))
        except BadData:
            payload = None
        if len(cache) >= CONSENT_CACHE_SIZE:
            cache.clear()  # crude but bounded; a miss only costs one verification
        cache[value] = payload
        return payload

    def store_failed(self, store: str, exc: StorageError) -> None:
        """Note a write to ``store`` (``events``, ``identity``) that failed: logged (a flood
        as one line a minute), and reported by ``/healthz`` until a write succeeds."""
        self.failures.failed(store, f"The {store} store failed: {exc}", time.monotonic())

    def store_recovered(self, store: str) -> None:
        """Note that writes to ``store`` succeed again, after failures."""
        if self.failures.failing(store):
            self.failures.recovered(store, f"The {store} store accepts writes again")

    def close(self) -> None:
        """Close the stores' connections (tests, shutdown)."""
        self.events.close()
        if self._identity is not None:
            self._identity.close()


def _no_factory(overrides: Mapping[str, Any]) -> Flask:
    raise RuntimeError("This collector was not built by create_app, so it cannot build "
                       "another.")


def ext() -> Collector:
    """The current app's :class:`Collector`."""
    collector: Collector = current_app.extensions["cleargif"]
    return collector


def init_app(app: Flask, factory: Callable[[Mapping[str, Any]], Flask]) -> Collector:
    """Attach a :class:`Collector` to ``app``.

    :param factory: builds another app like this one with configuration overrides
        (:func:`collector.create_app`): ``cleargif serve`` hands it to each worker.
    """
    collector = Collector(app)
    collector.factory = factory
    app.extensions["cleargif"] = collector
    return collector
