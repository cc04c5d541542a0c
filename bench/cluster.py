"""Benchmark: two collectors on one PostgreSQL database against one collector alone.

A throwaway PostgreSQL server (``tests/pgserver.py``, two roles as the README says,
``synchronous_commit`` on) holds the stores. Two ``cleargif`` collectors (gunicorn with the
gevent worker of ``cleargif serve``, the same keys, one worker each unless
``--workers``) stand for two hosts. In turns, wrk (Debian package ``wrk``) drives:

* one collector alone, with ``--connections``;
* both at once, each with ``--connections``, from two wrk processes.

Every hit carries a consent cookie granting analytics and personalization and one of the
real User-Agents of ``tests/data/user-agents.txt``, as in ``bench/pixel.py``, so each is
verified, classified and committed before its GIF. It prints the hits per second of each
turn, then medians and the ratio both/one, and checks that the database holds at least as
many events as hits were answered.

Run: ``python bench/cluster.py [--seconds 10] [--rounds 3] [--connections 4]``. On a
machine with few cores the collectors, wrk and PostgreSQL share them: the ratio says how
much a second host adds there, not on separate machines.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pixel import (  # noqa: E402
    consent_cookies,
    free_port,
    load_arguments,
    lua_script,
    require_load_tools,
    run_wrk,
    start,
    stop,
    wait_up,
)


def wrk_both(ports: list[int], script: Path, seconds: int,
             connections: int) -> list[dict[str, float]]:
    """Run wrk against every port at once; each one's result."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(ports)) as pool:
        return list(pool.map(lambda port: run_wrk(port, script, seconds, connections),
                             ports))


def main() -> None:
    args = load_arguments(__doc__.split("\n")[0]).parse_args()
    require_load_tools()
    from collector.storage import open_events
    from tests.pgserver import TempPostgres, available

    missing = available()
    if missing is not None:
        raise SystemExit(f"PostgreSQL is not here: {missing}")
    server = TempPostgres(durable=True).start()
    procs = []
    try:
        events_url, identity_url = server.cleargif_database("cluster")
        ports = [free_port(), free_port()]
        keys = {"CLEARGIF_SECRET_KEYS": json.dumps([secrets.token_urlsafe(32)]),
                "CLEARGIF_TOKEN_KEYS": json.dumps([secrets.token_urlsafe(32)])}
        origins = ",".join(f"http://127.0.0.1:{p}" for p in ports)
        with tempfile.TemporaryDirectory() as tmp:
            for i, port in enumerate(ports):
                env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
                env.update(keys, CLEARGIF_DATA_DIR=str(Path(tmp) / f"host-{i}"),
                           CLEARGIF_EVENTS_URL=events_url,
                           CLEARGIF_IDENTITY_URL=identity_url,
                           CLEARGIF_COOKIE_SECURE="false", CLEARGIF_ALLOWED_ORIGINS=origins,
                           CLEARGIF_RATE_LIMITS=json.dumps({"hits": "1000000/second"}),
                           PYTHONPATH=str(ROOT))
                procs.append(start("collector:create_app()", port, args.workers, env,
                                   "gevent"))
            for port in ports:
                wait_up(port, "/healthz")
            script = Path(tmp) / "mix.lua"
            origin = f"http://127.0.0.1:{ports[0]}"
            # The same keys on both hosts: a cookie from one is good on the other.
            lua_script(script, consent_cookies(ports[0]), origin)
            wrk_both(ports, script, 2, args.connections)  # warm both
            one: list[float] = []
            both: list[float] = []
            answered = 0.0
            for rnd in range(args.rounds):
                lua_script(script, consent_cookies(ports[0]), origin)
                alone = run_wrk(ports[0], script, args.seconds, args.connections)
                pair = wrk_both(ports, script, args.seconds, args.connections)
                one.append(alone["rps"])
                both.append(sum(r["rps"] for r in pair))
                answered += sum(r["requests"] - r["non2xx"] for r in (alone, *pair))
                each = " + ".join(f"{r['rps']:.0f}" for r in pair)
                print(f"round {rnd + 1}: one collector {alone['rps']:7.0f} hits/s; two "
                      f"collectors {both[-1]:7.0f} hits/s ({each})", flush=True)
        store = open_events(events_url)
        stored = store.count_rows("events")
        store.close()
        print(f"median: one collector {statistics.median(one):.0f} hits/s, two collectors "
              f"{statistics.median(both):.0f} hits/s; ratio two/one "
              f"{statistics.median(both) / statistics.median(one):.2f}")
        print(f"events in the database: {stored}, for {answered:.0f} hits answered in the "
              "measured turns")
        if stored < answered:
            raise SystemExit("fewer events stored than hits answered: the work did not "
                             "happen")
    finally:
        for proc in procs:
            stop(proc)
        server.stop()


if __name__ == "__main__":
    main()
