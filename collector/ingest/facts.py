"""Request facts for the hit path, read straight from the WSGI environ: no Flask request
object, no decisions (:mod:`.pipeline` makes those)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

MAX_QUERY = 16 * 1024  # longer query strings are cut before parsing


@dataclass(frozen=True, slots=True)
class HitFacts:
    """What one request says, as plain values."""

    params: Mapping[str, str]
    cookies: Mapping[str, str]
    origin: str | None
    referer: str | None
    user_agent: str | None
    accept_language: str | None
    dnt: str | None
    gpc: str | None
    prefetch: bool
    host: str
    remote_addr: str | None


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    value = environ.get(name)
    if value is None:
        return None
    # WSGI strings are latin-1 decoded bytes; re-read them as UTF-8 like Werkzeug does.
    try:
        return str(value).encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return str(value)


def query_params(query: str) -> dict[str, str]:
    """The first non-empty value of each parameter (bad UTF-8 is replaced).

    A plain loop: ``parse_qsl`` validates more than a pixel needs and shows up in profiles.
    """
    params: dict[str, str] = {}
    for pair in query[:MAX_QUERY].split("&"):
        key, _, value = pair.partition("=")
        if not value:
            continue
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key not in params:
            params[key] = unquote_plus(value) if "%" in value or "+" in value else value
    return params


def cookie_dict(header: str) -> dict[str, str]:
    """Cookie names to values (the first of each name); quotes around a value dropped.

    Simpler than a full RFC 6265 parser on purpose: the collector only looks up its own
    cookies, whose values never need quoting, and other cookies only by name.
    """
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in cookies:
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies


def facts_from_environ(environ: Mapping[str, Any],
                       params: Mapping[str, str] | None = None) -> HitFacts:
    """Read a :class:`HitFacts` from a WSGI environ; ``params`` replaces the query string
    (``POST /t`` sends them as a JSON body)."""
    if params is None:
        raw = environ.get("QUERY_STRING", "")
        params = query_params(raw.encode("latin-1", "replace").decode("utf-8", "replace"))
    purpose = (environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE") or "").lower()
    cookie_header = environ.get("HTTP_COOKIE")
    return HitFacts(
        params=params,
        cookies=cookie_dict(cookie_header) if cookie_header else {},
        origin=_header(environ, "HTTP_ORIGIN"),
        referer=_header(environ, "HTTP_REFERER"),
        user_agent=_header(environ, "HTTP_USER_AGENT"),
        accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
        dnt=environ.get("HTTP_DNT"),
        gpc=environ.get("HTTP_SEC_GPC"),
        prefetch="prefetch" in purpose,
        host=(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").lower(),
        remote_addr=environ.get("REMOTE_ADDR"),
    )
