"""Configuration: defaults, then a TOML file, then ``CLEARGIF_*`` variables, then ``test_config``.

Every key is validated once, at start-up, into a plain typed value; a bad value raises
:class:`~collector.errors.ConfigError` with a sentence naming the key. Views read the
validated values from ``app.config`` at request time.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .consent.texts import LANGUAGES
from .errors import ConfigError
from .web.ratelimit import CLASSES as LIMIT_CLASSES
from .web.ratelimit import DEFAULTS as LIMIT_DEFAULTS
from .web.ratelimit import Limit, parse_limit

#: Purposes in the order the banner shows them; ``necessary`` is always on.
PURPOSES = ("necessary", "analytics", "personalization", "marketing")
OPTIONAL_PURPOSES = PURPOSES[1:]

COUNTING_MODES = ("until-refused", "always", "never")

#: Retention classes and their defaults in days (DESIGN 1.7). ``None`` means unlimited.
RETENTION_DEFAULTS: dict[str, int | None] = {
    "EVENTS": 390,
    "ROLLUPS": 761,  # 25 months
    "RECEIPTS": 1826,  # 5 years after the subject's last decision
    "SUPPRESSIONS": None,  # must outlive erasure
    "REMEMBER": 37,  # REMEMBER_DAYS (30) + 7; recomputed from REMEMBER_DAYS when unset
    "AUDIT": 1096,  # 3 years
}

DEFAULTS: dict[str, Any] = {
    #: Folder for the SQLite stores and key files; created when absent.
    "DATA_DIR": "cleargif-data",
    #: ``sqlite:///path``; defaults to ``DATA_DIR/events.db`` and ``DATA_DIR/identity.db``.
    "EVENTS_URL": None,
    "IDENTITY_URL": None,
    #: Key lists, oldest first; default to the key files under ``DATA_DIR``.
    "SECRET_KEYS": None,
    "TOKEN_KEYS": None,
    "POLICY_REVISION": 1,
    "POLICY_URL": "",
    "ALLOWED_ORIGINS": [],
    "SITES": None,
    "COOKIE_DOMAIN": None,
    "COOKIE_SECURE": True,
    "CONSENT_DAYS": 180,
    "VISITOR_DAYS": 390,
    "REMEMBER_DAYS": 30,
    "HONOR_DNT": True,
    "ANONYMOUS_COUNTING": "until-refused",
    "EXCLUDE_NETWORKS": [],
    "K_MIN": 5,
    "TRUSTED_PROXIES": 0,
    "TIMEZONE": "UTC",
    #: ``normal`` survives the death of the process; ``full`` survives a power cut too.
    "SYNC": "normal",
    #: Site path patterns such as ``/users/*`` recorded as the pattern itself.
    "PATH_PATTERNS": [],
    #: Host-declared services: ``[{"name", "purpose", "cookies": [...]}]``.
    "SERVICES": [],
    #: Serve the demo page at ``/`` (``cleargif serve`` sets it on loopback).
    "DEMO": False,
    #: Default banner language.
    "DEFAULT_LANG": "en",
    #: Per-client limits by class (hits, consent, api, login): "N/second", "N/minute",
    #: "N/hour" or "off"; classes not named keep their defaults (DESIGN 3).
    "RATE_LIMITS": {},
    #: A click less than this many seconds after the mail's ``sent_at`` (its delivery) is
    #: a link scanner (security gateways open every link on arrival); 0 turns it off.
    "EMAIL_CLICK_TOO_SOON_SECONDS": 10,
    #: An open less than this many seconds after ``sent_at`` is a fetch on delivery, not a
    #: reading; 0 turns it off.
    "EMAIL_OPEN_TOO_SOON_SECONDS": 2,
    #: The fetches of one message (its pixel, links, unsubscribe page) that reach three
    #: different ones within this many seconds are a scanner's burst: reports count them
    #: as machine, whatever their User-Agent. 0 turns burst detection off.
    "EMAIL_BURST_SECONDS": 2,
    #: The collector's own URL as browsers reach it (``https://stats.example.com``): its
    #: origin is the collector's own for CORS and consent changes, never the Host header.
    #: Required when ``TRUSTED_PROXIES`` is above 0.
    "PUBLIC_URL": None,
    #: Bearer token that ``GET /metrics`` requires; without it ``/metrics`` is off (404).
    "METRICS_TOKEN": None,
}

MAX_VISITOR_DAYS = 390
MAX_REVISION = 2**31 - 1
#: Longest "too soon after the send" window: a day. Longer would call a day's readers
#: scanners.
MAX_TOO_SOON_SECONDS = 86_400
#: Longest burst window: a minute. A person may well open a mail and follow two of its
#: links within a few minutes; a wider window would call readers scanners.
MAX_BURST_SECONDS = 60
#: 100 years: longer is a typo, and would overflow date arithmetic.
MAX_RETENTION_DAYS = 36_500
#: Keys whose values are text: taken from the environment as written, never as JSON
#: (``CLEARGIF_DATA_DIR=2024`` is a folder, not a number).
TEXT_KEYS = frozenset({"DATA_DIR", "EVENTS_URL", "IDENTITY_URL", "POLICY_URL",
                       "COOKIE_DOMAIN", "TIMEZONE", "DEFAULT_LANG", "SYNC",
                       "ANONYMOUS_COUNTING", "PUBLIC_URL", "METRICS_TOKEN"})
#: The shortest ``METRICS_TOKEN`` accepted: it guards what the collector counts.
MIN_METRICS_TOKEN = 16


def load_config(test_config: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge the configuration sources in order and validate every key.

    :param test_config: values that override everything else (tests, embedding apps).
    :param environ: the environment to read ``CLEARGIF_*`` from; ``os.environ`` by default.
    :raises ConfigError: a value is invalid; the message names the key.
    """
    env = os.environ if environ is None else environ
    # RETENTION_DAYS_* have no entry here: a period's default applies only while its key
    # is not given at all (an empty value is refused, see _retention).
    raw: dict[str, Any] = dict(DEFAULTS)
    path = (test_config or {}).get("CONFIG") or env.get("CLEARGIF_CONFIG")
    if path:
        raw.update(_read_toml(str(path)))
    for name, value in env.items():
        if name.startswith("CLEARGIF_") and name != "CLEARGIF_CONFIG":
            key = name[len("CLEARGIF_"):]
            if key in NOT_SETTINGS:
                continue
            _check_known(key, f"The environment variable {name} names {key}")
            raw[key] = value if key in TEXT_KEYS else _env_value(value)
    if test_config:
        raw.update({k: v for k, v in test_config.items() if k != "CONFIG"})
    return validate(raw)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("CLEARGIF_CONFIG", f"CLEARGIF_CONFIG names {path!r}, which does not "
                          "exist; point it at a TOML file or unset it.") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("CLEARGIF_CONFIG", f"CLEARGIF_CONFIG file {path!r} is not valid "
                          f"TOML ({exc}); fix the file.") from None
    values = {str(k).upper(): v for k, v in data.items()}
    for key in values:
        _check_known(key, f"CLEARGIF_CONFIG file {path!r} sets {key}")
    return values


