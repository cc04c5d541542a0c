"""The remember-me token store (sdk.remember), driven by a fake clock."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from sdk import sqlite as sqlite_module
from sdk.errors import ConfigError
from sdk.remember import MAX_COOKIE_CHARS, Recall, RememberStore
from sdk.sqlite import BUSY_TIMEOUT_MS, SQLiteFile
from tests.conftest import Clock

DAY = 86400
KEYS = ["an-old-key-still-verifying-0001", "the-newest-key-signs-000000002"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/identity.db"


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[RememberStore]:
    with RememberStore(db_url, keys=KEYS, clock=clock) as s:
        yield s


def parts(cookie: str) -> tuple[str, str, str]:
    selector, validator, mac = cookie.split(".")
    return selector, validator, mac


def rows(store: RememberStore, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(sql, params).fetchall()


def token_count(store: RememberStore, account: str | None = None) -> int:
    if account is None:
        return int(rows(store, "SELECT count(*) FROM remember_tokens")[0][0])
    return int(rows(store, "SELECT count(*) FROM remember_tokens WHERE account = ?",
                    account)[0][0])


# --- issue and recall -----------------------------------------------------------------------

def test_issue_gives_a_signed_cookie_and_stores_only_a_hash(store: RememberStore,
                                                            clock: Clock) -> None:
    issued = store.issue("alice")

    selector, validator, _ = parts(issued.cookie_value)
    assert len(issued.cookie_value) <= MAX_COOKIE_CHARS
    assert issued.max_age == 30 * DAY
    assert issued.expires_at == clock.now + 30 * DAY
    (row,) = rows(store, "SELECT selector, account, validator_hash, created_at, expires_at "
                         "FROM remember_tokens")
    assert row == (selector, "alice", hashlib.sha256(validator.encode()).digest(),
                   clock.now, clock.now + 30 * DAY)
    # The validator itself is nowhere in the database files.
    store.close()
    files = b"".join(p.read_bytes() for p in Path(store.path).parent.iterdir() if p.is_file())
    assert validator.encode() not in files
    assert issued.cookie_value not in repr(issued)


def test_recall_logs_in_and_rotates_the_validator(store: RememberStore, clock: Clock) -> None:
    issued = store.issue("alice")
    clock.advance(3600)

    result = store.recall(issued.cookie_value)

    assert result.account == "alice"
    assert result.reason == "rotated"
    assert not result.theft
    assert result.new_cookie_value is not None
    old_selector, old_validator, _ = parts(issued.cookie_value)
    new_selector, new_validator, _ = parts(result.new_cookie_value)
    assert new_selector == old_selector
    assert new_validator != old_validator
    assert result.expires_at == issued.expires_at  # carried over, never extended
    assert result.max_age == 30 * DAY - 3600
    assert result.new_cookie_value not in repr(result)
    (last_used,) = rows(store, "SELECT last_used_at FROM remember_tokens")[0]
    assert last_used == clock.now


def test_the_new_validator_works_and_ends_the_previous_one(store: RememberStore,
                                                           clock: Clock) -> None:
    first = store.issue("alice").cookie_value
    second = store.recall(first).new_cookie_value
    assert second is not None
    clock.advance(5)

    third = store.recall(second)
    assert third.account == "alice" and third.reason == "rotated"

    # The first validator was superseded once the second was presented: a replay is theft,
    # even inside the grace window of the first rotation.
    replay = store.recall(first)
    assert replay.theft and replay.theft_account == "alice"
    assert token_count(store, "alice") == 0


def test_grace_two_parallel_recalls_get_the_same_cookie(store: RememberStore,
                                                        clock: Clock) -> None:
    cookie = store.issue("alice").cookie_value

    tab_one = store.recall(cookie)
    clock.advance(2)
    tab_two = store.recall(cookie)  # sent before tab one's response arrived

    assert (tab_one.account, tab_two.account) == ("alice", "alice")
    assert (tab_one.reason, tab_two.reason) == ("rotated", "grace")
    assert not tab_two.theft
    # Whatever order the responses reach the browser, it keeps a valid cookie.
    assert tab_two.new_cookie_value == tab_one.new_cookie_value
    assert tab_two.max_age == tab_one.max_age - 2

    clock.advance(57)  # 59 s after the rotation: still inside the window
    assert store.recall(cookie).account == "alice"
    assert tab_one.new_cookie_value is not None
    assert store.recall(tab_one.new_cookie_value).reason == "rotated"


def test_concurrent_recall_from_two_threads(store: RememberStore) -> None:
    cookie = store.issue("alice").cookie_value
    barrier = threading.Barrier(2)
    results: list[Recall] = []
    errors: list[BaseException] = []

    def recall() -> None:
        try:
            barrier.wait()
            results.append(store.recall(cookie))
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=recall) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(r.reason for r in results) == ["grace", "rotated"]
    assert {r.account for r in results} == {"alice"}
    assert results[0].new_cookie_value == results[1].new_cookie_value
    assert not any(r.theft for r in results)


@pytest.mark.parametrize("after", [60, 61, 3600])
def test_theft_replaying_an_old_validator_after_the_grace(store: RememberStore, clock: Clock,
                                                          after: int) -> None:
    stolen = store.issue("alice").cookie_value
    laptop = store.issue("alice").cookie_value
    bob = store.issue("bob").cookie_value
    epoch_before = store.epoch("alice")
    rotated = store.recall(stolen).new_cookie_value  # the owner's browser comes back
    assert rotated is not None
    clock.advance(after)

    replay = store.recall(stolen)

    assert replay == Recall(None, theft=True, theft_account="alice", reason="theft")
    assert token_count(store, "alice") == 0  # every token of the account
    assert store.recall(rotated).account is None
    assert store.recall(laptop).account is None
    assert store.epoch("alice") > epoch_before
    assert store.recall(bob).account == "bob"  # other accounts are untouched


def test_grace_ends_just_before_sixty_seconds(store: RememberStore, clock: Clock) -> None:
    cookie = store.issue("alice").cookie_value
    store.recall(cookie)
    clock.advance(59.999)
    assert store.recall(cookie).reason == "grace"


def test_a_grace_shorter_than_sixty_seconds_is_refused(db_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        RememberStore(db_url, keys=KEYS, grace_seconds=30)
    assert info.value.key == "grace_seconds"


# --- expiry and epoch -----------------------------------------------------------------------

def test_absolute_expiry_with_a_moved_clock(store: RememberStore, clock: Clock) -> None:
    issued = store.issue("alice")
    cookie = issued.cookie_value
    for step in (7 * DAY, 13 * DAY + 0.5, 9 * DAY, DAY - 2):  # rotates on every recall
        clock.advance(step)
        result = store.recall(cookie)
        assert result.account == "alice"
        assert result.expires_at == issued.expires_at
        # Max-Age never reaches past the absolute expiry.
        assert clock.now + result.max_age <= issued.expires_at
        assert result.max_age == int(issued.expires_at - clock.now)
        assert result.new_cookie_value is not None
        cookie = result.new_cookie_value
    assert result.max_age == 1

    clock.advance(1.5)  # exactly REMEMBER_DAYS after the login
    expired = store.recall(cookie)

    assert expired == Recall(None, reason="expired")
    assert token_count(store) == 0  # the row is deleted


def test_remember_days_sets_the_lifetime(db_url: str, clock: Clock) -> None:
    with RememberStore(db_url, keys=KEYS, days=2, clock=clock) as short:
        issued = short.issue("alice")
        assert issued.max_age == 2 * DAY
        clock.advance(2 * DAY)
        assert short.recall(issued.cookie_value).reason == "expired"


def test_epoch_bump_ends_every_token(store: RememberStore) -> None:
    one = store.issue("alice").cookie_value
    two = store.issue("alice").cookie_value
    assert store.epoch("alice") == 0

    new_epoch = store.bump_epoch("alice")

    assert new_epoch == store.epoch("alice") > 0
    assert store.recall(one).account is None
    assert store.recall(two).account is None
    after = store.issue("alice").cookie_value  # a new login works under the new epoch
    assert store.recall(after).account == "alice"


def test_a_token_of_an_ended_epoch_is_refused_and_deleted(store: RememberStore) -> None:
    cookie = store.issue("alice").cookie_value
    # Another process bumped the epoch between our reads: the token row is still there.
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO remember_accounts (account, epoch, changed_at) "
                     "VALUES ('alice', 5, 0)")

    assert store.recall(cookie) == Recall(None, reason="revoked")
    assert token_count(store) == 0


def test_epochs_never_repeat_even_after_erasure(store: RememberStore, clock: Clock) -> None:
    first = store.bump_epoch("alice")
    assert store.bump_epoch("alice") > first
    store.erase_account("alice")
    assert store.epoch("alice") == 0
    clock.advance(1)
    assert store.bump_epoch("alice") > first + 1


# --- forget -------------------------------------------------------------------------------

def test_forget_ends_this_browser_only(store: RememberStore) -> None:
    here = store.issue("alice").cookie_value
    elsewhere = store.issue("alice").cookie_value

    assert store.forget(here) is True
    assert store.forget(here) is False

    assert store.recall(here) == Recall(None, reason="unknown")
    assert store.recall(elsewhere).account == "alice"


def test_forget_accepts_a_superseded_validator(store: RememberStore) -> None:
    cookie = store.issue("alice").cookie_value
    store.recall(cookie)
    assert store.forget(cookie) is True
    assert token_count(store) == 0


def test_forget_everywhere(store: RememberStore) -> None:
    cookies = [store.issue("alice").cookie_value for _ in range(3)]
    bob = store.issue("bob").cookie_value

    assert store.forget_everywhere("alice") == 3

    assert all(store.recall(c).account is None for c in cookies)
    assert store.recall(bob).account == "bob"
    assert store.forget_everywhere("nobody") == 0


# --- bad values -------------------------------------------------------------------------------

def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


BAD_VALUES = {
    "tampered selector": lambda c: _flip(c, 3),
    "tampered validator": lambda c: _flip(c, 30),
    "tampered mac": lambda c: _flip(c, len(c) - 5),
    "truncated": lambda c: c[:-1],
    "truncated to the selector": lambda c: c.split(".")[0],
    "two parts": lambda c: c.rpartition(".")[0],
    "oversized": lambda c: c + "A" * (MAX_COOKIE_CHARS + 1 - len(c)),
    "huge": lambda c: "A" * 100_000,
    "extra part": lambda c: c + ".AAAA",
    "padding": lambda c: c + "=",
    "not base64": lambda c: c.replace(c[5], "*", 1),
    "empty": lambda c: "",
    "unicode": lambda c: c[:-1] + "é",
    "quoted": lambda c: f'"{c}"',
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_values_are_refused_without_touching_the_database(
        store: RememberStore, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    cookie = store.issue("alice").cookie_value
    bad = BAD_VALUES[name](cookie)
    assert bad != cookie

    class NoDatabase:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("a refused cookie must not reach the database")

    with monkeypatch.context() as patch:
        patch.setattr(store, "_db", NoDatabase())
        result = store.recall(bad)
        assert store.forget(bad) is False

    assert result.account is None and not result.theft
    assert result.reason in {"malformed", "oversized", "bad-signature"}
    assert store.recall(cookie).account == "alice"  # no theft alarm was raised


def test_non_string_values_are_refused(store: RememberStore) -> None:
    assert store.recall(None).reason == "malformed"  # type: ignore[arg-type]
    assert store.recall(b"x.y.z").reason == "malformed"  # type: ignore[arg-type]


def test_a_cookie_made_under_another_deployments_key_is_refused(db_url: str,
                                                                 clock: Clock) -> None:
    with RememberStore(db_url, keys=["someone-elses-key-0000000000"], clock=clock) as foreign, \
            RememberStore(db_url, keys=KEYS, clock=clock) as ours:
        cookie = foreign.issue("alice").cookie_value  # same selector space, same database
        result = ours.recall(cookie)
        assert result == Recall(None, reason="bad-signature")
        assert ours.forget(cookie) is False
        assert foreign.recall(cookie).account == "alice"


def test_key_rotation_newest_signs_all_verify(db_url: str, clock: Clock) -> None:
    old, new = KEYS
    with RememberStore(db_url, keys=[old], clock=clock) as before, \
            RememberStore(db_url, keys=[old, new], clock=clock) as during, \
            RememberStore(db_url, keys=[new], clock=clock) as after:
        cookie = before.issue("alice").cookie_value
        result = during.recall(cookie)  # verified by the old key, re-signed by the new
        assert result.account == "alice" and result.new_cookie_value is not None
        assert after.recall(result.new_cookie_value).account == "alice"
        assert after.recall(before.issue("bob").cookie_value).reason == "bad-signature"


# --- privacy officer tooling ----------------------------------------------------------------

def test_export_has_dates_and_no_secrets(store: RememberStore, clock: Clock) -> None:
    first = store.issue("alice")
    clock.advance(DAY)
    second = store.issue("alice")
    rotated = store.recall(second.cookie_value).new_cookie_value
    store.issue("bob")

    exported = store.export_account("alice")

    assert exported == [
        {"kind": "remember_me_token", "created_at": "2023-11-14T22:13:20Z",
         "expires_at": "2023-12-14T22:13:20Z", "last_used_at": "2023-11-14T22:13:20Z"},
        {"kind": "remember_me_token", "created_at": "2023-11-15T22:13:20Z",
         "expires_at": "2023-12-15T22:13:20Z", "last_used_at": "2023-11-15T22:13:20Z"},
    ]
    text = json.dumps(exported)
    for cookie in (first.cookie_value, second.cookie_value, rotated or ""):
        for part in parts(cookie):
            assert part not in text
            assert hashlib.sha256(part.encode()).hexdigest() not in text
    assert store.export_account("nobody") == []


def test_erase_account_leaves_no_bytes_behind(store: RememberStore) -> None:
    cookies = [store.issue("alice-the-erased").cookie_value for _ in range(2)]
    store.bump_epoch("alice-the-erased")
    cookies += [store.issue("alice-the-erased").cookie_value for _ in range(2)]
    bob = store.issue("bob").cookie_value

    assert store.erase_account("alice-the-erased") == 2

    assert store.export_account("alice-the-erased") == []
    assert store.epoch("alice-the-erased") == 0
    assert store.recall(bob).account == "bob"
    store.close()
    files = b"".join(p.read_bytes() for p in Path(store.path).parent.iterdir() if p.is_file())
    assert b"alice-the-erased" not in files
    for cookie in cookies:
        assert parts(cookie)[0].encode() not in files


def test_purge_deletes_tokens_seven_days_past_expiry_in_batches(
        store: RememberStore, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    start = clock.now
    old = [store.issue("alice").cookie_value for _ in range(3)]
    clock.advance(10 * DAY)
    recent = store.issue("alice").cookie_value
    # Many more expired tokens, inserted directly, to need several batches.
    with sqlite3.connect(store.path) as conn:
        conn.executemany(
            "INSERT INTO remember_tokens (selector, account, epoch, validator_hash, "
            "created_at, expires_at) VALUES (?, 'bulk', 0, x'00', ?, ?)",
            [(f"bulk{i:05d}", start, start + 30 * DAY) for i in range(1_100)])
    transactions = 0
    write = store._write

    def counting_write() -> AbstractContextManager[sqlite3.Connection]:
        nonlocal transactions
        transactions += 1
        return write()

    monkeypatch.setattr(store, "_write", counting_write)
    boundary = start + 37 * DAY

    assert store.purge_expired(boundary) == 0  # exactly lifetime + 7 days: kept
    assert store.purge_expired(boundary + 1) == 1_103
    assert transactions >= 1 + 3  # 1,103 rows go in batches of 500
    assert token_count(store) == 1
    assert all(store.recall(c).reason == "unknown" for c in old)
    assert store.recall(recent).account == "alice"
    assert store.purge_expired(boundary + 3 * DAY + 1, keep_days=0) == 1


def test_purge_keep_days_must_be_a_whole_number(store: RememberStore) -> None:
    with pytest.raises(ValueError, match="keep_days"):
        store.purge_expired(0, keep_days=-1)


def test_privacy_tooling_needs_no_keys(db_url: str, store: RememberStore) -> None:
    store.issue("alice")
    with RememberStore(db_url, keys=()) as keyless:
        assert len(keyless.export_account("alice")) == 1
        assert keyless.erase_account("alice") == 1
        with pytest.raises(ConfigError) as info:
            keyless.issue("alice")
        assert info.value.key == "SECRET_KEYS"


# --- configuration and storage --------------------------------------------------------------

@pytest.mark.postgres
def test_the_same_life_cycle_on_postgresql(postgres: Any) -> None:
    """Issue, recall, rotate, theft, forget everywhere and purge, in the identity schema
    of a PostgreSQL database as the collector's PostgreSQL backend keeps it."""
    url = postgres.new_database("remember")
    clock = Clock()
    with RememberStore(url, keys=KEYS, clock=clock) as store:
        issued = store.issue("alice")
        assert store.path is None and "secret" not in store._db.location
        recall = store.recall(issued.cookie_value)
        assert recall.account == "alice" and recall.new_cookie_value
        assert store.recall(issued.cookie_value).reason == "grace"  # a parallel tab
        assert store.recall(recall.new_cookie_value).account == "alice"  # rotates again
        stolen = store.recall(issued.cookie_value)  # two rotations old: someone copied it
        assert stolen.theft and stolen.theft_account == "alice"
        assert store.epoch("alice") > 0  # every login of alice ended
        second = store.issue("bob").cookie_value
        assert store.forget_everywhere("bob") == 1
        assert store.recall(second).account is None
        clock.advance(40 * DAY)
        store.issue("carol")
        assert store.purge_expired(clock.now) == 0
        assert store.export_account("carol")[0]["expires_at"]
        assert store.erase_account("carol") == 1
    import psycopg

    with psycopg.connect(url) as conn:
        tables = {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "'cleargif_identity'")}
    assert {"remember_tokens", "remember_accounts"} <= tables


