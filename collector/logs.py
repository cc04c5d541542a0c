"""Log lines without client data, and floods of failures as one line a minute (DESIGN 3:
no log line of cleargif or of the server it runs holds a client address, a User-Agent or a
query string; a flood of failures logs a summary, not one line per request).

:class:`PrivacyFilter` is the last line of defence: whatever a message or a traceback
holds, addresses become ``:ip`` and query strings ``?…`` before a handler writes it.
Lines known to carry request data are rewritten earlier, where they are made
(:class:`collector.server.logger.PrivateLogger`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable

#: How often a continuing flood of one kind of failure is summarised, in seconds.
FLOOD_PERIOD = 60.0

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d])")
# Candidates only (ipaddress decides), so "12:30:45" or "std::map" stay as they are.
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}"
                   r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.\-]{1,32})?"
                   r"(?![\w:])")
_IP_FIELD = re.compile(r"\b(ip|addr|remote_addr|client)=\S+", re.IGNORECASE)
# A query string after a path or URL, up to the next space or quote.
_QUERY = re.compile(r"(?<=[\w/.\-])\?[^\s'\"]+")
_USER_AGENT = re.compile(r"(user-agent\s*[:=]\s*)[^\r\n'\"]+", re.IGNORECASE)


def _ip(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    return ":ip"


def scrub_line(text: str) -> str:
    """``text`` with IP addresses as ``:ip``, query strings as ``?…`` and User-Agent
    values as ``…``."""
    text = _IP_FIELD.sub(lambda m: f"{m.group(1)}=:ip", text)
    text = _IPV4.sub(_ip, text)
    text = _IPV6.sub(_ip, text)
    text = _USER_AGENT.sub(lambda m: f"{m.group(1)}…", text)
    return _QUERY.sub("?…", text)


#: Pass ``extra=REVIEWED`` to log a line whose every part was chosen to hold no client
#: data (such as a site's origin, which may be written as an IP address): it is written as
#: it is.
REVIEWED = {"cleargif_reviewed": True}


class PrivacyFilter(logging.Filter):
    """Scrub every record (message and traceback) before it is written, but those logged
    with :data:`REVIEWED`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        if getattr(record, "cleargif_reviewed", False) and not record.exc_info:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format
            message = str(record.msg)
        record.msg = scrub_line(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_line(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub_line(record.exc_text)
        return True


def install_filter(logger: logging.Logger) -> None:
    """Put a :class:`PrivacyFilter` on ``logger`` once (records it makes itself are
    scrubbed before they reach any handler)."""
    if not any(isinstance(f, PrivacyFilter) for f in logger.filters):
        logger.addFilter(PrivacyFilter())


class FloodLog:
    """One line for the first failure of a kind, then at most one line a period with how
    many followed; and one line when it stops (:meth:`recovered`).

    :param say: writes one line (``logger.error``, say).
    """

    def __init__(self, say: Callable[[str], None], period: float = FLOOD_PERIOD) -> None:
        self.say = say
        self.period = period
        self._lock = threading.Lock()
        self._logged_at: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}
        self._total: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def failed(self, kind: str, line: str, now: float) -> None:
        """Note one failure of ``kind``; ``line`` says what it was (no client data).

        :param now: a monotonic clock, in seconds.
        """
        with self._lock:
            self._total[kind] = self._total.get(kind, 0) + 1
            self._last[kind] = now
            last = self._logged_at.get(kind)
            if last is not None and now - last < self.period:
                self._unsaid[kind] = self._unsaid.get(kind, 0) + 1
                return
            unsaid = self._unsaid.pop(kind, 0)
            self._logged_at[kind] = now
        if unsaid:
            self.say(f"{line} ({unsaid} more like it in the last "
                     f"{int(now - (last or now))} s; said at most once a minute)")
        else:
            self.say(line)

    def failing(self, kind: str) -> bool:
        """Whether failures of ``kind`` were noted since the last :meth:`recovered`."""
        return kind in self._total

    def last_failure(self, kind: str) -> float | None:
        """When the latest failure of ``kind`` since the last :meth:`recovered` was noted."""
        return self._last.get(kind)

    def recovered(self, kind: str, line: str) -> None:
        """Say that failures of ``kind`` stopped, with how many there were in all."""
        with self._lock:
            total = self._total.pop(kind, 0)
            self._last.pop(kind, None)
            self._unsaid.pop(kind, None)
            self._logged_at.pop(kind, None)
        if total:
            self.say(f"{line} (after {total} failure{'s' if total != 1 else ''})")
