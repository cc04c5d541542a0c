"""Benchmark: the hit path's PostgreSQL writer against psycopg's cursor, in a gevent worker.

In a process monkey-patched by gevent, as a ``cleargif serve`` worker is, batches of 1, 4
and 16 page views are committed on a durable throwaway server (``tests/pgserver.py``,
``synchronous_commit`` on), in turns:

* through the writer the collector uses (``_EventWriter``: a statement prepared for each
  batch size, run through libpq, waiting with gevent's own functions), and
* through a psycopg cursor kept for the purpose running the statements the writer ran
  before (one row as parameters, several as one JSON parameter), as psycopg waits under
  gevent.

It prints, for each batch size, the client's CPU time and the wall time per batch (medians
of the rounds), and the ratios writer/cursor. Both must have stored every row they were
given (the work really happened).

Run: ``python bench/pgwriter.py [--batches 2000] [--rounds 3] [--postgres URL]``. Not a
test: these machines are shared and noisy, so read the medians and the ratios.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 (gevent patches first, as in the worker)
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.ingest.records import FIELDS  # noqa: E402
from collector.storage import open_events  # noqa: E402
from collector.storage.postgres import EVENTS, SESSION, _EventWriter  # noqa: E402

SIZES = (1, 4, 16)
COLUMNS = ", ".join(FIELDS)
#: The statements of the cursor the writer used before.
ONE = (f"INSERT INTO {EVENTS}.events ({COLUMNS}) VALUES "
       f"({', '.join('%s' for _ in FIELDS)})")
SEVERAL = (f"INSERT INTO {EVENTS}.events ({COLUMNS}) SELECT {COLUMNS} "
           f"FROM json_populate_recordset(NULL::{EVENTS}.events, %s::json)")


def rows(count: int, serial: int) -> list[tuple[Any, ...]]:
    """``count`` page views with ids, as the hit path hands them to the writer."""
    now = int(time.time())
    made = []
    for i in range(count):
        record = dict.fromkeys(FIELDS)
        record.update(ts=now, kind="pageview", name="pageview", site="example.com",
                      path=f"/blog/post-{(serial + i) % 200}", referrer_host="www.google.com",
                      utm_source="news", browser="Chrome", browser_major="120",
                      os="Linux", device="desktop", lang="en", agent="human",
                      purposes="analytics,personalization", revision=1,
                      session_id=f"s{serial + i:021d}", visitor_id=f"v{serial + i:021d}")
        made.append(tuple(record[f] for f in FIELDS))
    return made


def through_cursor(cursor: Any) -> Any:
    def write(batch: list[tuple[Any, ...]]) -> None:
        if len(batch) == 1:
            cursor.execute(ONE, list(batch[0]))
        else:
            cursor.execute(SEVERAL, [json.dumps([dict(zip(FIELDS, row, strict=True))
                                                 for row in batch])])
    return write


def timed(write: Any, size: int, batches: int) -> tuple[float, float]:
    """Client CPU and wall seconds per batch for ``batches`` batches of ``size`` rows."""
    work = [rows(size, i * size) for i in range(batches)]
    for batch in work[:20]:  # warm: prepared statements, caches
        write(batch)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in work[20:]:
        write(batch)
    return ((time.process_time() - cpu) / (batches - 20),
            (time.perf_counter() - wall) / (batches - 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="an empty database's URL (default: a throwaway "
                                           "server)")
    args = parser.parse_args()
    server = None
    url = args.postgres
    if url is None:
        from tests.pgserver import TempPostgres, available

        missing = available()
        if missing is not None:
            raise SystemExit(f"PostgreSQL is not here: {missing}")
        server = TempPostgres(durable=True).start()
        url = server.new_database("pgwriter")
    try:
        import psycopg

        store = open_events(url)
        store.migrate()
        writer = _EventWriter(store)  # type: ignore[arg-type]
        conn = psycopg.connect(url, **SESSION)
        cursor = conn.cursor()
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        written = 0
        for _ in range(args.rounds):
            for size in SIZES:
                for name, write in (("writer", writer.insert),
                                    ("cursor", through_cursor(cursor))):
                    results.setdefault((name, size), []).append(
                        timed(write, size, args.batches))
                    written += size * args.batches
        stored = store.count_events_before(2**40)
        print(f"rows written {written}, stored {stored}")
        if stored != written:
            raise SystemExit("not every row was stored: the work did not happen")
        for size in SIZES:
            med = {name: (statistics.median(c for c, _ in results[(name, size)]),
                          statistics.median(w for _, w in results[(name, size)]))
                   for name in ("writer", "cursor")}
            (wc, ww), (cc, cw) = med["writer"], med["cursor"]
            print(f"{size:2d} rows a batch: writer CPU {wc * 1e6:5.0f} us, wall {ww * 1e6:5.0f}"
                  f" us; cursor CPU {cc * 1e6:5.0f} us, wall {cw * 1e6:5.0f} us; ratio "
                  f"writer/cursor CPU {wc / cc:.2f}, wall {ww / cw:.2f}")
        writer.close()
        conn.close()
        store.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
