"""Benchmark: ``cleargif export`` against one hand-written SQL GROUP BY on the same store.

Generates events (default 1,000,000 over 90 days: 2,000 Zipf-distributed paths, a few
referrers and browsers, mixed consent: a third with visitor and session ids, a third with
a session id only, a third cookieless) through the storage API, then times, in a fresh
process each (so peak memory is the query's own):

* ``export --by path`` and ``--by day,path`` through :func:`collector.analytics.export`
  (grouping, sizes, suppression and the ``(other)`` fold), and
* one hand-written ``GROUP BY`` returning hits, visits and visitors for the same cells.

Both must return the same hits in total (the work really happened). Medians of 3 runs;
ratios export/hand-written. SQLite always; PostgreSQL too when its server programs are
here (a throwaway server from ``tests/pgserver.py``), or ``--postgres URL``.

Run: ``python bench/export.py [--events 1000000] [--rounds 3] [--no-postgres]``.
Not a test: these machines are shared and noisy, so read the medians and the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = 86400
START = 1_767_225_600  # 2026-01-01 UTC
DAYS = 90
SINCE, UNTIL = "2026-01-01", "2026-03-31"


def generate(events_url: str, count: int, seed: int = 7) -> int:
    """Write ``count`` events through the store's copy API; returns the non-bot hits."""
    from collector.ingest.records import FIELDS
    from collector.storage import open_events

    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(2000)]
    paths = [f"/page/{i}" for i in range(2000)]
    referrers = [None, None, None, "news.example", "search.example", "social.example"]
    browsers = [("Firefox", "Linux", "desktop"), ("Chrome", "Windows", "desktop"),
                ("Mobile Safari", "iOS", "mobile"), ("Chrome Mobile", "Android", "mobile"),
                ("Googlebot", "Other", "bot")]
    store = open_events(events_url)
    store.migrate()
    batch: list[tuple[object, ...]] = []
    humans = 0
    chosen_paths = rng.choices(paths, weights, k=count)
    for i in range(count):
        ts = START + rng.randrange(DAYS * DAY)
        browser, os_, device = rng.choices(browsers, [30, 30, 20, 15, 5])[0]
        humans += device != "bot"
        mode = rng.random()
        person = rng.randrange(count // 4 + 1)
        session = f"{person * 7 + ts // 1800 % 3:032x}" if mode < 0.66 else None
        visitor = f"{person:032x}" if mode < 0.33 else None
        record: dict[str, object] = {f: None for f in FIELDS}
        record.update(ts=ts, kind="pageview", name="pageview", site="www.example.com",
                      path=chosen_paths[i], referrer_host=rng.choice(referrers),
                      browser=browser, os=os_, device=device, lang="en", revision=1,
                      purposes="", session_id=session, visitor_id=visitor)
        batch.append((i + 1, *(record[f] for f in FIELDS)))
        if len(batch) == 20_000:
            store.write_rows("events", ["id", *FIELDS], batch)
            batch = []
    if batch:
        store.write_rows("events", ["id", *FIELDS], batch)
    store.after_copy()
    assert store.count_rows("events") == count
    store.close()
    return humans


def run_export(events_url: str, by: str) -> dict[str, object]:
    """One export, in this process; what it returned."""
    from datetime import date

    from collector.analytics.export import export
    from collector.analytics.query import Query
    from collector.storage import open_events

    store = open_events(events_url)
    query = Query(since=date.fromisoformat(SINCE), until=date.fromisoformat(UNTIL),
                  by=tuple(by.split(",")), timezone="UTC")
    started = time.perf_counter()
    meta, result = export(store, query, 5)
    elapsed = time.perf_counter() - started
    store.close()
    return {"seconds": elapsed, "rows": len(result.rows),
            "hits": sum(int(r["hits"]) for r in result.rows),
            "suppressed": meta["suppressed_cells"]}


def run_hand(events_url: str, by: str) -> dict[str, object]:
    """The same cells by one hand-written GROUP BY, in this process."""
    start, end = START, START + DAYS * DAY
    postgres = not events_url.startswith("sqlite:")
    day = ("(to_timestamp(ts) AT TIME ZONE 'UTC')::date" if postgres
           else "date(ts, 'unixepoch')")
    columns = ", ".join(day if d == "day" else d for d in by.split(","))
    table = "cleargif_events.events" if postgres else "events"
    mark = "%s" if postgres else "?"
    sql = (f"SELECT {columns}, COUNT(*), COUNT(DISTINCT session_id), "
           f"COUNT(DISTINCT visitor_id) FROM {table} WHERE ts >= {mark} AND ts < {mark} "
           f"AND kind IN ('pageview', 'event') AND (device IS NULL OR device != 'bot') "
           f"GROUP BY {columns}")
    started = time.perf_counter()
    if postgres:
        import psycopg

        with psycopg.connect(events_url) as conn:
            rows = conn.execute(sql.encode(), (start, end)).fetchall()
    else:
        import sqlite3

        db = sqlite3.connect(events_url[len("sqlite:///"):])
        rows = db.execute(sql, (start, end)).fetchall()
        db.close()
    elapsed = time.perf_counter() - started
    width = len(by.split(","))
    return {"seconds": elapsed, "rows": len(rows), "hits": sum(r[width] for r in rows)}


def measure(kind: str, events_url: str, by: str) -> dict[str, object]:
    """Run one measurement in a fresh process: its result and its peak memory."""
    code = ("import json, resource, sys; sys.path.insert(0, sys.argv[1]); "
            "from bench.export import run_export, run_hand; "
            f"out = run_{kind}(sys.argv[2], sys.argv[3]); "
            "out['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT), events_url, by],
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def baseline_mb() -> float:
    """The peak memory of a process that only imports what the measurements import."""
    code = ("import resource, sys; sys.path.insert(0, sys.argv[1]); "
            "import collector.analytics.export, collector.storage.sqlite, sqlite3; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True,
                                text=True, check=True).stdout)


def compare(name: str, events_url: str, humans: int, rounds: int) -> list[str]:
    """Medians of ``rounds`` runs of both, for both groupings; report lines."""
    lines = []
    for by in ("path", "day,path"):
        runs: dict[str, list[dict[str, object]]] = {"export": [], "hand": []}
        for _ in range(rounds):
            for kind in ("export", "hand"):
                runs[kind].append(measure(kind, events_url, by))
        for kind in ("export", "hand"):
            for run in runs[kind]:
                if run["hits"] != humans:
                    raise SystemExit(f"{name} {kind} --by {by} counted {run['hits']} hits, "
                                     f"not {humans}: the work did not happen")
        seconds = {k: statistics.median(float(r["seconds"]) for r in v)  # type: ignore[arg-type]
                   for k, v in runs.items()}
        memory = {k: statistics.median(float(r["peak_mb"]) for r in v)  # type: ignore[arg-type]
                  for k, v in runs.items()}
        lines.append(
            f"{name:<10} --by {by:<9} export {seconds['export']:6.2f} s "
            f"{memory['export']:6.0f} MB | hand-written {seconds['hand']:6.2f} s "
            f"{memory['hand']:6.0f} MB | ratio time {seconds['export'] / seconds['hand']:.2f}"
            f"x, memory {memory['export'] / memory['hand']:.2f}x "
            f"({runs['export'][0]['rows']} rows, {runs['export'][0]['suppressed']} "
            "suppressed)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="an empty database to use (else a throwaway server)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cleargif-bench-"))
    report = [f"{args.events} events over {DAYS} days; medians of {args.rounds}; "
              f"an import-only process peaks at {baseline_mb():.0f} MB"]
    try:
        url = f"sqlite:///{folder / 'events.db'}"
        started = time.perf_counter()
        humans = generate(url, args.events)
        print(f"SQLite: generated in {time.perf_counter() - started:.0f} s", flush=True)
        report += compare("SQLite", url, humans, args.rounds)
        if not args.no_postgres:
            server = None
            pg_url = args.postgres
            if pg_url is None:
                from tests.pgserver import TempPostgres, available

                if available() is None:
                    server = TempPostgres(durable=True).start()
                    pg_url = server.new_database("bench")
            if pg_url:
                try:
                    started = time.perf_counter()
                    generate(pg_url, args.events)
                    import psycopg

                    with psycopg.connect(pg_url, autocommit=True) as conn:
                        conn.execute("VACUUM ANALYZE cleargif_events.events")
                    print(f"PostgreSQL: generated in {time.perf_counter() - started:.0f} s",
                          flush=True)
                    report += compare("PostgreSQL", pg_url, humans, args.rounds)
                finally:
                    if server is not None:
                        server.stop()
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    print("\n".join(report))


if __name__ == "__main__":
    main()
