"""Configuration: load order, validation with the key named, key lists and key files."""

from __future__ import annotations

import stat
from typing import Any

import pytest

from collector import create_app
from collector.config import ensure_key_files, load_config, read_keys
from collector.errors import ConfigError


def test_load_order(tmp_path: Any) -> None:
    toml = tmp_path / "cleargif.toml"
    toml.write_text('k_min = 7\nconsent_days = 90\npolicy_revision = 3\n'
                    'allowed_origins = ["https://a.example"]\n')
    env = {"CLEARGIF_CONFIG": str(toml), "CLEARGIF_CONSENT_DAYS": "30",
           "CLEARGIF_POLICY_REVISION": "4", "CLEARGIF_COOKIE_SECURE": "false"}
    cfg = load_config({"POLICY_REVISION": 5}, environ=env)
    assert cfg["K_MIN"] == 7  # TOML over defaults
    assert cfg["CONSENT_DAYS"] == 30  # environment over TOML
    assert cfg["POLICY_REVISION"] == 5  # test_config over everything
    assert cfg["COOKIE_SECURE"] is False
    assert cfg["ALLOWED_ORIGINS"] == ["https://a.example"]
    assert cfg["SITES"] == ["a.example"]  # default: the hosts of ALLOWED_ORIGINS
    assert cfg["VISITOR_DAYS"] == 390 and cfg["ANONYMOUS_COUNTING"] == "until-refused"


@pytest.mark.parametrize(("value", "want"), [
    ("https://a.example,https://b.example:8443", ["https://a.example", "https://b.example:8443"]),
    ('["https://a.example", "http://localhost:5000/"]', ["https://a.example",
                                                         "http://localhost:5000"]),
    (["HTTPS://A.example:443"], ["https://a.example"]),
])
def test_allowed_origins_forms(value: Any, want: list[str]) -> None:
    assert load_config({"ALLOWED_ORIGINS": value}, environ={})["ALLOWED_ORIGINS"] == want