@pytest.mark.parametrize("url", ["", "sqlite:///", "sqlite://", "sqlite:///:memory:",
                                 "mysql://db/x", "/tmp/identity.db"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        RememberStore(url, keys=KEYS)
    assert info.value.key == "IDENTITY_URL"


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"keys": "one-key-as-a-string"}, "SECRET_KEYS"),
    ({"keys": ["good-key", ""]}, "SECRET_KEYS"),
    ({"keys": KEYS, "days": 0}, "REMEMBER_DAYS"),
    ({"keys": KEYS, "days": True}, "REMEMBER_DAYS"),
])
def test_bad_settings_are_refused(db_url: str, kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        RememberStore(db_url, **kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


@pytest.mark.parametrize("keys", [
    [32], [KEYS[0], 64], [None], [1.5], [bytearray(b"k" * 20)], ["\ud800" * 20], [""],
    None, 5, object(), set(KEYS), {KEYS[0]: 1},
], ids=["int", "int-after-good", "none", "float", "bytearray", "surrogates", "empty",
        "bare-none", "bare-int", "object", "set", "dict"])
def test_keys_that_are_not_str_or_bytes_are_refused_not_converted(db_url: str,
                                                                   keys: object) -> None:
    # bytes(32) is 32 zero bytes: an int key would sign cookies with a key anyone knows.
    with pytest.raises(ConfigError) as info:
        RememberStore(db_url, keys=keys)  # type: ignore[arg-type]
    assert info.value.key == "SECRET_KEYS"
    message = str(info.value)
    assert message[:1].isupper() and message.endswith(".") and KEYS[0] not in message


def test_bytes_keys_sign_like_their_str(db_url: str, clock: Clock) -> None:
    with RememberStore(db_url, keys=KEYS, clock=clock) as as_str, \
            RememberStore(db_url, keys=[k.encode() for k in KEYS], clock=clock) as as_bytes:
        assert as_bytes.recall(as_str.issue("alice").cookie_value).account == "alice"


BAD_ACCOUNTS = ["\ud800", "a\udcffb", "", "x" * 257, 5, None, 10**5000, b"alice"]
BAD_ACCOUNT_IDS = ["surrogate", "inner-surrogate", "empty", "too-long", "int", "none",
                   "huge-int", "bytes"]


@pytest.mark.parametrize("method", ["issue", "forget_everywhere", "bump_epoch", "epoch",
                                    "export_account", "export_epoch", "erase_account"])
@pytest.mark.parametrize("account", BAD_ACCOUNTS, ids=BAD_ACCOUNT_IDS)
def test_account_ids_that_cannot_be_stored_are_refused_with_a_sentence(
        store: RememberStore, method: str, account: object) -> None:
    store.issue("alice")
    with pytest.raises(ValueError, match=r"^The account id .+\.$") as info:
        getattr(store, method)(account)
    assert not isinstance(info.value, UnicodeError)
    assert rows(store, "SELECT count(*) FROM remember_accounts") == [(0,)]
    assert token_count(store) == 1


@pytest.mark.parametrize("now", [None, "x", b"x", True, float("nan"), float("inf"), 10**5000],
                         ids=["none", "str", "bytes", "bool", "nan", "inf", "huge-int"])
def test_purges_refuse_a_bad_time_with_a_sentence(store: RememberStore, now: object) -> None:
    store.issue("alice")
    with pytest.raises(ValueError, match=r"^The current time \(now\) .+\.$"):
        store.purge_expired(now)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^The cutoff time \(before\) .+\.$"):
        store.purge_accounts(now)  # type: ignore[arg-type]
    assert token_count(store) == 1


@pytest.mark.parametrize("keep_days", [-1, None, "7", 1.5, 36_501, 10**5000, "x" * 1000],
                         ids=["negative", "none", "str", "float", "over-100-years",
                              "huge-int", "long-str"])
def test_purge_keep_days_is_refused_with_a_short_sentence(store: RememberStore,
                                                          keep_days: object) -> None:
    with pytest.raises(ValueError, match=r"^The days to keep expired tokens \(keep_days\)") \
            as info:
        store.purge_expired(0, keep_days=keep_days)  # type: ignore[arg-type]
    assert len(str(info.value)) < 150


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"days": 10**5000}, "REMEMBER_DAYS"),
    ({"days": 401}, "REMEMBER_DAYS"),
    ({"grace_seconds": 10**5000}, "grace_seconds"),
], ids=["huge-days", "401-days", "huge-grace"])
def test_lifetimes_past_the_collectors_range_are_refused(db_url: str, kwargs: dict[str, int],
                                                         key: str) -> None:
    with pytest.raises(ConfigError) as info:
        RememberStore(db_url, keys=KEYS, **kwargs)  # type: ignore[arg-type]
    assert info.value.key == key
    assert len(str(info.value)) < 250


