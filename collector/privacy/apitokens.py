"""Admin API tokens: random bearer tokens with scopes; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ..errors import CleargifError
from ..storage import IdentityStore

SCOPES = ("aggregate", "sender", "pii")
PREFIX = "cgt_"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token (never the secret itself)."""

    name: str
    scopes: frozenset[str]
    created_at: int = 0
    revoked_at: int | None = None


def token_hash(token: str) -> str:
    """SHA-256 of the token: enough for 256 random bits, and constant-time to look up."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    """``aggregate,sender`` into a set; unknown scopes raise with a sentence."""
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(scopes - set(SCOPES))
    if not scopes or unknown:
        raise CleargifError(f"Unknown scope {', '.join(unknown) or '(none)'}; use one or more "
                            "of " + ", ".join(SCOPES) + ", separated by commas.")
    return scopes


def check_name(name: str) -> str:
    """A token name as stored: one printable line of 1 to 100 characters.

    :raises CleargifError: with a sentence naming ``--name``.
    """
    if not name.strip() or len(name) > 100 or not name.isprintable() or \
            any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise CleargifError("--name must be one line of 1 to 100 printable characters that "
                            "say who uses the token.")
    return name


def create(identity: IdentityStore, name: str, scopes: frozenset[str], now: int) -> str:
    """Store a new token and return it; it is shown once and never stored in clear."""
    check_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    if not identity.add_api_token(name, token_hash(token), ",".join(sorted(scopes)), now):
        raise CleargifError(f"A live token named {name!r} exists; revoke it first or choose "
                            "another name.")
    return token


def revoke(identity: IdentityStore, name: str, now: int) -> int:
    """Revoke every live token of that name; returns how many."""
    check_name(name)
    return identity.revoke_api_tokens(name, now)


def lookup(identity: IdentityStore, token: str) -> ApiToken | None:
    """The live token matching ``token``, or None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = identity.api_token(token_hash(token))
    return None if row is None else ApiToken(row.name, frozenset(row.scopes.split(",")))


def listing(identity: IdentityStore) -> list[ApiToken]:
    """Every token's name, scopes and dates (no secrets)."""
    return [ApiToken(row.name, frozenset(row.scopes.split(",")), row.created_at,
                     row.revoked_at) for row in identity.api_tokens()]
