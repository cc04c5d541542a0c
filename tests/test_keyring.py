"""The one keyring every MAC over SECRET_KEYS goes through (sdk.keyring)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from sdk.errors import ConfigError
from sdk.keyring import Keyring, key_id

OLD, NEW = "old-key-" + "o" * 24, "new-key-" + "n" * 24


def test_keys_are_derived_per_purpose_and_the_newest_signs() -> None:
    ring = Keyring([OLD, NEW], b"purpose a")
    derived = hmac.new(NEW.encode(), b"purpose a", hashlib.sha256).digest()
    kid, mac = ring.sign(b"message")
    assert kid == ring.newest == key_id(derived) == ring.ids[-1]
    assert mac == hmac.new(derived, b"message", hashlib.sha256).digest()
    # Never the raw key, and another purpose gives unrelated MACs.
    assert mac != hmac.new(NEW.encode(), b"message", hashlib.sha256).digest()
    assert Keyring([OLD, NEW], b"purpose b").sign(b"message")[1] != mac


@pytest.mark.parametrize(("keys", "signed_by", "verified"), [
    ([OLD, NEW], [OLD], 0),  # made before the rotation: verifies, names the old key
    ([OLD, NEW], [OLD, NEW], 1),
    ([NEW], [OLD], None),  # the old key retired: nothing verifies
    ([OLD], [NEW], None),
])
def test_every_listed_key_verifies_and_is_named(keys: list[str], signed_by: list[str],
                                                 verified: int | None) -> None:
    tag = Keyring(signed_by, b"p").sign(b"m")[1].hex()
    ring = Keyring(keys, b"p")
    found = ring.verify(b"m", tag)
    assert found == (None if verified is None else ring.ids[verified])
    assert ring.verify(b"other message", tag) is None


def test_check_tells_a_retired_key_from_a_wrong_tag() -> None:
    old = Keyring([OLD], b"p")
    kid, mac = old.sign(b"m")
    assert old.check(b"m", mac.hex(), kid) is True
    assert old.check(b"m", "0" * 64, kid) is False
    assert Keyring([NEW], b"p").check(b"m", mac.hex(), kid) is None  # key not listed


def test_encodings_and_all_macs() -> None:
    ring = Keyring([OLD, NEW], b"p")
    short = ring.sign(b"m")[1].hex()[:32]
    assert ring.verify(b"m", short, lambda d: d.hex()[:32]) == ring.newest
    assert [m.hex() for m in ring.macs(b"m")] == [
        Keyring([k], b"p").sign(b"m")[1].hex() for k in (OLD, NEW)]


@pytest.mark.parametrize("keys", [[], "one-key-not-a-list", [42], {"a", "b"}])
def test_bad_key_lists_are_refused_with_a_sentence(keys: object) -> None:
    with pytest.raises(ConfigError) as info:
        Keyring(keys, b"p")  # type: ignore[arg-type]
    assert info.value.key == "SECRET_KEYS" and str(info.value).endswith(".")
