"""The cookie registry: every cookie cleargif sets, and those host sites declare, in one place.

Enforcement at the collector, the banner's cookie table and clearing on withdrawal are
all derived from :func:`build_registry`. Host sites add services with ``SERVICES``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """One cookie (or a name pattern such as ``_ga*``) and the purpose it serves."""

    name: str
    purpose: str
    service: str
    lifetime: str
    description: str
    set_by_collector: bool = False

    @property
    def pattern(self) -> bool:
        """True when ``name`` is a glob such as ``_ga_*``."""
        return any(c in self.name for c in "*?[")

    def matches(self, cookie_name: str) -> bool:
        """Whether a cookie of this name belongs to this entry."""
        if self.pattern:
            return fnmatch.fnmatchcase(cookie_name, self.name)
        return cookie_name == self.name


CONSENT_COOKIE = "cg_consent"
SESSION_COOKIE = "cg_sid"
VISITOR_COOKIE = "cg_vid"
REMEMBER_COOKIE = "cg_remember"
DASHBOARD_COOKIE = "cg_dashboard"


def own_cookies(consent_days: int, visitor_days: int, remember_days: int) -> list[CookieSpec]:
    """The cookies the collector and SDK set (DESIGN 2)."""
    return [
        CookieSpec(CONSENT_COOKIE, "necessary", "cleargif", f"{consent_days} days",
                   "Stores your cookie choice, refusals included, signed so it cannot be "
                   "forged.", True),
        CookieSpec(SESSION_COOKIE, "analytics", "cleargif", "browser session (a visit ends "
                   "after 30 idle minutes)", "A random visit id, to count visits.", True),
        CookieSpec(VISITOR_COOKIE, "personalization", "cleargif", f"{visitor_days} days, "
                   "never extended", "A random browser id, to recognise returning visitors "
                   "(counted only with analytics too).", True),
        CookieSpec(REMEMBER_COOKIE, "necessary", "site login", f"{remember_days} days",
                   "Keeps you logged in, set only when you tick \"remember me\".", False),
        CookieSpec(DASHBOARD_COOKIE, "necessary", "cleargif dashboard", "browser session",
                   "Keeps the site's owner signed in to the statistics dashboard; set only "
                   "on its sign-in page, never for visitors.", True),
    ]


class Registry:
    """The cookie specs in order, with a dict lookup of a cookie's purpose by name (it runs
    on every hit for every cookie the request carries)."""

    __slots__ = ("_exact", "_patterns", "specs")

    def __init__(self, specs: Iterable[CookieSpec]) -> None:
        self.specs = tuple(specs)
        self._exact: dict[str, str] = {}
        for spec in self.specs:
            if not spec.pattern:
                self._exact.setdefault(spec.name, spec.purpose)
        self._patterns = tuple(s for s in self.specs if s.pattern)

    def __iter__(self) -> Iterator[CookieSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def purpose_of(self, cookie_name: str) -> str | None:
        """The purpose of a cookie by name, or None when the registry does not know it."""
        purpose = self._exact.get(cookie_name)
        if purpose is not None:
            return purpose
        for spec in self._patterns:
            if spec.matches(cookie_name):
                return spec.purpose
        return None


def build_registry(config: Mapping[str, Any]) -> Registry:
    """All cookies: cleargif's own, then the host's services from ``SERVICES``."""
    specs = own_cookies(config["CONSENT_DAYS"], config["VISITOR_DAYS"],
                        config["REMEMBER_DAYS"])
    for service in config.get("SERVICES", []):
        for name in service["cookies"]:
            specs.append(CookieSpec(name, service["purpose"], service["name"],
                                    "set by the service", service.get("description", "")))
    return Registry(specs)


def purpose_of(registry: Registry, cookie_name: str) -> str | None:
    """The purpose of a cookie by name, or None when the registry does not know it."""
    return registry.purpose_of(cookie_name)


def cookie_table(registry: Iterable[CookieSpec]) -> list[dict[str, Any]]:
    """The banner's cookie table as JSON-ready rows."""
    return [{"name": s.name, "pattern": s.pattern, "purpose": s.purpose, "service": s.service,
             "lifetime": s.lifetime, "description": s.description} for s in registry]


def services(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Host-declared services with their cookie names, for the snippet's clearing."""
    return [{"name": s["name"], "purpose": s["purpose"], "cookies": list(s["cookies"])}
            for s in config.get("SERVICES", [])]
