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
    Query,
    QueryError,
    fold,
    parse_dimensions,
    size_of,
)
from collector.storage import CellCounts, CellIds
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


def counts(identified: int = 0, anonymous: int = 0, most: int | None = None,
           hits: int | None = None, key: tuple[Any, ...] = (),
           ids: CellIds | None = None) -> CellCounts:
    return CellCounts(key, hits if hits is not None else identified + anonymous, 0, 0,
                      identified, anonymous, identified if most is None else most, ids)


def people(*visitors: str, lone: tuple[str, ...] = ()) -> CellIds:
    """The ids of a small cell: visitors (each with a session of the same name) and
    sessions without a visitor id."""
    return CellIds((*visitors, *lone), visitors, lone)


@pytest.mark.parametrize(("raw", "rolled", "size"), [
    (counts(identified=1, anonymous=100), None, 101),  # one consenting visitor + a crowd
    (counts(identified=4), None, 4),
    (counts(anonymous=4), None, 4),
    (None, counts(identified=9, anonymous=2, most=3), 5),  # roll-ups: a lower bound
    (counts(identified=2, anonymous=1), counts(identified=9, anonymous=2, most=3), 6),
    (counts(identified=7), counts(identified=9, most=3), 7),
    (None, None, 0),
])
def test_the_size_of_a_cell(raw: CellCounts | None, rolled: CellCounts | None,
                            size: int) -> None:
    """DESIGN 1.6: distinct visitors + sessions without a visitor id + hits without ids;
    on roll-ups a lower bound: their hits without ids add up, identified people do not."""
    assert size_of(raw, rolled) == size


def test_fold_counts_other_exactly_from_the_small_cells_ids() -> None:
    # The same 3 people visited all four rare pages, two of them with a visitor id.
    rare = people("v1", "v2", lone=("s3",))
    small = [counts(identified=3, key=(f"/rare-{i}",), ids=rare) for i in range(4)]
    popular = counts(identified=1, anonymous=99, key=("/popular",))
    result = fold(iter([*small, popular]), (), ("path",), 5)  # one pass
    assert [r["path"] for r in result.rows] == ["/popular"]  # 12 by a sum, 3 in truth
    assert result.other_suppressed and result.suppressed_cells == 4
    # Six different people on six rare pages: (other) holds 6 and is shown.
    small = [counts(identified=1, key=(f"/rare-{i}",), ids=people(f"v{i}"))
             for i in range(6)]
    result = fold([*small, popular], (), ("path",), 5)
    assert result.rows[-1] == {"path": OTHER, "hits": 6, "visits": 6,
                               "returning_visitors": 6}
    # Hits without ids add up: 3 people and 2 cookieless hits are 5.
    small = [counts(identified=3, anonymous=1, key=("/a",), ids=rare),
             counts(identified=1, anonymous=1, key=("/b",), ids=people("v1"))]
    assert fold(small, (), ("path",), 5).rows == [
        {"path": OTHER, "hits": 6, "visits": 3, "returning_visitors": 2}]


def test_fold_needs_the_ids_of_small_raw_cells() -> None:
    with pytest.raises(ValueError, match="ids_below"):
        fold([counts(identified=1, key=("/a",))], (), ("path",), 5)


def test_fold_merges_roll_ups_by_key() -> None:
    raw = [counts(identified=2, key=("/a",), ids=people("v1", "v2")),
           counts(identified=1, key=("/b",), ids=people("v3"))]
    rolled = [counts(identified=4, most=4, key=("/a",)), counts(anonymous=7, key=("/c",)),
              counts(anonymous=1, key=("/d",))]
    result = fold(raw, rolled, ("path",), 5)
    # /a: 2 people raw, at least 4 in roll-ups: 4; /b: 1; /c: 7 hits without ids; /d: 1.
    assert result.suppressed_cells == 3
    # (other) holds the 3 raw people or 4 of a roll-up row, plus 1 hit without ids: 5.
    assert [r["path"] for r in result.rows] == ["/c", OTHER]


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
                "utm_source": "mail", "utm_medium": "email", "utm_campaign": "spring",
                "site": "www.example.com", "name": "pageview"}
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


def test_a_popular_page_stays_when_a_few_visitors_consent(app: Any) -> None:
    """100 cookieless hits and one consented visitor: the page is shown, never folded."""
    seed(app, [record(path="/popular")] * 100 +
         [record(path="/popular", session="a" * 32, visitor="b" * 32)] * 2 +
         [record(path="/alone", session="c" * 32, visitor="d" * 32)] * 3)
    rows = json.loads(run(app.test_cli_runner(), "--since", "2026-03-01", "--until",
                          "2026-03-01", "--by", "path", "--format", "json").stdout)["rows"]
    assert rows == [{"path": "/popular", "hits": 102, "visits": 1, "returning_visitors": 1}]