#: CLEARGIF_* environment variables that are not collector settings (the SDK's examples,
#: the test suite).
NOT_SETTINGS = frozenset({"API_TOKEN", "COLLECTOR_URL", "DEMO_USERS", "REQUIRE_ALL"})


def _check_known(key: str, what: str) -> None:
    """Refuse a setting name cleargif does not know (a typo would silently do nothing).

    :param what: the start of the sentence: where the name came from, ending with it.
    """
    known = {*DEFAULTS, *(f"RETENTION_DAYS_{cls}" for cls in RETENTION_DEFAULTS)}
    if key in known:
        return
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"did you mean {close[0]}?" if close else "see docs/configuration.md."
    raise ConfigError(key, f"{what}, which is not a cleargif setting; {hint}")


def _env_value(value: str) -> Any:
    # Environment values are JSON when they parse as JSON (numbers, booleans, arrays),
    # else plain strings, as Flask's from_prefixed_env does.
    try:
        return json.loads(value)
    except ValueError:
        return value


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Turn raw values into typed, checked ones; unknown keys pass through unchanged."""
    cfg = dict(raw)
    cfg["DATA_DIR"] = _text(raw, "DATA_DIR")
    data_dir = Path(cfg["DATA_DIR"])
    cfg["EVENTS_URL"] = _store_url(raw, "EVENTS_URL", data_dir / "events.db")
    cfg["IDENTITY_URL"] = _store_url(raw, "IDENTITY_URL", data_dir / "identity.db")
    if cfg["EVENTS_URL"] == cfg["IDENTITY_URL"]:
        raise ConfigError("IDENTITY_URL", "IDENTITY_URL must name another database than "
                          "EVENTS_URL: identities and events are kept apart.")
    cfg["SECRET_KEYS"] = _keys(raw, "SECRET_KEYS")
    cfg["TOKEN_KEYS"] = _keys(raw, "TOKEN_KEYS")
    shared = [k for k in ("EVENTS_URL", "IDENTITY_URL") if not cfg[k].startswith("sqlite:")]
    missing = [k for k in ("SECRET_KEYS", "TOKEN_KEYS") if not cfg[k]]
    if shared and missing:
        # Key files are per host: collectors sharing a database must share their keys.
        raise ConfigError(missing[0], f"{shared[0]} names a shared PostgreSQL database, so "
                          f"{' and '.join(missing)} must be set in the configuration (the "
                          "same on every collector) rather than read from key files under "
                          "DATA_DIR, which are per host.")
    cfg["POLICY_REVISION"] = _int(raw, "POLICY_REVISION", 1, MAX_REVISION)
    cfg["POLICY_URL"] = _policy_url(_text(raw, "POLICY_URL", empty=True))
    cfg["ALLOWED_ORIGINS"] = [_origin(o) for o in _list(raw, "ALLOWED_ORIGINS")]
    sites = raw.get("SITES")
    if sites is None or sites == "":
        cfg["SITES"] = sorted({urlsplit(o).hostname or "" for o in cfg["ALLOWED_ORIGINS"]})
    else:
        cfg["SITES"] = [_site(s) for s in _list(raw, "SITES")]
    domain = raw.get("COOKIE_DOMAIN")
    cfg["COOKIE_DOMAIN"] = _domain(domain) if domain else None
    for key in ("COOKIE_SECURE", "HONOR_DNT", "DEMO"):
        cfg[key] = _bool(raw, key)
    cfg["CONSENT_DAYS"] = _int(raw, "CONSENT_DAYS", 1, 3650)
    cfg["VISITOR_DAYS"] = _int(raw, "VISITOR_DAYS", 1, MAX_VISITOR_DAYS)
    cfg["REMEMBER_DAYS"] = _int(raw, "REMEMBER_DAYS", 1, 400)
    cfg["ANONYMOUS_COUNTING"] = _choice(raw, "ANONYMOUS_COUNTING", COUNTING_MODES)
    cfg["EXCLUDE_NETWORKS"] = tuple(_network(n) for n in _list(raw, "EXCLUDE_NETWORKS"))
    cfg["K_MIN"] = _int(raw, "K_MIN", 1, 1_000_000)
    cfg["TRUSTED_PROXIES"] = _int(raw, "TRUSTED_PROXIES", 0, 10)
    for key, most in (("EMAIL_CLICK_TOO_SOON_SECONDS", MAX_TOO_SOON_SECONDS),
                      ("EMAIL_OPEN_TOO_SOON_SECONDS", MAX_TOO_SOON_SECONDS),
                      ("EMAIL_BURST_SECONDS", MAX_BURST_SECONDS)):
        cfg[key] = _int(raw, key, 0, most)
    cfg["PUBLIC_URL"] = _public_url(raw.get("PUBLIC_URL"))
    if cfg["TRUSTED_PROXIES"] and not cfg["PUBLIC_URL"]:
        raise ConfigError("PUBLIC_URL", "PUBLIC_URL must be set when TRUSTED_PROXIES is above "
                          "0: behind a proxy the collector cannot trust the Host header for "
                          "its own origin. Set it to the URL browsers use, such as "
                          "https://stats.example.com.")
    cfg["METRICS_TOKEN"] = _metrics_token(raw.get("METRICS_TOKEN"))
    cfg["TIMEZONE"] = _timezone(raw)
    cfg["SYNC"] = _choice(raw, "SYNC", ("normal", "full"))
    cfg["PATH_PATTERNS"] = [str(p) for p in _list(raw, "PATH_PATTERNS")]
    cfg["SERVICES"] = _services(raw)
    # "de-DE" means German: the banner ships languages, not regions.
    cfg["DEFAULT_LANG"] = _text(raw, "DEFAULT_LANG").lower().replace("_", "-").split("-")[0]
    if cfg["DEFAULT_LANG"] not in LANGUAGES:
        raise _fail("DEFAULT_LANG", "must be a language the banner ships: "
                    + ", ".join(LANGUAGES), raw.get("DEFAULT_LANG"))
    for cls, default in RETENTION_DEFAULTS.items():
        cfg[f"RETENTION_DAYS_{cls}"] = _retention(raw, cls, default, cfg["REMEMBER_DAYS"])
    cfg["RATE_LIMITS"] = _rate_limits(raw.get("RATE_LIMITS"))
    return cfg


def _rate_limits(value: Any) -> dict[str, Limit | None]:
    """``RATE_LIMITS`` as a table (TOML), an object (JSON) or its text, over the defaults."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            raise _fail("RATE_LIMITS", "must be a JSON object such as "
                        '{"hits": "100/second", "login": "10/minute"}', text) from None
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _fail("RATE_LIMITS", "must be a table (TOML) or an object (JSON) of classes "
                    "to limits", value)
    limits: dict[str, Limit | None] = {}
    for name in LIMIT_CLASSES:
        given = value.get(name, LIMIT_DEFAULTS[name])
        try:
            limits[name] = parse_limit(given)
        except ValueError as exc:
            raise _fail("RATE_LIMITS", f"{name} {exc}", given) from None
    unknown = sorted(str(k) for k in value if k not in LIMIT_CLASSES)
    if unknown:
        raise _fail("RATE_LIMITS", "names classes of its own; use " + ", ".join(LIMIT_CLASSES),
                    unknown[0])
    return limits


