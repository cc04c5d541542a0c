"""The dashboard's accounts (DESIGN 10): scrypt hashes and ``cleargif user``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector import clock
from collector.dashboard import auth
from tests.conftest import make_config, pageview

PASSWORD = "correct horse battery"
HOST = "www.example.com"
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC).timestamp()
TODAY = date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _fast_scrypt_and_a_fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cost (N=2**15) is tested once below; here each hash costs a millisecond.
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    monkeypatch.setattr(auth, "_decoy", None)
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def dash(app: Flask) -> Flask:
    """The collector with an account ``alice``."""
    auth.add_user(app.extensions["cleargif"].identity, "alice", PASSWORD)
    return app


def csrf(client: FlaskClient, path: str = "/dashboard/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def sign_in(client: FlaskClient, *, user: str = "alice", password: str = PASSWORD,
            remember: bool = False, next_: str | None = None) -> Any:
    data = {"csrf_token": csrf(client), "username": user, "password": password}
    if remember:
        data["remember"] = "yes"
    url = "/dashboard/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data=data)


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


def at(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


def visitors(path: str, n: int, day: date = TODAY, **fields: Any) -> list[dict[str, Any]]:
    """Hits of ``n`` distinct consenting visitors."""
    return [pageview(at(day), session=f"{path}-s{i}".encode().hex()[:32].ljust(32, "0"),
                     visitor=f"{path}-v{i}".encode().hex()[:32].ljust(32, "1"), path=path,
                     **fields) for i in range(n)]


# --- accounts -------------------------------------------------------------------------------

def test_passwords_are_scrypt_hashes_checked_in_constant_time() -> None:
    stored = auth.hash_password("a long enough password", n=2**15)
    kind, n, r, p, salt, digest = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", "32768", "8", "1") and salt and digest
    assert "a long enough password" not in stored
    assert auth.verify_password(stored, "a long enough password")
    assert not auth.verify_password(stored, "a long enough passwore")
    assert auth.hash_password("same password here") != auth.hash_password("same password here")
    assert not auth.verify_password(None, "anything at all")  # the decoy: same work, False
    for broken in ("", "scrypt$x", "bcrypt$1$2$3$4$5", "scrypt$99$8$1$AA$AA"):
        assert not auth.verify_password(broken, "anything")


@pytest.mark.parametrize("name", ["", "-alice", "a b", "alice\n", "ä", "x" * 65, "a/b"])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(auth.AccountError, match="user name"):
        auth.check_name(name)


@pytest.mark.parametrize("password", ["short", " " * 12, "x" * 1025, "pass\udcffword12"])
def test_bad_passwords_are_refused(password: str) -> None:
    with pytest.raises(auth.AccountError, match="password"):
        auth.check_password(password)


def test_user_commands(app: Flask) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(args=["user", "add", "alice", "--password-stdin"],
                        input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    assert "Added alice" in out.stdout
    stored = app.extensions["cleargif"].identity.user_password_hash("alice")
    assert stored and stored.startswith("scrypt$") and PASSWORD not in stored
    out = runner.invoke(args=["user", "add", "alice", "--password-stdin"], input=PASSWORD)
    assert out.exit_code == 2 and "already a user named alice" in out.stderr
    out = runner.invoke(args=["user", "add", "bob"], input="too short\ntoo short\n")
    assert out.exit_code == 2 and "password of 10" in out.stderr
    out = runner.invoke(args=["user", "add", "bob"],
                        input="bob's long password\nbob's long password\n")
    assert out.exit_code == 0, out.output
    out = runner.invoke(args=["user", "add", "-x", "--password-stdin"], input=PASSWORD)
    assert out.exit_code == 2
    out = runner.invoke(args=["user", "add", "carol", "--password-stdin"],
                        input=b"caf\xe9 caf\xe9 caf\xe9\n")
    assert out.exit_code == 2 and "not UTF-8" in out.stderr
    out = runner.invoke(args=["user", "list"])
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["alice", "bob"]
    assert "last sign-in never" in lines[0] and "scrypt" not in out.stdout
    out = runner.invoke(args=["user", "remove", "alice"])
    assert out.exit_code == 0 and "Removed alice" in out.stdout
    out = runner.invoke(args=["user", "remove", "alice"])
    assert out.exit_code == 2 and "No user is named alice" in out.stderr


def test_user_commands_refuse_a_missing_data_folder(tmp_path: Path) -> None:
    from collector import create_app

    app = create_app(make_config(tmp_path))
    out = app.test_cli_runner().invoke(args=["user", "list"])
    assert out.exit_code == 2 and "No cleargif data here" in out.stderr
    assert not (tmp_path / "data").exists()