def test_a_relative_url_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with RememberStore("sqlite:///data/identity.db", keys=KEYS) as store:
        store.issue("alice")
    assert (tmp_path / "data" / "identity.db").is_file()


def test_shares_the_identity_file_and_sets_its_pragmas(store: RememberStore) -> None:
    with sqlite3.connect(store.path) as conn:  # the collector's tables are already there
        conn.execute("CREATE TABLE suppressions (list TEXT, recipient TEXT)")
        conn.execute("INSERT INTO suppressions VALUES ('news', 'r1')")
    store.issue("alice")
    with sqlite3.connect(store.path) as conn:  # WAL is a property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert rows(store, "SELECT * FROM suppressions") == [("news", "r1")]
    tables = {r[0] for r in rows(store, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"suppressions", "remember_tokens", "remember_accounts"}


def test_a_file_connection_per_thread_with_its_pragmas(tmp_path: Path) -> None:
    db = SQLiteFile(str(tmp_path / "x.db"))
    here = db.conn
    assert here.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert here.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    there: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: there.append(db.conn))
    thread.start()
    thread.join()
    assert there[0] is not here
    assert db.conn is here
    db.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_opens_its_own_connection(store: RememberStore) -> None:
    cookie = store.issue("alice").cookie_value  # the parent has a connection open
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's teardown
        try:
            result = store.recall(cookie)
            os.write(write, json.dumps([result.account]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    os.waitpid(pid, 0)
    assert json.loads(report) == ["alice"]
    assert store.recall(cookie).reason == "grace"  # the child's rotation is visible here


def test_reopens_when_the_pid_changes(tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = SQLiteFile(str(tmp_path / "x.db"))
    before = db.conn
    monkeypatch.setattr(os, "getpid", lambda: -1)
    after = db.conn
    assert after is not before
    assert before in sqlite_module._inherited  # kept, never closed in the "child"
    sqlite_module._inherited.remove(before)
    before.close()