def _public_url(value: Any) -> str | None:
    """``PUBLIC_URL``: an http(s) URL with a host; kept as its origin (scheme, host and a
    port other than the default), the form browsers send in ``Origin``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or \
            parts.username or parts.query or parts.fragment or not text.isprintable():
        raise _fail("PUBLIC_URL", "must be the collector's URL as browsers reach it, such as "
                    "https://stats.example.com", value)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _metrics_token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) < MIN_METRICS_TOKEN or not text.isascii() or not text.isprintable() or \
            " " in text:
        raise ConfigError("METRICS_TOKEN", f"METRICS_TOKEN must be at least "
                          f"{MIN_METRICS_TOKEN} printable ASCII characters without spaces "
                          "(make one with `python -c \"import secrets; "
                          "print(secrets.token_urlsafe(32))\"`).")
    return text


def _fail(key: str, how: str, value: Any) -> ConfigError:
    shown = repr(value)
    if len(shown) > 80:  # one line, however long the slip
        shown = f"{shown[:60]}… ({len(str(value))} characters)"
    return ConfigError(key, f"{key} {how}; got {shown}.")


def _text(raw: Mapping[str, Any], key: str, empty: bool = False) -> str:
    value = raw.get(key)
    if value is None and empty:
        return ""
    if not isinstance(value, str) or (not value.strip() and not empty):
        raise _fail(key, "must be a non-empty string", value)
    return value.strip()


def _int(raw: Mapping[str, Any], key: str, low: int, high: int | None = None) -> int:
    value = raw.get(key)
    if isinstance(value, str):
        digits = value.strip().lstrip("-")
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:  # longer: no range
            value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (
            high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise _fail(key, f"must be a whole number {bound}", value)
    return value


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise _fail(key, "must be true or false", value)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = raw.get(key)
    if value not in choices:
        raise _fail(key, "must be one of " + ", ".join(choices), value)
    return str(value)


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    """A list given as a list, a JSON array string or a comma-separated string."""
    value = raw.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _fail(key, "looks like a JSON array but does not parse", value) from None
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise _fail(key, "must be a list, a JSON array or a comma-separated string", value)
    return list(value)


def _policy_url(value: str) -> str:
    """The privacy policy link the banner shows: an http(s) URL or a path on the site."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced "[" in the host
        parts = None
    # http(s), or relative to the page (no scheme): never javascript: or data:.
    if parts is not None and parts.scheme in ("", "http", "https") and \
            value.isprintable() and " " not in value:
        return value
    raise _fail("POLICY_URL", "must be an http(s) URL or a link relative to the page, such "
                "as /privacy", value)


def _store_url(raw: Mapping[str, Any], key: str, default: Path) -> str:
    value = raw.get(key) or f"sqlite:///{default}"
    if not isinstance(value, str):
        raise _fail(key, "must be a sqlite:/// or postgresql:// URL", value)
    if value.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            parts = None
        if parts is None or not parts.hostname or not parts.path.strip("/"):
            raise _fail(key, "must name a PostgreSQL server and database, such as "
                        "postgresql://cleargif_events:password@db.example.com/cleargif", value)
        return value
    if not value.startswith("sqlite:///") or len(value) == len("sqlite:///"):
        raise _fail(key, "must be a URL of the form sqlite:///path/to/file.db", value)
    if ":memory:" in value or "mode=memory" in value:
        raise _fail(key, "must name a file: a store in memory loses every write when the "
                    "process ends", value)
    return value


def _keys(raw: Mapping[str, Any], key: str) -> list[str] | None:
    value = raw.get(key)
    if value is None or value == "" or value == []:
        return None  # read from DATA_DIR when a command needs them
    keys = [str(k) for k in _list(raw, key)]
    for k in keys:
        if len(k) < 16:
            raise ConfigError(key, f"{key} holds a key of {len(k)} characters; each key must "
                              "have at least 16 (make one with `cleargif keys new`).")
    return keys


def _origin(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:  # an unbalanced "[" in the host
        raise _fail("ALLOWED_ORIGINS", "must hold origins of the form https://host[:port] "
                    "with a valid host and port", value) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or \
            parts.query or parts.fragment or parts.username:
        raise _fail("ALLOWED_ORIGINS", "must hold origins of the form https://host[:port] "
                    "with no path", value)
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
        host = parts.hostname.lower()
    except ValueError:  # a port out of range
        raise _fail("ALLOWED_ORIGINS", "must hold origins of the form https://host[:port] "
                    "with a valid host and port", value) from None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port != default else "")


def _site(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if "://" in text:
        try:
            text = urlsplit(text).hostname or ""
        except ValueError:  # an unbalanced "[" in the host
            text = ""
    if not text or "/" in text or " " in text:
        raise _fail("SITES", "must hold host names such as www.example.com", value)
    return text


_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)


def _domain(value: Any) -> str:
    text = value.strip().lower().strip(".") if isinstance(value, str) else ""
    try:
        text = text.encode("idna").decode("ascii") if text and not text.isascii() else text
    except UnicodeError:
        text = ""
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label)
                                                      for label in labels):
        raise _fail("COOKIE_DOMAIN", "must be a domain of two or more labels such as "
                    "example.com", value)
    return text


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise _fail("EXCLUDE_NETWORKS", "must hold networks such as 10.0.0.0/8 or "
                    "2001:db8::/32", value) from None