def reference(rows: list[dict[str, Any]], by: tuple[str, ...],
              k_min: int) -> tuple[dict[tuple[Any, ...], tuple[int, int, int]], bool]:
    """The rule of DESIGN 1.6 computed in Python from the raw rows: kept cells as
    ``{key: (hits, visits, visitors)}``, (other) under its own key, and whether (other)
    was dropped."""
    def size(cell: list[dict[str, Any]]) -> int:
        visitors = {r["visitor_id"] for r in cell if r["visitor_id"]}
        sessions = {r["session_id"] for r in cell if r["session_id"] and not r["visitor_id"]}
        anonymous = sum(1 for r in cell if not r["visitor_id"] and not r["session_id"])
        return len(visitors) + len(sessions) + anonymous

    def metrics(cell: list[dict[str, Any]]) -> tuple[int, int, int]:
        return (len(cell), len({r["session_id"] for r in cell if r["session_id"]}),
                len({r["visitor_id"] for r in cell if r["visitor_id"]}))

    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        if r["device"] != "bot":
            key = tuple("2026-03-01" if d == "day" else r[d] for d in by)
            cells.setdefault(key, []).append(r)
    kept = {k: metrics(c) for k, c in cells.items() if size(c) >= k_min}
    folded = [r for c in cells.values() if size(c) < k_min for r in c]
    dropped = bool(folded) and size(folded) < k_min
    if folded and not dropped:
        kept[tuple(OTHER for _ in by)] = metrics(folded)
    return kept, dropped


@pytest.mark.parametrize("seed_value", range(6))
def test_the_database_counts_as_the_rule_says_on_random_data(app: Any,
                                                              seed_value: int) -> None:
    """Random mixed-consent traffic: the export (grouped by the database) equals the rule
    computed in Python from the raw rows, for one and two dimensions."""
    import random

    rng = random.Random(seed_value)
    people = [(f"{i:032x}" if rng.random() < 0.5 else None, f"{i + 500:032x}")
              for i in range(60)]
    rows = []
    for _ in range(400):
        visitor, session = rng.choice(people)
        consent = rng.random()
        rows.append(record(
            session=session if consent < 0.6 else None,
            visitor=visitor if consent < 0.3 else None,
            path=f"/p{int(rng.paretovariate(1.2)) % 12}",
            browser=rng.choice(["Firefox", "Chrome", "Safari"]),
            device="bot" if rng.random() < 0.05 else "desktop"))
    seed(app, rows)
    for by in (("path",), ("path", "browser"), ("day", "path"), ()):
        out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
                  "--by", ",".join(by), "--format", "json")
        body = json.loads(out.stdout)
        got = {tuple(r[d] for d in by): (r["hits"], r["visits"], r["returning_visitors"])
               for r in body["rows"]}
        expected, dropped = reference(rows, by, 5)
        assert got == expected, by
        assert body["meta"]["other_suppressed"] is dropped


def test_filters_narrow_every_dimension(app: Any) -> None:
    """The dashboard's row click: the same query, filtered by one dimension's value."""
    from collector.analytics.export import export

    seed(app, big_site() + [record(path="/popular", browser="Chrome", session=f"{i:032x}")
                            for i in range(5)])
    events = app.extensions["cleargif"].events
    query = Query(since=date(2026, 3, 1), until=date(2026, 3, 1), by=("browser",),
                  filters=(("path", "/popular"),))
    meta, result = export(events, query, 5)
    assert {r["browser"]: r["hits"] for r in result.rows} == {"Firefox": 12, "Chrome": 5}
    assert meta["filters"] == {"path": "/popular"}
    query = Query(since=date(2026, 3, 1), until=date(2026, 3, 1), by=("path",),
                  filters=(("referrer_host", None),))  # direct visits: no referrer
    assert export(events, query, 5)[1].rows[0]["path"] == "/popular"
    with pytest.raises(QueryError, match="Cannot filter by"):
        Query(since=date(2026, 3, 1), until=date(2026, 3, 1), filters=(("visitor_id", "x"),))


def test_filters_on_the_command_line_and_the_api(app: Any, client: Any) -> None:
    """``--filter dimension:value`` (repeatable; empty value: none) and the API's
    ``filter``: the same query the dashboard's panels run."""
    seed(app, big_site() + [record(path="/popular", browser="Chrome", session=f"{i:032x}",
                                   referrer_host="news.example.org") for i in range(5)])
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--by", "browser", "--format", "json", "--filter", "path:/popular",
              "--filter", "site:www.example.com")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert {r["browser"]: r["hits"] for r in body["rows"]} == {"Firefox": 12, "Chrome": 5}
    assert body["meta"]["filters"] == {"path": "/popular", "site": "www.example.com"}
    out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
              "--by", "", "--format", "json", "--filter", "referrer_host:")
    assert json.loads(out.stdout)["rows"][0]["hits"] == 18  # all but the five referred
    for bad in ("path", "ip:1.2.3.4", ":x"):
        out = run(app.test_cli_runner(), "--since", "2026-03-01", "--until", "2026-03-01",
                  "--filter", bad)
        assert out.exit_code == 2 and "dimension:value" in out.stderr, (bad, out.stderr)
    token = new_token(app, "aggregate", "analysts")
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=2026-03-01&by=browser"
                   "&filter=path:/popular&filter=browser:Chrome",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.json["rows"] == [{"browser": "Chrome", "hits": 5, "visits": 5,
                               "returning_visitors": 0}]
    r = client.get("/api/v1/aggregate?since=2026-03-01&until=2026-03-01&filter=visitor_id:x",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "dimension:value" in r.json["error"]
