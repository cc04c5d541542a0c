"""Per-client rate limits kept by a keyed hash of the address, never the address."""

from __future__ import annotations

import pytest

from collector.config import load_config
from collector.errors import ConfigError
from collector.web.ratelimit import DEFAULTS, Limit, RateLimiter, parse_limit


@pytest.mark.parametrize(("text", "limit"), [
    ("100/second", Limit(100, 1.0)), ("5/minute", Limit(5, 60.0)),
    (" 2 / hour ", Limit(2, 3600.0)), ("off", None), ("OFF", None),
])
def test_limits_are_read(text: str, limit: Limit | None) -> None:
    assert parse_limit(text) == limit


@pytest.mark.parametrize("text", ["", "0/second", "-1/minute", "5/day", "5", "five/minute",
                                  "5/minute/2", 5, None])
def test_bad_limits_are_refused_with_a_sentence(text: object) -> None:
    with pytest.raises(ValueError, match="N/second, N/minute or N/hour"):
        parse_limit(text)


def test_a_bucket_allows_n_then_refills() -> None:
    limiter = RateLimiter({"login": Limit(3, 60.0)})
    assert [limiter.hit("login", "203.0.113.9", 0.0) for _ in range(3)] == [None] * 3
    wait = limiter.hit("login", "203.0.113.9", 1.0)
    assert wait is not None and 18.9 < wait <= 20.0  # one token comes back every 20 s
    assert limiter.hit("login", "198.51.100.7", 1.0) is None  # another client is apart
    assert limiter.hit("login", "203.0.113.9", 21.0) is None
    assert limiter.hit("login", "203.0.113.9", 21.0) is not None


def test_off_and_unknown_classes_never_limit() -> None:
    limiter = RateLimiter({"hits": None})
    assert all(limiter.hit("hits", "a", 0.0) is None for _ in range(1000))
    assert limiter.hit("api", "a", 0.0) is None


def test_no_address_is_kept_and_the_key_changes_daily() -> None:
    limiter = RateLimiter({"hits": Limit(1, 1.0)})
    limiter.hit("hits", "203.0.113.9", 0.0)
    assert "203.0.113.9" not in repr(vars(limiter))  # everything the limiter holds
    assert limiter.hit("hits", "203.0.113.9", 0.5) is not None
    # A new day, a new key: yesterday's clients are forgotten.
    assert limiter.hit("hits", "203.0.113.9", 86_400.5) is None
    assert limiter.clients("hits") == 1


def test_memory_is_bounded() -> None:
    limiter = RateLimiter({"hits": Limit(1, 1.0)}, max_clients=50)
    for i in range(500):
        limiter.hit("hits", f"10.0.{i // 256}.{i % 256}", 0.0)
    assert limiter.clients("hits") == 50


def test_configuration_merges_over_the_defaults() -> None:
    config = load_config({"DATA_DIR": "x", "RATE_LIMITS": {"login": "3/minute",
                                                           "hits": "off"}}, environ={})
    limits = config["RATE_LIMITS"]
    assert limits["login"] == Limit(3, 60.0) and limits["hits"] is None
    assert limits["api"] == parse_limit(DEFAULTS["api"])
    config = load_config({"DATA_DIR": "x"}, environ={
        "CLEARGIF_RATE_LIMITS": '{"consent": "20/minute"}'})
    assert config["RATE_LIMITS"]["consent"] == Limit(20, 60.0)


@pytest.mark.parametrize("value", [{"hits": "fast"}, {"everything": "1/second"}, "[1, 2]",
                                   "{not json", 7])
def test_bad_configuration_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"DATA_DIR": "x", "RATE_LIMITS": value}, environ={})
    assert info.value.key == "RATE_LIMITS" and "RATE_LIMITS" in str(info.value)