BAD = [
    ("K_MIN", 0), ("K_MIN", "five"), ("CONSENT_DAYS", -1), ("VISITOR_DAYS", 400),
    ("POLICY_REVISION", "x"), ("ANONYMOUS_COUNTING", "sometimes"), ("HONOR_DNT", "maybe"),
    ("COOKIE_SECURE", 3), ("ALLOWED_ORIGINS", "ftp://x.example"),
    ("ALLOWED_ORIGINS", "https://x.example/path"), ("ALLOWED_ORIGINS", "[not json"),
    ("EXCLUDE_NETWORKS", "10.0.0.0/33"), ("TIMEZONE", "Mars/Olympus"), ("SITES", "a b"),
    ("TRUSTED_PROXIES", -1), ("SECRET_KEYS", ["short"]), ("TOKEN_KEYS", "tiny"),
    ("EVENTS_URL", "postgresql:///cleargif"), ("EVENTS_URL", "postgresql://db.example"),
    ("IDENTITY_URL", "postgresql://db:99999/x"), ("IDENTITY_URL", "mysql://x"),
    ("EVENTS_URL", "sqlite:///"), ("SYNC", "sometimes"), ("COOKIE_DOMAIN", "http://x"),
    ("SERVICES", [{"name": "x", "purpose": "spying"}]), ("RETENTION_DAYS_EVENTS", 0),
    ("RETENTION_DAYS_AUDIT", "unlimited"), ("RETENTION_DAYS_REMEMBER", 3),
    ("CONSENT_DAYS", 999_999_999), ("RETENTION_DAYS_EVENTS", 99_999_999),
    ("POLICY_REVISION", 2**40), ("K_MIN", 10**9),
    ("ALLOWED_ORIGINS", ["https://a.example:99999"]), ("ALLOWED_ORIGINS", ["https://[::1"]),
    ("SITES", [None]), ("SITES", ["https://[::1"]), ("COOKIE_DOMAIN", 5),
    ("COOKIE_DOMAIN", "."), ("COOKIE_DOMAIN", "localhost"), ("COOKIE_DOMAIN", "a" * 300 + ".com"),
    ("COOKIE_DOMAIN", "ex\ud800ample.com"), ("COOKIE_DOMAIN", "-bad-.example.com"),
    ("POLICY_URL", "javascript:alert(1)"), ("POLICY_URL", "data:text/html,x"),
    ("POLICY_URL", "https://example.com/pri vacy"), ("DEFAULT_LANG", "zz"),
    ("EVENTS_URL", "sqlite:///:memory:"), ("IDENTITY_URL", "sqlite:///file:x?mode=memory"),
    ("SERVICES", [{"name": "x", "purpose": "marketing", "cookies": ["cg_consent"]}]),
    ("SERVICES", [{"name": "x", "purpose": "marketing", "cookies": [""]}]),
    ("SERVICES", [{"name": "x", "purpose": "marketing", "cookies": ["a b"]}]),
    ("K_MIN", "9" * 5000), ("EMAIL_CLICK_TOO_SOON_SECONDS", -1),
    ("EMAIL_CLICK_TOO_SOON_SECONDS", 86_401), ("EMAIL_OPEN_TOO_SOON_SECONDS", 2.5),
    ("EMAIL_OPEN_TOO_SOON_SECONDS", "soon"),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_bad_values_name_the_key(tmp_path: Any, key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        create_app({"DATA_DIR": str(tmp_path), key: value})
    assert info.value.key == key
    assert key in str(info.value) and str(info.value).endswith(".")


def test_a_shared_database_needs_keys_in_the_configuration(tmp_path: Any) -> None:
    """Key files are per host: collectors sharing PostgreSQL must share their keys."""
    urls = {"EVENTS_URL": "postgresql://cg_events@db.example/cleargif",
            "IDENTITY_URL": "postgresql://cg_identity@db.example/cleargif"}
    with pytest.raises(ConfigError) as info:
        load_config({"DATA_DIR": str(tmp_path), **urls}, environ={})
    assert info.value.key == "SECRET_KEYS" and "\n" not in str(info.value)
    assert "SECRET_KEYS and TOKEN_KEYS must be set in the configuration" in str(info.value)
    keys = {"SECRET_KEYS": ["s" * 32], "TOKEN_KEYS": ["t" * 32]}
    config = load_config({"DATA_DIR": str(tmp_path), **urls, **keys}, environ={})
    assert config["EVENTS_URL"] == urls["EVENTS_URL"]
    with pytest.raises(ConfigError, match="another database") as info:
        load_config({"DATA_DIR": str(tmp_path), **keys, "EVENTS_URL": urls["EVENTS_URL"],
                     "IDENTITY_URL": urls["EVENTS_URL"]}, environ={})


def test_missing_toml_named(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="CLEARGIF_CONFIG"):
        load_config(environ={"CLEARGIF_CONFIG": str(tmp_path / "nope.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("k_min = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(environ={"CLEARGIF_CONFIG": str(bad)})


def test_unknown_toml_keys_refused_with_a_suggestion(tmp_path: Any) -> None:
    toml = tmp_path / "cleargif.toml"
    toml.write_text('k_mni = 7\n')
    with pytest.raises(ConfigError, match="did you mean K_MIN") as info:
        load_config(environ={"CLEARGIF_CONFIG": str(toml)})
    assert info.value.key == "K_MNI"
    toml.write_text('retention_days_events = 30\n')
    assert load_config(environ={"CLEARGIF_CONFIG": str(toml)})["RETENTION_DAYS_EVENTS"] == 30


def test_same_file_for_both_stores_refused(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/one.db"
    with pytest.raises(ConfigError, match="IDENTITY_URL"):
        load_config({"EVENTS_URL": url, "IDENTITY_URL": url}, environ={})


def test_suppressions_unlimited_only_when_said(tmp_path: Any) -> None:
    cfg = load_config({"RETENTION_DAYS_SUPPRESSIONS": "unlimited"}, environ={})
    assert cfg["RETENTION_DAYS_SUPPRESSIONS"] is None
    cfg = load_config({}, environ={})
    assert cfg["RETENTION_DAYS_EVENTS"] == 390 and cfg["RETENTION_DAYS_REMEMBER"] == 37
    assert cfg["RETENTION_DAYS_AUDIT"] == 1096 and cfg["RETENTION_DAYS_RECEIPTS"] == 1826


def test_key_files_created_once_with_mode_0600(tmp_path: Any) -> None:
    cfg = load_config({"DATA_DIR": str(tmp_path / "d")}, environ={})
    said: list[str] = []
    ensure_key_files(cfg, said.append)
    assert len(said) == 2 and "secret_keys" in said[0]
    for name in ("secret_keys", "token_keys"):
        path = tmp_path / "d" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = read_keys(cfg, "SECRET_KEYS")
    ensure_key_files(cfg, said.append)
    assert len(said) == 2  # reused, not recreated
    assert read_keys(cfg, "SECRET_KEYS") == first


def test_keys_from_config_win(tmp_path: Any) -> None:
    cfg = load_config({"DATA_DIR": str(tmp_path), "SECRET_KEYS": "a" * 20 + "," + "b" * 20},
                      environ={})
    assert read_keys(cfg, "SECRET_KEYS") == ["a" * 20, "b" * 20]
    with pytest.raises(ConfigError, match="cleargif keys new"):
        read_keys(cfg, "TOKEN_KEYS")


def test_keys_new_appends(tmp_path: Any) -> None:
    app = create_app({"DATA_DIR": str(tmp_path)})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "new"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["keys", "new", "--kind", "token"])
    assert result.exit_code == 0
    assert len((tmp_path / "token_keys").read_text().split()) == 2
    assert len((tmp_path / "secret_keys").read_text().split()) == 1


def test_keys_new_refuses_when_configured(tmp_path: Any) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "SECRET_KEYS": ["s" * 20]})
    result = app.test_cli_runner().invoke(args=["keys", "new", "--kind", "secret"])
    assert result.exit_code == 2 and "configuration" in result.output


def test_no_key_no_consent(tmp_path: Any) -> None:
    """Fail closed: without a key the collector signs nothing, and says why."""
    app = create_app({"DATA_DIR": str(tmp_path), "ALLOWED_ORIGINS": ["https://s.example"]})
    r = app.test_client().post("/consent", json={"purposes": {}},
                               headers={"Origin": "https://s.example"})
    assert r.status_code == 500 and "SECRET_KEYS" in r.json["error"]
    assert r.headers.getlist("Set-Cookie") == []


def test_text_keys_from_the_environment_stay_text(tmp_path: Any) -> None:
    cfg = load_config(environ={"CLEARGIF_DATA_DIR": "2024", "CLEARGIF_DEFAULT_LANG": "de",
                               "CLEARGIF_K_MIN": "7"})
    assert cfg["DATA_DIR"] == "2024" and cfg["K_MIN"] == 7


def test_failed_commit_leaves_no_open_transaction(tmp_path: Any) -> None:
    import sqlite3

    from sdk.sqlite import SQLiteFile

    db = SQLiteFile(str(tmp_path / "x.db"), schema=(
        "CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent (id) "
        "DEFERRABLE INITIALLY DEFERRED);"), pragmas=("foreign_keys = ON",))
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        conn.execute("INSERT INTO child (p) VALUES (42)")  # fails only at COMMIT
    assert not db.conn.in_transaction
    with db.transaction() as conn:  # the connection still writes
        conn.execute("INSERT INTO parent (id) VALUES (1)")
    assert db.conn.execute("SELECT COUNT(*) FROM parent").fetchone()[0] == 1
    db.close()


def test_good_values_of_the_stricter_keys(tmp_path: Any) -> None:
    cfg = load_config({"DATA_DIR": str(tmp_path), "COOKIE_DOMAIN": ".Example.COM",
                       "POLICY_URL": "/privacy", "DEFAULT_LANG": "DE",
                       "SERVICES": [{"name": "GA", "purpose": "marketing",
                                     "cookies": ["_ga", "_ga_*"]}]}, environ={})
    assert cfg["COOKIE_DOMAIN"] == "example.com" and cfg["DEFAULT_LANG"] == "de"
    assert load_config({"COOKIE_DOMAIN": "bücher.example"}, environ={})[
        "COOKIE_DOMAIN"] == "xn--bcher-kva.example"
    assert load_config({"POLICY_URL": "https://www.example.com/privacy#cookies"},
                       environ={})["POLICY_URL"].endswith("#cookies")


@pytest.mark.parametrize(("key", "value", "stored"), [
    ("DEFAULT_LANG", "de-DE", "de"), ("DEFAULT_LANG", "en_US", "en"),
    ("POLICY_URL", "privacy.html", "privacy.html"), ("POLICY_URL", "//www.example.com/p",
                                                      "//www.example.com/p"),
    ("COOKIE_DOMAIN", "example.com.", "example.com"),
])
def test_forgiving_where_the_meaning_is_clear(key: str, value: str, stored: str) -> None:
    assert load_config({key: value}, environ={})[key] == stored


def test_the_example_app_s_variables_are_not_settings() -> None:
    load_config(environ={"CLEARGIF_DEMO_USERS": "alice:pw"})


def test_a_long_bad_value_is_shown_on_one_short_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CLEARGIF_K_MIN": "9" * 5000})
    assert len(str(info.value)) < 200 and "(5000 characters)" in str(info.value)


def test_unknown_environment_settings_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean RETENTION_DAYS_EVENTS") as info:
        load_config(environ={"CLEARGIF_RETENTION_DAYS_EVENT": "1"})
    assert info.value.key == "RETENTION_DAYS_EVENT"
    assert "CLEARGIF_RETENTION_DAYS_EVENT" in str(info.value)
    # Variables of the SDK's examples and of the test suite are not settings.
    load_config(environ={"CLEARGIF_API_TOKEN": "x", "CLEARGIF_COLLECTOR_URL": "x",
                         "CLEARGIF_REQUIRE_ALL": "1"})


def test_a_toml_file_that_is_not_utf8_is_named(tmp_path: Any) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'policy_url = "/caf\xe9"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(environ={"CLEARGIF_CONFIG": str(bad)})


@pytest.mark.parametrize(("required", "outcome"), [("1", "Failed"), (None, "Skipped")])
def test_missing_tools_fail_in_ci_and_skip_elsewhere(monkeypatch: pytest.MonkeyPatch,
                                                     required: str | None,
                                                     outcome: str) -> None:
    from tests.conftest import require_or_skip

    if required is None:
        monkeypatch.delenv("CLEARGIF_REQUIRE_ALL", raising=False)
    else:
        monkeypatch.setenv("CLEARGIF_REQUIRE_ALL", required)
    with pytest.raises(BaseException) as info:
        require_or_skip("Chromium missing: apt-get install chromium")
    assert type(info.value).__name__ == outcome
    assert "apt-get install chromium" in str(info.value)
