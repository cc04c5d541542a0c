"""``cleargif serve`` exposed directly (DESIGN 3): slow clients, a full store, malformed
requests and what the logs then hold, as real server processes on loopback."""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.web.views.health import FAILURE_MEMORY
from sdk import TokenCodec
from tests.conftest import SECRET, TOKEN
from tests.faults import MARKER_ENV
from tests.test_serve import ORIGIN, Server

pytestmark = pytest.mark.slow

#: The address the malformed requests come from: any other line of the server's stderr
#: may name the server's own address (127.0.0.1), never this one.
CLIENT = "127.0.0.2"
AGENT = "LeakCheckAgent/9.9 (secret-agent-string)"
QUERY = "email=leak%40example.com&q=secretquery"


def timed_hit(port: int, n: int) -> float:
    """One ordinary hit on a new connection, as a browser's first; its latency in seconds
    (10 s when it failed)."""
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/t.gif?p=/normal/{n}", headers={"Origin": ORIGIN})
        resp = conn.getresponse()
        ok = resp.status == 200 and len(resp.read()) == 43
        conn.close()
    except OSError:
        ok = False
    return time.monotonic() - started if ok else 10.0


def latencies(port: int, seconds: float) -> list[float]:
    found: list[float] = []
    until = time.monotonic() + seconds
    n = 0
    while time.monotonic() < until and n < 5000:
        found.append(timed_hit(port, n))
        n += 1
        time.sleep(0.01)
    return found


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Trickle:
    """Slow clients: ``header`` connections that send a request line and then one header
    line a second, ``body`` ones that send whole headers and then one byte of their body a
    second; each reconnects when the server closes it."""

    def __init__(self, port: int, header: int, body: int) -> None:
        self.port = port
        self.kinds = ["header"] * header + ["body"] * body
        self.socks: list[socket.socket | None] = [None] * len(self.kinds)
        self.cut = 0  # connections the server closed

    def _open(self, kind: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        if kind == "header":
            sock.sendall(b"GET /t.gif?p=/slow HTTP/1.1\r\nHost: x\r\n")
        else:
            sock.sendall(b"POST /t HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                         b"Origin: " + ORIGIN.encode() + b"\r\nContent-Length: 4096\r\n\r\n{")
        return sock

    def step(self) -> None:
        for i, kind in enumerate(self.kinds):
            sock = self.socks[i]
            try:
                if sock is None:
                    self.socks[i] = self._open(kind)
                    continue
                sock.sendall(b"X-Slow: 1\r\n" if kind == "header" else b" ")
            except OSError:
                self.cut += 1
                if sock is not None:
                    sock.close()
                self.socks[i] = None

    def close(self) -> None:
        for sock in self.socks:
            if sock is not None:
                sock.close()


def test_slow_clients_do_not_starve_ordinary_hits(tmp_path: Path) -> None:
    """100 clients trickling headers and 50 trickling bodies for 20 s: ordinary hits keep
    a p99 under a second (the sync workers of before answered none for as long)."""
    import threading

    server = Server(tmp_path / "data")
    try:
        before = latencies(server.port, 5)
        trickle = Trickle(server.port, header=100, body=50)
        stop = threading.Event()

        def hold() -> None:
            until = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < until:
                trickle.step()
                stop.wait(1.0)

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(2)  # every slow connection is open and trickling
        during = latencies(server.port, 15)
        stop.set()
        holder.join(10)
        trickle.close()
    finally:
        err = server.stop()
    figures = (f"ordinary hits without slow clients: n={len(before)} p50="
               f"{statistics.median(before) * 1000:.1f} ms p99={p(before, 0.99) * 1000:.1f} ms; "
               f"with 100 slow-header and 50 slow-body clients: n={len(during)} p50="
               f"{statistics.median(during) * 1000:.1f} ms p99={p(during, 0.99) * 1000:.1f} ms;"
               f" slow connections cut by the server: {trickle.cut}")
    print(figures)
    assert len(during) > 100, figures
    assert p(during, 0.99) < 1.0, figures
    assert trickle.cut >= 100, figures  # the header deadline cut every slow-header client
    assert "Traceback" not in err, err[-2000:]


def send_raw(port: int, data: bytes, source: str = CLIENT) -> bytes:
    """Send bytes from ``source`` and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15,
                                  source_address=(source, 0)) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
            # All is sent: the server need not wait out its deadline for more.
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def malformed_requests(port: int) -> dict[str, bytes]:
    ua = f"User-Agent: {AGENT}\r\n"
    host = f"Host: 127.0.0.1:{port}\r\n"
    return {
        "bad method": f"G@T /t.gif?{QUERY} HTTP/1.1\r\n{host}{ua}\r\n".encode(),
        "bad request line": f"GARBAGE /t.gif?{QUERY}\r\n{host}{ua}\r\n".encode(),
        "bad version": f"GET /t.gif?{QUERY} HTTP/9.Z\r\n{host}{ua}\r\n".encode(),
        "too-long line": f"GET /t.gif?{QUERY}&x={'a' * 9000} HTTP/1.1\r\n{host}{ua}\r\n"
                         .encode(),
        "too-large headers": (f"GET /t.gif?{QUERY} HTTP/1.1\r\n{host}{ua}Cookie: cg_big="
                              f"{'b' * 9000}\r\n\r\n").encode(),
        "too many headers": (f"GET /t.gif?{QUERY} HTTP/1.1\r\n{host}{ua}"
                             + "".join(f"X-H{i}: v\r\n" for i in range(120)) + "\r\n").encode(),
        "bad header name": f"GET /t.gif?{QUERY} HTTP/1.1\r\n{host}{ua}Bad Name: x\r\n\r\n"
                           .encode(),
        "broken chunking": (f"POST /t?{QUERY} HTTP/1.1\r\n{host}{ua}Origin: {ORIGIN}\r\n"
                            "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode(),
        "broken chunking, kept alive": (
            f"POST /consent?{QUERY} HTTP/1.1\r\n{host}{ua}Origin: {ORIGIN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\n{}\r\nZZ\r\n").encode(),
        "bad transfer coding": (f"POST /t?{QUERY} HTTP/1.1\r\n{host}{ua}"
                                "Transfer-Encoding: gzip, chunked, br\r\n\r\n").encode(),
    }


def test_malformed_requests_leave_no_client_data_in_the_logs(tmp_path: Path) -> None:
    """Every kind of request gunicorn or the app rejects, from a known address with a known
    User-Agent and query: none of the three reaches stderr, and gunicorn's own answers
    carry nosniff and a CSP and echo nothing."""
    server = Server(tmp_path / "data", workers=1)
    answers: dict[str, bytes] = {}
    try:
        for name, data in malformed_requests(server.port).items():
            for _ in range(3):  # a few of each: a flood is summarised, not repeated
                answers[name] = send_raw(server.port, data)
        # An ordinary hit still works.
        assert server.get("/t.gif?p=/after", {"Origin": ORIGIN})[0] == 200
    finally:
        err = server.stop()
    for name, answer in answers.items():
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 4") or head.startswith(b"http/1.1 5"), (name, answer)
        assert b"x-content-type-options: nosniff" in head, (name, answer[:400])
        assert b"secretquery" not in answer and b"secret-agent" not in answer, name
    for leak in (CLIENT, "LeakCheckAgent", "secret-agent", "secretquery", "leak%40",
                 "leak@example.com"):
        assert leak not in err, (leak, err[-3000:])
    assert "Refused a request because" in err, err[-3000:]
    assert err.count("Refused a request because") < 3 * len(answers), err[-3000:]
    assert "Traceback" not in err, err[-3000:]


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 16 MiB tmpfs under ``tmp_path`` when this process may mount one, else None."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, check=False) \
        if os.geteuid() == 0 else None
    if done is None or done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, n: int = 0) -> Path:
    """Fill the file system of ``folder`` to the last byte (with a new file)."""
    filler = folder / f"filler-{n}"
    with open(filler, "wb", buffering=0) as fh:
        for size in (65536, 4096, 512, 1):
            try:
                while fh.write(b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def truncate_wal(db: Path) -> None:
    """Checkpoint a store's write-ahead log into its file and cut it to zero bytes, so its
    next write needs new room on the disk (SQLite reuses a log's room otherwise)."""
    import sqlite3

    for _ in range(50):
        conn = sqlite3.connect(db, timeout=5)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError(f"could not truncate the WAL of {db.name}")


def call(port: int, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, body=payload, headers={"Origin": ORIGIN, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["small disk", "fault injection"])
def test_a_full_store_is_503_on_every_route_and_recovers(tmp_path: Path, how: str) -> None:
    from collector import create_app
    from collector.privacy import apitokens

    with small_disk(tmp_path) as disk:
        injected = how == "fault injection" or disk is None
        data = (tmp_path if injected else disk) / "data"  # type: ignore[operator]
        marker = tmp_path / "disk-is-full"
        # The stores, with a sender's API token, as an operator would have made them.
        app = create_app({"DATA_DIR": str(data), "SECRET_KEYS": [SECRET],
                          "TOKEN_KEYS": [TOKEN]})
        col = app.extensions["cleargif"]
        token = apitokens.create(col.identity, "sender", frozenset({"sender"}), 1)
        col.close()
        env = {MARKER_ENV: str(marker), "CLEARGIF_METRICS_TOKEN": "m" * 32}
        command = [sys.executable, "-c", "import tests.faults as f; f.main()"] \
            if injected else None
        server = Server(data, workers=2, env=env, command=command)
        codec = TokenCodec([TOKEN])
        auth = {"Authorization": f"Bearer {token}"}
        recipients = iter(range(10_000))

        def routes() -> list[tuple[str, str, Any, dict[str, str]]]:
            # A new recipient each time: suppressing one already suppressed writes nothing,
            # so it rightly succeeds on a full disk.
            unsub = codec.dump_unsubscribe("spring", "news", recipient=f"r-{next(recipients)}")
            return [
                ("GET", "/t.gif?p=/full", None, {}),
                ("POST", "/t", {"p": "/full"}, {}),
                ("POST", "/consent", {"purposes": {"analytics": True}}, {}),
                ("DELETE", "/consent", None, {}),
                ("POST", f"/u/{unsub}", None, {}),
                ("GET", f"/o/{codec.dump_open('spring', 'news')}.gif", None, {}),
                ("POST", "/api/v1/suppressions",
                 {"suppressions": [{"list": "news", "recipient": f"s-{next(recipients)}"}]},
                 auth),
                ("POST", "/api/v1/campaigns/spring/sends", {"count": 10, "list": "news"},
                 auth),
                ("GET", "/healthz", None, {}),
            ]

        try:
            for method, path, body, headers in routes():  # all well, every store warm
                status, _, _ = call(server.port, method, path, body, headers)
                assert status in (200, 204), (method, path, status)
            fillers: list[Path] = []
            if injected:
                marker.write_text("full")
            else:
                for store in ("events.db", "identity.db"):
                    truncate_wal(data / store)
            for _ in range(2):  # both workers, whichever answers
                for n in range(len(routes())):
                    for _attempt in range(4):
                        # Each attempt a new write (a new recipient), as a retry would be.
                        method, path, body, headers = routes()[n]
                        if not injected:
                            # SQLite frees a little room when it reopens a file after a
                            # failed write (its shared-memory file is cut and regrown), and
                            # a write that fits there is stored and rightly answered 200:
                            # take that room too, until the write fails.
                            fillers.append(fill(disk, len(fillers)))  # type: ignore[arg-type]
                        status, head, answer = call(server.port, method, path, body, headers)
                        if status == 503:
                            break
                    assert status == 503, (method, path, status, answer[:300])
                    assert head.get("retry-after"), (method, path)
                    assert str(data).encode() not in answer and b".db" not in answer, answer
                    assert head.get("x-content-type-options") == "nosniff", (method, path)
            metrics = call(server.port, "GET", "/metrics", None,
                           {"Authorization": f"Bearer {'m' * 32}"})
            assert metrics[0] == 200 and b'cleargif_http_5xx_total{route="' in metrics[2]
            # The cause goes away: no restart is needed.
            if injected:
                marker.unlink()
            for filler in fillers:
                filler.unlink()
            gone = time.monotonic()
            deadline = gone + 90
            while call(server.port, "GET", "/healthz")[0] != 200:
                assert time.monotonic() < deadline, "/healthz did not recover"
                time.sleep(1)
            # Each worker's /healthz remembers its own failed writes for FAILURE_MEMORY
            # seconds, and the one that answered may not be the one that answers next.
            time.sleep(max(0.0, gone + FAILURE_MEMORY - time.monotonic()))
            for _ in range(2):
                for method, path, body, headers in routes():
                    status = call(server.port, method, path, body, headers)[0]
                    assert status in (200, 204), (method, path, status)
        finally:
            err = server.stop()
        assert "Traceback" not in err, err[-3000:]
        # Dozens of failures, a handful of lines (one a minute per kind, then recovery).
        failures = [line for line in err.splitlines() if "failed" in line]
        assert 0 < len(failures) <= 12, err[-3000:]
