"""Aggregate export: dimensions, formats, filters, suppression and the admin API."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.analytics.query import (
    DIMENSIONS,
    OTHER,
    Aggregator,
    Query,
    QueryError,
    parse_dimensions,
)
from tests.conftest import make_app, pageview, seed

DAY1 = int(datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("UTC")).timestamp())


def record(ts: int = DAY1, session: str | None = None, visitor: str | None = None,
           **fields: Any) -> dict[str, Any]:
    return pageview(ts, session, visitor, **fields)


def big_site() -> list[dict[str, Any]]:
    """/popular: 6 visitors; /rare-a, /rare-b: 3 visitors each; one bot page."""
    rows = []
    for i in range(6):
        rows.append(record(session=f"{i:032x}", visitor=f"{i + 100:032x}", path="/popular"))
        rows.append(record(session=f"{i:032x}", visitor=f"{i + 100:032x}", path="/popular"))
    for i in range(3):
        rows.append(record(session=f"{i + 10:032x}", visitor=f"{i + 200:032x}", path="/rare-a"))
        rows.append(record(session=f"{i + 20:032x}", visitor=f"{i + 300:032x}", path="/rare-b"))
    for _ in range(20):
        rows.append(record(path="/bot-bait", device="bot", browser="Googlebot"))
    return rows


def run(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["export", *args])


def test_suppression_and_other_row(app: Any) -> None:
    seed(app, big_site())
    result = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
                 "--by", "path", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    rows = {r["path"]: r for r in body["rows"]}
    assert set(rows) == {"/popular", OTHER}  # rare pages fold; bots left out
    assert rows["/popular"] == {"path": "/popular", "hits": 12, "visits": 6,
                                "returning_visitors": 6}
    assert rows[OTHER] == {"path": OTHER, "hits": 6, "visits": 6, "returning_visitors": 6}
    assert body["meta"]["k_min"] == 5 and body["meta"]["suppressed_cells"] == 2
    assert any("differencing" in n for n in body["meta"]["notes"])


def test_other_row_itself_suppressed(app: Any) -> None:
    seed(app, [record(path="/a", session="a" * 32, visitor="b" * 32)] * 5 +
         [record(path="/b", session="c" * 32, visitor="d" * 32)])
    # /a has 1 visitor (< 5): suppressed; (other) has 2 visitors: suppressed too
    body = json.loads(run(app.test_cli_runner(), "--since", "2026-03-01", "--until",
                          "2026-03-01", "--by", "path", "--format", "json").stdout)
    assert body["rows"] == [] and body["meta"]["other_suppressed"] is True


def test_fallback_measures() -> None:
    agg = Aggregator(("path",))
    for _ in range(5):
        agg.add_event(("/anon",), None, None)  # no ids: hits count
    for i in range(4):
        agg.add_event(("/sessions",), f"s{i}", None)  # 4 sessions < 5
    result = agg.result(5)
    assert [r["path"] for r in result.rows] == ["/anon"]
    assert result.other_suppressed  # the 4 sessions folded are still fewer than 5


def test_bots_included_on_request(app: Any) -> None:
    seed(app, big_site())
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--by", "device", "--format", "json", "--include-bots")
    rows = {r["device"]: r["hits"] for r in json.loads(out.stdout)["rows"]}
    assert rows == {"bot": 20, "desktop": 18}


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_each_dimension(app: Any, dim: str) -> None:
    rows = []
    for i in range(5):
        rows.append(record(session=f"{i:032x}", path="/p", referrer_host="news.example",
                           utm_source="mail", utm_medium="email", utm_campaign="spring",
                           lang="de", os="Android", device="mobile", browser="Chrome"))
    seed(app, rows)
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-02",
              "--by", dim, "--format", "ndjson")
    assert out.exit_code == 0, out.output
    [line] = out.stdout.splitlines()
    row = json.loads(line)
    expected = {"day": "2026-03-01", "path": "/p", "referrer_host": "news.example",
                "browser": "Chrome", "os": "Android", "device": "mobile", "lang": "de",
                "utm_source": "mail", "utm_medium": "email", "utm_campaign": "spring"}
    assert row == {dim: expected[dim], "hits": 5, "visits": 5, "returning_visitors": 0}


def test_csv_with_metadata_on_stderr(app: Any, tmp_path: Any) -> None:
    seed(app, big_site())
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--by", "day,path")
    assert out.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows[0] == {"day": "2026-03-01", "path": "/popular", "hits": "12", "visits": "6",
                       "returning_visitors": "6"}
    assert "# k_min: 5" in out.stderr and "differencing" in out.stderr
    assert "#" not in out.stdout
    target = tmp_path / "out.csv"
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--out", str(target))
    assert out.exit_code == 0 and target.read_text().startswith("day,hits,visits")


def test_period_is_inclusive_and_in_timezone(tmp_path: Any) -> None:
    from tests.conftest import make_config

    app = make_app(make_config(tmp_path, TIMEZONE="America/New_York"))
    late = int(datetime(2026, 3, 2, 3, tzinfo=ZoneInfo("UTC")).timestamp())  # Mar 1, 22h NY
    seed(app, [record(ts=late)] * 5 + [record(ts=late + 86400)] * 5)
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--format", "json")
    assert json.loads(out.stdout)["rows"] == [{"day": "2026-03-01", "hits": 5, "visits": 0,
                                               "returning_visitors": 0}]


def test_revision_filter(app: Any) -> None:
    seed(app, [record(revision=1)] * 5 + [record(revision=2)] * 6)
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--revision", "2", "--format", "json", "--by", "")
    assert json.loads(out.stdout)["rows"] == [{"hits": 6, "visits": 0,
                                               "returning_visitors": 0}]


@pytest.mark.parametrize("args", [
    ["--since", "2026-13-01", "--until", "2026-03-01"],
    ["--since", "yesterday", "--until", "2026-03-01"],
    ["--since", "20260301", "--until", "2026-03-01"],
    ["--since", "2026-W09-1", "--until", "2026-03-01"],
    ["--since", "2026-03-02", "--until", "2026-03-01"],
    ["--since", "2026-03-01", "--until", "2026-03-01", "--by", "ip"],
    ["--since", "2026-03-01", "--until", "2026-03-01", "--by", "path,path"],
    ["--since", "2026-03-01", "--until", "2026-03-01", "--format", "xml"],
    ["--until", "2026-03-01"],
    ["--since", "0001-01-01", "--until", "9999-12-31"],
    ["--since", "2026-03-01", "--until", "2026-03-01", "--revision",
     "99999999999999999999999"],
    ["--since", "2026-03-01", "--until", "2026-03-01", "--revision", "0"],
])
def test_bad_input_one_line_exit_2(app: Any, args: list[str]) -> None:
    out = run(app.test_cli_runner(), *args)
    assert out.exit_code == 2
    assert "Traceback" not in out.output
    assert out.stderr.strip().startswith(("Error", "Usage"))


def test_parse_dimensions_errors() -> None:
    assert parse_dimensions("day, path") == ("day", "path")
    with pytest.raises(QueryError, match="Unknown dimension"):
        parse_dimensions("day,email")
    with pytest.raises(QueryError):
        Query(since=date(2026, 3, 2), until=date(2026, 3, 1))


# --- the admin API ---------------------------------------------------------------------

def new_token(app: Any, scope: str, name: str) -> str:
    out = app.test_cli_runner().invoke(args=["token", "new", "--scope", scope, "--name", name])
    assert out.exit_code == 0, out.output
    return out.stdout.strip()


def test_api_aggregate(app: Any, client: Any) -> None:
    seed(app, big_site())
    token = new_token(app, "aggregate", "analysts")
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=2026-03-01&by=path",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json["rows"][0] == {"path": "/popular", "hits": 12, "visits": 6,
                                 "returning_visitors": 6}
    assert r.headers["Cache-Control"] == "no-store"
    # Like the CLI, by day unless told otherwise; an empty "by" gives the totals.
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=2026-03-01",
                   headers={"Authorization": f"Bearer {token}"})
    assert [set(row) for row in r.json["rows"]] == [{"day", "hits", "visits",
                                                      "returning_visitors"}]
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=2026-03-01&by=",
                   headers={"Authorization": f"Bearer {token}"})
    assert [set(row) for row in r.json["rows"]] == [{"hits", "visits", "returning_visitors"}]
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=nope",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "YYYY-MM-DD" in r.json["error"]
    for query in ("since=2026-01-01&until=9999-12-31",
                  "since=2026-01-01&until=2026-01-02&revision=99999999999999999999999",
                  "since=2026-01-01&until=2026-01-02&revision=x"):
        r = client.get(f"/api/v1/aggregate?{query}",
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 400 and r.json["error"], query


def test_api_tokens_missing_wrong_scope_revoked(app: Any, client: Any) -> None:
    url = "/api/v1/aggregate?since=2026-03-01&until=2026-03-01"
    r = client.get(url)
    assert r.status_code == 401 and r.json["error"] and "Bearer" in r.headers[
        "WWW-Authenticate"]
    assert client.get(url, headers={"Authorization": "Bearer cgt_nope"}).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic abc"}).status_code == 401
    sender = new_token(app, "sender", "mailer")
    r = client.get(url, headers={"Authorization": f"Bearer {sender}"})
    assert r.status_code == 403 and "aggregate" in r.json["error"]
    token = new_token(app, "aggregate,pii", "officer")
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    out = app.test_cli_runner().invoke(args=["token", "revoke", "--name", "officer"])
    assert out.exit_code == 0
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_only_hash_stored(app: Any, tmp_path: Any) -> None:
    token = new_token(app, "pii", "privacy officer")
    app.extensions["cleargif"].close()
    blob = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert token.encode() not in blob and token[4:20].encode() not in blob
    listing = app.test_cli_runner().invoke(args=["token", "list"])
    assert "privacy officer" in listing.stdout and token not in listing.stdout


@pytest.mark.parametrize("args", [["--scope", "root", "--name", "x"],
                                  ["--scope", "", "--name", "x"]])
def test_token_bad_scope(app: Any, args: list[str]) -> None:
    out = app.test_cli_runner().invoke(args=["token", "new", *args])
    assert out.exit_code == 2 and "scope" in out.stderr


def test_token_revoke_unknown(app: Any) -> None:
    out = app.test_cli_runner().invoke(args=["token", "revoke", "--name", "ghost"])
    assert out.exit_code == 2 and "ghost" in out.stderr


def test_export_reports_progress(app: Any) -> None:
    from collector.analytics import export as reports

    seed(app, big_site())
    seen: list[int] = []

    def progress(items: Any, total: int) -> Any:
        seen.append(total)
        return items

    query = Query(since=date(2026, 3, 1), until=date(2026, 3, 1), by=("path",))
    _, result = reports.export(app.extensions["cleargif"].events, query, 5, progress)
    assert seen == [18]  # the bots are not read
    assert result.rows[0]["hits"] == 12