def _timezone(raw: Mapping[str, Any]) -> str:
    value = raw.get("TIMEZONE")
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("TIMEZONE", "must be an IANA time zone such as UTC or Europe/Berlin",
                    value) from None
    return str(value)


def _services(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in _list(raw, "SERVICES"):
        if not isinstance(item, Mapping) or not item.get("name") or \
                item.get("purpose") not in OPTIONAL_PURPOSES or \
                not isinstance(item.get("cookies", []), list):
            raise _fail("SERVICES", "must hold tables with a name, a purpose among "
                        + ", ".join(OPTIONAL_PURPOSES) + " and a list of cookie names", item)
        cookies = [str(c).strip() for c in item.get("cookies", [])]
        for cookie in cookies:
            if not _COOKIE_PATTERN.fullmatch(cookie) or cookie.startswith("cg_"):
                raise _fail("SERVICES", "must declare cookie names or name patterns such as "
                            "_ga or _ga_* (not empty, and not cleargif's own cg_ cookies)",
                            cookie)
        out.append({"name": str(item["name"]), "purpose": str(item["purpose"]),
                    "cookies": cookies,
                    "description": str(item.get("description", ""))})
    return out


# A cookie name (RFC 6265 token characters) with * as a wildcard.
_COOKIE_PATTERN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}", re.ASCII)


