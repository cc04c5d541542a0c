"""Per-client rate limits without keeping addresses (DESIGN 3, "Rate limits without
addresses").

A client is known only by a keyed hash of its address, held in this process's memory: the
key is random, made when the process starts and again every day, so yesterday's hashes
cannot be matched with today's and nothing written anywhere can be traced back to an
address. Each class of request (``hits``, ``consent``, ``api``, ``login``) has its own
token bucket per client: ``N`` requests, refilled at ``N`` per period. With several
workers or hosts each keeps its own buckets, so a limit holds per worker.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from sdk.sqlite import real_threads

#: The classes of requests a limit applies to.
CLASSES = ("hits", "consent", "api", "login")
#: The limits when ``RATE_LIMITS`` says nothing of a class: generous for browsers behind
#: one address (an office, a mobile carrier), tight for guessing passwords.
DEFAULTS: Mapping[str, str] = {"hits": "100/second", "consent": "60/minute",
                               "api": "300/minute", "login": "10/minute"}
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
#: Clients remembered per class and process; the least recently seen are forgotten first
#: (a flood of addresses costs memory only up to this).
MAX_CLIENTS = 100_000
#: How often the hashing key is replaced.
SALT_SECONDS = 86400.0

_LIMIT = re.compile(r"\s*(\d{1,9})\s*/\s*(second|minute|hour)\s*", re.ASCII)


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` requests per ``period`` seconds; None (``off``) for no limit."""

    count: int
    period: float

    @property
    def rate(self) -> float:
        """Requests a second the bucket refills at."""
        return self.count / self.period


def parse_limit(value: object) -> Limit | None:
    """``"N/second"``, ``"N/minute"``, ``"N/hour"`` or ``"off"`` (None).

    :raises ValueError: with a sentence naming the accepted forms.
    """
    if isinstance(value, str) and value.strip().lower() == "off":
        return None
    match = _LIMIT.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        raise ValueError("must be written N/second, N/minute or N/hour with N of at least 1, "
                         "or off")
    return Limit(int(match.group(1)), PERIODS[match.group(2)])


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets per class and client, in memory.

    :param limits: class name to :class:`Limit` (None: not limited).
    """

    def __init__(self, limits: Mapping[str, Limit | None],
                 max_clients: int = MAX_CLIENTS) -> None:
        self.limits = dict(limits)
        self.max_clients = max_clients
        self._buckets: dict[str, OrderedDict[bytes, _Bucket]] = {
            name: OrderedDict() for name in self.limits}
        # An operating-system lock even in a gevent worker: nothing inside yields to
        # another greenlet while it is held, and it costs half of gevent's on every hit.
        self._lock = real_threads().lock()
        self._salt = secrets.token_bytes(16)
        self._salt_since: float | None = None

    def _client(self, address: str, now: float) -> bytes:
        if self._salt_since is None or now - self._salt_since >= SALT_SECONDS:
            # A new key forgets every client: no hash outlives the day it was made in.
            self._salt = secrets.token_bytes(16)
            self._salt_since = now
            for buckets in self._buckets.values():
                buckets.clear()
        return hashlib.blake2b(address.encode("utf-8", "replace"), key=self._salt,
                               digest_size=12).digest()

    def hit(self, kind: str, address: str | None, now: float) -> float | None:
        """Take one request of class ``kind`` from the client at ``address``: None when it
        is within the limit, else the seconds to wait before the next one is allowed.

        :param now: a monotonic clock, in seconds.
        """
        limit = self.limits.get(kind)
        if limit is None:
            return None
        with self._lock:
            client = self._client(address or "", now)
            buckets = self._buckets[kind]
            bucket = buckets.get(client)
            if bucket is None:
                bucket = buckets[client] = _Bucket(float(limit.count), now)
                if len(buckets) > self.max_clients:
                    buckets.popitem(last=False)
            else:
                buckets.move_to_end(client)
                bucket.tokens = min(float(limit.count),
                                    bucket.tokens + (now - bucket.stamp) * limit.rate)
                bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / limit.rate

    def clients(self, kind: str) -> int:
        """How many clients of a class are remembered now (for tests and metrics)."""
        with self._lock:
            return len(self._buckets.get(kind, ()))
