"""A small client of the collector's admin API (``/api/v1/…``), standard library only.

Senders use it with a token of scope ``sender`` to report how many mails a campaign sent
(open rates are counted against it) and to fetch the suppression list before each
send; analysts use a token of scope ``aggregate`` for reports::

    client = AdminClient("https://stats.example.com", os.environ["CLEARGIF_API_TOKEN"])
    client.record_sends("2024-spring", 1200, list="newsletter")
    for entry in client.suppressions(since=last_sync):
        ...
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.message import Message
from typing import IO, Any, Final
from urllib.parse import quote, urlencode, urlsplit

from .errors import ApiError, CleargifError, ConfigError, check_utf8, describe, finite_number
from .tokens import check_base_url

#: Sent as ``User-Agent``, so the collector's logs and audit trail can tell the SDK apart.
USER_AGENT: Final = "cleargif-sdk"
#: Longest answer read, in bytes; a larger one is refused rather than held in memory.
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
#: Most sends one :meth:`AdminClient.record_sends` call reports (the collector's limit).
MAX_SEND_COUNT: Final = 10**9


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would replay the ``Authorization`` header to wherever
    a redirect points, another host included, and turn a POST into a GET."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


class AdminClient:
    """Call the collector's admin API with a bearer token.

    :param base_url: the collector's base URL, such as ``https://stats.example.com``.
        Plain ``http`` is accepted only for a loopback host (``localhost``,
        ``127.0.0.1``, ``::1``): anywhere else it would send the token in clear.
    :param token: an API token (``cleargif token new --scope sender``).
    :param timeout: seconds to wait for the connection and for each read.
    :raises ConfigError: a bad base URL, token or timeout.

    Every method raises :class:`~sdk.errors.ApiError` (with ``status`` and the server's
    message) when the collector answers with a status other than 2xx, redirects
    included, and :class:`~sdk.errors.CleargifError` when it cannot be reached or its
    answer is not JSON.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 10) -> None:
        self.base_url = _check_base_url(base_url)
        if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
            raise ConfigError(
                "token",
                "The API token must be a non-empty string without spaces or control"
                " characters; create one with cleargif token new.",
            )
        seconds = finite_number(timeout)
        if seconds is None or seconds <= 0:
            raise ConfigError("timeout", "The timeout must be a positive, finite number of"
                              " seconds.")
        self._token = token
        self.timeout = seconds
        self._opener = urllib.request.build_opener(_NoRedirects)

    def __repr__(self) -> str:
        return f"AdminClient({self.base_url!r})"  # never the token

    def record_sends(self, campaign: str, count: int, *, list: str | None = None,
                     mode: str | None = None) -> dict[str, Any]:
        """Report that ``count`` more mails of ``campaign`` were sent.

        ``POST /api/v1/campaigns/<campaign>/sends`` with ``{"count": N, "list": …,
        "mode": …}`` (``list`` and ``mode`` left out when ``None``). Needs scope
        ``sender``.

        :param mode: the tracking mode the mails were prepared in (``individual``,
            ``aggregate``, ``none``): a campaign mixing modes reports each apart, so
            report the sends of each mode in their own call.
        :returns: the server's JSON answer.
        :raises ValueError: ``count`` is not a whole number from 0 to
            :data:`MAX_SEND_COUNT`, ``list`` is not a non-empty string or ``None``, or
            ``mode`` is not one of the modes or ``None``.
        """
        if isinstance(count, bool) or not isinstance(count, int) \
                or not 0 <= count <= MAX_SEND_COUNT:
            raise ValueError(f"The send count must be a whole number from 0 to {MAX_SEND_COUNT}"
                             f" (one report per batch), not {describe(count)}.")
        body: dict[str, Any] = {"count": count}
        if list is not None:
            body["list"] = _text(list, "list")
        if mode is not None:
            if mode not in ("individual", "aggregate", "none"):
                raise ValueError("The tracking mode must be individual, aggregate or none (as "
                                 f"the mails were prepared), not {describe(mode)}.")
            body["mode"] = mode
        return _as_object(
            self._request("POST", f"/api/v1/campaigns/{_segment(campaign)}/sends", body=body)
        )

    def suppressions(self, since: str | datetime | None = None) -> list[dict[str, Any]]:
        """Return the suppression list, or the entries created after ``since``.

        ``GET /api/v1/suppressions?since=<ISO-8601>``. Each entry holds ``list``,
        ``recipient``, ``campaign`` and ``created_at``; an entry whose ``list`` is the
        "all mail" entry covers every list. Needs scope ``sender``.

        :param since: an ISO-8601 string, passed as is, or an aware datetime.
        :raises ValueError: ``since`` is a naive datetime.
        """
        query: dict[str, Any] = {}
        if since is not None:
            query["since"] = _iso(since) if isinstance(since, datetime) else since
        out: list[dict[str, Any]] = []
        while True:
            # The list comes in pages; a missed page would mail someone who unsubscribed.
            answer = _as_object(self._request("GET", "/api/v1/suppressions", query=query))
            entries = answer.get("suppressions")
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise CleargifError(
                    "The collector's suppression answer has no list of entries; check that"
                    " base_url points at a cleargif collector of a matching version."
                )
            out.extend(entries)
            cursor = answer.get("next")
            if not cursor:
                return out
            query["after"] = cursor

    def campaign_report(self, campaign: str) -> dict[str, Any]:
        """Return the report of one campaign: ``GET /api/v1/campaigns/<campaign>``."""
        return _as_object(self._request("GET", f"/api/v1/campaigns/{_segment(campaign)}"))

    def aggregate(self, **params: Any) -> dict[str, Any]:
        """Return an aggregate export: ``GET /api/v1/aggregate?…`` with ``params``.

        Dates and datetimes are written in ISO 8601, booleans as ``true``/``false``,
        lists and tuples as repeated parameters; ``None`` values are left out. Needs
        scope ``aggregate``.
        """
        query = {key: value for key, value in params.items() if value is not None}
        return _as_object(self._request("GET", "/api/v1/aggregate", query=query))

    # -- internals --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        url = self.base_url + path
        if query:
            pairs = []
            for key, value in _pairs(query):
                check_utf8(key, "A query parameter name")
                pairs.append((key, _query_value(key, value)))
            url += "?" + urlencode(pairs, quote_via=quote)
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                payload = _read(response)
        except urllib.error.HTTPError as error:
            with error:
                raise ApiError(error.code, _error_message(error)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CleargifError(
                f"Could not reach the collector at {self.base_url}: {reason}. Check base_url"
                " and that the collector is running."
            ) from exc
        if status == 204 or not payload.strip():
            return {}
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise CleargifError(
                f"The collector answered {method} {path} with something other than JSON;"
                " check that base_url points at a cleargif collector."
            ) from exc


def _check_base_url(base_url: str) -> str:
    url = check_base_url(base_url)
    parts = urlsplit(url)
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise ConfigError(
            "base_url",
            "The collector base URL uses plain http, which would send the API token in"
            " clear; use https, such as https://stats.example.com.",
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _segment(value: str) -> str:
    # safe="" so a "/" or "?" in a campaign name stays inside its path segment.
    return quote(_text(value, "campaign"), safe="")


def _text(value: object, name: str) -> str:
    """Return ``value`` if it is a non-empty string that can be sent (UTF-8)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"The {name} must be a non-empty string, not {describe(value)}.")
    check_utf8(value, f"The {name}")
    return value


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            "The datetime is naive; pass an aware one, such as datetime.now(timezone.utc)."
        )
    return moment.astimezone(UTC).isoformat()


def _pairs(query: Mapping[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in query.items():
        if isinstance(value, list | tuple):
            pairs.extend((key, item) for item in value)
        else:
            pairs.append((key, value))
    return pairs


def _query_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    try:
        text = str(value)
    except ValueError:  # an int of more than 4300 digits
        raise ValueError(f"The query parameter {describe(key)} is a number too large to"
                         " send; pass a value the collector can read.") from None
    check_utf8(text, f"The query parameter {describe(key)}")
    return text


def _read(response: IO[bytes]) -> bytes:
    payload = response.read(MAX_RESPONSE_BYTES + 1)
    if len(payload) > MAX_RESPONSE_BYTES:
        raise CleargifError(
            f"The collector's answer is larger than {MAX_RESPONSE_BYTES} bytes; narrow the"
            " request (a later since=, a shorter period)."
        )
    return payload


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = error.read(64 * 1024)
    except OSError:
        body = b""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return str(answer["error"])
    text = body.decode("utf-8", "replace").strip()
    if text:
        return text[:200]
    return str(error.reason or "no message")


def _as_object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise CleargifError(
            "The collector answered with JSON that is not an object; check that base_url"
            " points at a cleargif collector of a matching version."
        )
    return answer