def _retention(raw: Mapping[str, Any], cls: str, default: int | None,
               remember_days: int) -> int | None:
    key = f"RETENTION_DAYS_{cls}"
    if key not in raw:
        if cls == "REMEMBER":
            return remember_days + 7
        return default
    value = raw[key]
    if value is None or (isinstance(value, str) and not value.strip()):
        # Said but empty (CLEARGIF_X=, x = "" in TOML, null in JSON): a slip, never
        # "use the default", and above all never "keep forever".
        which = "a number of days or unlimited" if cls == "SUPPRESSIONS" else \
            "a number of days"
        raise ConfigError(key, f"{key} is set but empty; give {which}, or remove the "
                          "setting to use the default.")
    if cls == "SUPPRESSIONS" and str(value).strip().lower() == "unlimited":
        return None
    if isinstance(value, str) and value.strip().lower() == "unlimited":
        raise ConfigError(key, f"{key} cannot be unlimited; only the suppression list may "
                          "be kept without limit. Give a number of days.")
    days = _int(raw, key, 1, MAX_RETENTION_DAYS)
    if cls == "REMEMBER" and days < remember_days:
        raise ConfigError(key, f"{key} ({days}) must be at least REMEMBER_DAYS "
                          f"({remember_days}): a token must outlive its own lifetime.")
    return days


