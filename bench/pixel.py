"""Benchmark: the collector's pixel path against a bare Flask app answering the same GIF.

Both run under gunicorn with the same settings on 127.0.0.1, under each worker model side
by side (the sync worker of before, and the gevent worker ``cleargif serve`` runs now,
``collector.server.worker.CollectorWorker``), and are driven in turns by wrk (Debian
package ``wrk``) with a Zipf-weighted mix of real User-Agents from
``tests/data/user-agents.txt`` and a consent cookie granting analytics and
personalization, so every hit is verified, scrubbed, classified and committed to SQLite
(durable: ``synchronous=NORMAL`` in WAL) before it is answered.

With ``--store postgresql`` the collector's stores are on PostgreSQL instead (a
throwaway server from ``tests/pgserver.py``, set up with two roles as the README says;
``synchronous_commit`` on, so a hit is on disk before its GIF), or ``--store
EVENTS_URL,IDENTITY_URL`` names empty stores of your own.

Run: ``python bench/pixel.py [--workers 1] [--seconds 10] [--rounds 3] [--model sync
--model gevent] [--store sqlite|postgresql|EVENTS_URL,IDENTITY_URL]``. It prints
requests/s, p50/p99 latency and the workers' CPU time per request for each turn, then
medians and the ratio collector/bare for each worker model, by requests/s and by CPU time
per request (which other programs taking turns on a shared machine's cores disturb far
less). Not a test: these machines are shared and noisy, so
read the medians and the ratios. The ``hits`` rate limit is set far above what wrk
sends, so every hit pays for the limiter and none is dropped by it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UA_FILE = ROOT / "tests" / "data" / "user-agents.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


#: gunicorn's worker class for each model: the collector and the bare app run under the
#: same one (the gevent model is the worker of ``cleargif serve``).
WORKER_CLASSES = {"sync": "sync", "gevent": "collector.server.worker.CollectorWorker"}


def start(app: str, port: int, workers: int, env: dict[str, str],
          model: str) -> subprocess.Popen[bytes]:
    # The same gunicorn settings for both apps of a model, no access log.
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class",
           WORKER_CLASSES[model], "--keep-alive", "10", "--bind", f"127.0.0.1:{port}",
           "--log-level", "warning", app]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def worker_cpu(master: int) -> float:
    """CPU seconds (user and system, every thread) used so far by the gunicorn workers of
    ``master``. Unlike requests/s, CPU time per request barely moves when other programs
    take turns on a shared machine's cores."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True,
                              check=False).stdout.split()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def consent_cookies(port: int) -> str:
    """Grant analytics and personalization once, then make the first hit: the cookies a
    returning, consenting browser sends."""
    origin = f"http://127.0.0.1:{port}"
    jar: dict[str, str] = {}

    def remember(resp: http.client.HTTPResponse) -> None:
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, _, v = value.split(";")[0].partition("=")
                jar[k] = v

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"purposes": {"analytics": True, "personalization": True}})
    conn.request("POST", "/consent", body=body, headers={"Origin": origin,
                                                         "Content-Type": "application/json"})
    resp = conn.getresponse()
    remember(resp)
    resp.read()
    conn.request("GET", "/t.gif?p=/", headers={
        "Origin": origin, "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
    resp = conn.getresponse()
    remember(resp)
    resp.read()
    conn.close()
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def lua_script(path: Path, cookie: str, origin: str) -> None:
    """A wrk script drawing User-Agents and pages with Zipf weights (s = 1)."""
    uas = [u for u in UA_FILE.read_text().splitlines() if u.strip()]
    rng = secrets.SystemRandom()
    rng.shuffle(uas)  # which strings are popular is arbitrary; the skew is what matters
    weights = [1 / (i + 1) for i in range(len(uas))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)

    def lua_str(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    path.write_text(f"""
local uas = {{{",".join(lua_str(u) for u in uas)}}}
local cum = {{{",".join(f"{c:.6f}" for c in cum)}}}
local total = {total:.6f}
wrk.headers["Cookie"] = {lua_str(cookie)}
wrk.headers["Origin"] = {lua_str(origin)}
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
local function zipf()
  local r = math.random() * total
  local lo, hi = 1, #cum
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cum[mid] < r then lo = mid + 1 else hi = mid end
  end
  return lo
end
request = function()
  wrk.headers["User-Agent"] = uas[zipf()]
  local page = zipf() % 200
  return wrk.format("GET", "/t.gif?p=%2Fblog%2Fpost-" .. page ..
                    "&r=https%3A%2F%2Fwww.google.com%2F&utm_source=news")
end
""")


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        assert m, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"),
            "requests": float(total.group(1)) if total else 0.0,
            "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
            "errors": 1.0 if errors else 0.0}


def load_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of a load benchmark driven by wrk: workers, seconds a turn, rounds and
    wrk's connections."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    return parser


def require_load_tools() -> None:
    """Stop with one line when wrk or the User-Agent file is missing."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    if not UA_FILE.exists():
        raise SystemExit(f"{UA_FILE} is missing")


def main() -> None:
    parser = load_arguments(__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", choices=sorted(WORKER_CLASSES),
                        help="worker model to measure (repeat for several; default both)")
    parser.add_argument("--store", default="sqlite",
                        help="sqlite (default), postgresql (a throwaway server), or "
                             "EVENTS_URL,IDENTITY_URL")
    args = parser.parse_args()
    models = args.model or ["sync", "gevent"]
    require_load_tools()

    with tempfile.TemporaryDirectory() as tmp, Stores(args.store) as stores:
        procs: list[subprocess.Popen[bytes]] = []
        ports: dict[tuple[str, str], int] = {}
        masters: dict[tuple[str, str], int] = {}
        try:
            for model in models:
                port_bare, port_col = free_port(), free_port()
                env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
                env.update(CLEARGIF_DATA_DIR=str(Path(tmp) / model / "data"),
                           CLEARGIF_SECRET_KEYS=json.dumps([secrets.token_urlsafe(32)]),
                           CLEARGIF_TOKEN_KEYS=json.dumps([secrets.token_urlsafe(32)]),
                           CLEARGIF_COOKIE_SECURE="false",
                           CLEARGIF_ALLOWED_ORIGINS=f"http://127.0.0.1:{port_col}",
                           CLEARGIF_RATE_LIMITS=json.dumps({"hits": "1000000/second"}),
                           PYTHONPATH=str(ROOT), **stores.env(model))
                procs.append(start("bench.bare_app:app", port_bare, args.workers, env, model))
                masters[(model, "bare")] = procs[-1].pid
                procs.append(start("collector:create_app()", port_col, args.workers, env,
                                   model))
                masters[(model, "collector")] = procs[-1].pid
                ports[(model, "bare")], ports[(model, "collector")] = port_bare, port_col
            for (_model, name), port in ports.items():
                wait_up(port, "/t.gif" if name == "bare" else "/healthz")
            script = Path(tmp) / "mix.lua"
            results: dict[tuple[str, str], list[dict[str, float]]] = {k: [] for k in ports}
            # Warm every server (UA cache, SQLite pages) before measuring.
            for (model, _name), port in ports.items():
                origin_port = ports[(model, "collector")]
                lua_script(script, consent_cookies(origin_port),
                           f"http://127.0.0.1:{origin_port}")
                run_wrk(port, script, 2, args.connections)
            for rnd in range(args.rounds):
                for model in models:
                    port_col = ports[(model, "collector")]
                    # A browser keeps the cookies it is sent: start each turn with a
                    # fresh visit, as wrk cannot update them itself.
                    lua_script(script, consent_cookies(port_col), f"http://127.0.0.1:{port_col}")
                    for name in ("bare", "collector"):
                        cpu = worker_cpu(masters[(model, name)])
                        r = run_wrk(ports[(model, name)], script, args.seconds,
                                    args.connections)
                        r["cpu_us"] = ((worker_cpu(masters[(model, name)]) - cpu) * 1e6
                                       / max(r["requests"], 1.0))
                        results[(model, name)].append(r)
                        print(f"round {rnd + 1} {model:6s} {name:9s} {r['rps']:8.0f} req/s  "
                              f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                              f"CPU {r['cpu_us']:5.0f} us/req  non-2xx {r['non2xx']:.0f}",
                              flush=True)
            med = {k: {m: statistics.median(x[m] for x in rs)
                       for m in ("rps", "p50", "p99", "cpu_us")}
                   for k, rs in results.items()}
            for (model, name), m in med.items():
                print(f"median    {model:6s} {name:9s} {m['rps']:8.0f} req/s  p50 "
                      f"{m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms  CPU {m['cpu_us']:5.0f} "
                      "us/req")
            for model in models:
                ratio = med[(model, "collector")]["rps"] / med[(model, "bare")]["rps"]
                # Each round's two turns ran back to back, so their ratio sees one load on a
                # shared machine: the median of those drifts less than the ratio of medians.
                paired = statistics.median(
                    c["rps"] / b["rps"] for b, c in zip(results[(model, "bare")],
                                                        results[(model, "collector")],
                                                        strict=True))
                cpu = med[(model, "bare")]["cpu_us"] / med[(model, "collector")]["cpu_us"]
                print(f"ratio collector/bare under {model} (requests/s, medians): {ratio:.2f}"
                      f"  (median of each round's ratio: {paired:.2f}; by worker CPU per "
                      f"request, bare/collector: {cpu:.2f})")
            for model in models:
                stored = stores.count(model, Path(tmp) / model / "data")
                answered = sum(r["requests"] - r["non2xx"]
                               for r in results[(model, "collector")])
                print(f"events stored by the collector under {model} ({stores.name}): "
                      f"{stored}, for {answered:.0f} hits answered in the measured turns")
                if stored < answered:
                    raise SystemExit("fewer events stored than hits answered: the work did "
                                     "not happen")
        finally:
            for proc in procs:
                stop(proc)


class Stores:
    """Where each worker model's collector keeps its stores: SQLite files in its data
    folder, or PostgreSQL (a database per model on a throwaway server, or given URLs)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.name = "SQLite" if spec == "sqlite" else "PostgreSQL"
        self.server: Any = None
        self.urls: dict[str, tuple[str, str]] = {}

    def __enter__(self) -> Stores:
        if self.spec not in ("sqlite", "postgresql") and "," not in self.spec:
            raise SystemExit("--store is sqlite, postgresql or EVENTS_URL,IDENTITY_URL")
        if self.spec == "postgresql":
            sys.path.insert(0, str(ROOT))
            from tests.pgserver import TempPostgres, available

            missing = available()
            if missing is not None:
                raise SystemExit(f"PostgreSQL is not here: {missing}")
            self.server = TempPostgres(durable=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()

    def env(self, model: str) -> dict[str, str]:
        """The collector's store settings for ``model``."""
        if self.spec == "sqlite":
            return {}
        if self.server is not None:
            self.urls[model] = self.server.cleargif_database(f"pixel_{model}")
        else:
            events, identity = self.spec.split(",", 1)
            self.urls[model] = (events, identity)
        return {"CLEARGIF_EVENTS_URL": self.urls[model][0],
                "CLEARGIF_IDENTITY_URL": self.urls[model][1]}

    def count(self, model: str, data: Path) -> int:
        """Events the collector of ``model`` stored."""
        sys.path.insert(0, str(ROOT))
        from collector.storage import open_events

        url = self.urls[model][0] if model in self.urls else \
            f"sqlite:///{data / 'events.db'}"
        store = open_events(url)
        try:
            return store.count_rows("events")
        finally:
            store.close()


if __name__ == "__main__":
    main()