# --- key files --------------------------------------------------------------------------

KEY_FILES = {"SECRET_KEYS": "secret_keys", "TOKEN_KEYS": "token_keys"}


def key_file(config: Mapping[str, Any], name: str) -> Path:
    """Where the key list ``name`` (``SECRET_KEYS`` or ``TOKEN_KEYS``) is kept on disk."""
    return Path(config["DATA_DIR"]) / KEY_FILES[name]


def read_keys(config: Mapping[str, Any], name: str) -> list[str]:
    """The key list ``name``: from configuration, else from its file under ``DATA_DIR``.

    :raises ConfigError: neither holds a key; the message says how to create one.
    """
    if config.get(name):
        return list(config[name])
    path = key_file(config, name)
    try:
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        keys = []
    except OSError as exc:
        raise ConfigError(name, f"{name} could not be read from {path} ({exc.strerror}); "
                          "fix its permissions.") from None
    except UnicodeDecodeError:
        raise ConfigError(name, f"{path} is not UTF-8 text; it should hold one key a line, as "
                          "`cleargif keys new` writes them.") from None
    if not keys:
        raise ConfigError(name, f"No {name} configured and {path} does not exist; run "
                          "`cleargif serve` once (it creates the file) or `cleargif keys new`.")
    return keys


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def append_key(config: Mapping[str, Any], name: str, key: str | None = None) -> Path:
    """Append a key to the file of ``name`` (creating it with mode 0600); it signs from now."""
    path = key_file(config, name)
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write((key or new_key()) + "\n")
        os.chmod(path, 0o600)
    except OSError as exc:
        raise ConfigError(name, f"The key file {path} could not be written ({exc.strerror}); "
                          "check that DATA_DIR exists and is writable.") from None
    return path


def ensure_key_files(config: Mapping[str, Any],
                     say: Callable[[str], None] = print) -> None:
    """Create the key files that configuration does not replace, once; later runs reuse them."""
    for name in KEY_FILES:
        if config.get(name):
            continue
        path = key_file(config, name)
        if not path.exists():
            append_key(config, name)
            say(f"Created {path} (mode 0600) with a new key for {name}; keep it secret and "
                "back it up.")
