"""``cleargif serve`` as real processes: durable writes under load, kill -9, restart."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, TOKEN, error_line, make_app, wait_for

pytestmark = pytest.mark.slow
ORIGIN = "https://www.example.com"


def answers(port: int, path: str) -> int:
    """The status ``GET path`` gets from the server on ``port``, 0 when none answers."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``cleargif serve`` child process on a free port."""

    def __init__(self, data_dir: Path, workers: int = 2, host: str = "127.0.0.1",
                 env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.port = free_port()
        self.host = host
        self.data_dir = data_dir
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
        environ.update(CLEARGIF_DATA_DIR=str(data_dir), CLEARGIF_ALLOWED_ORIGINS=ORIGIN,
                       CLEARGIF_SECRET_KEYS=json.dumps([SECRET]),
                       CLEARGIF_TOKEN_KEYS=json.dumps([TOKEN]),
                       # These tests send from one address faster than a browser would.
                       CLEARGIF_RATE_LIMITS=json.dumps({"hits": "off"}))
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "collector"]), "serve", "--host", host,
             "--port", str(self.port), "--workers", str(workers)], env=environ,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("cleargif serve did not answer /healthz within 30 s")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True, check=False).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.communicate(timeout=20)[1] or ""
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.communicate(timeout=5)[1] or ""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    yield srv
    srv.stop()


def stored_paths(data_dir: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{data_dir / 'events.db'}?mode=ro", uri=True)
    try:
        return [p for (p,) in conn.execute("SELECT path FROM events")]
    finally:
        conn.close()


def test_serve_creates_key_files_and_no_access_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    port = free_port()
    env.update(CLEARGIF_DATA_DIR=str(tmp_path / "d"), CLEARGIF_ALLOWED_ORIGINS=ORIGIN)
    proc = subprocess.Popen([sys.executable, "-m", "collector", "serve", "--port", str(port),
                             "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/t.gif?p=/secret-path", headers={"Origin": ORIGIN})
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.1)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert (tmp_path / "d" / "secret_keys").stat().st_mode & 0o777 == 0o600
    assert "Created" in err and "secret_keys" in err
    assert "secret-path" not in err and "127.0.0.1 -" not in err  # no access log line
    # a second run reuses the files and says nothing about creating them
    first = (tmp_path / "d" / "secret_keys").read_text()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "collector", "serve", "--port",
                             str(port), "--workers", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for(lambda: answers(port, "/healthz") == 200, 30, "the second start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert "Created" not in err
    assert (tmp_path / "d" / "secret_keys").read_text() == first


def test_durable_under_load_with_kill_9(server: Server) -> None:
    """Every hit that got a 200 GIF is stored, once, even when a worker dies mid-load."""
    ok: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 60

    def client(n: int) -> None:
        for i in range(150):
            if time.monotonic() > stop_at:
                return
            path = f"/load/{n}/{i}"
            try:
                status, body = server.get(f"/t.gif?p={path}", {"Origin": ORIGIN})
            except (OSError, http.client.HTTPException):
                continue  # the worker died under this request (even mid-answer)
            if status == 200:
                assert len(body) == 43
                with lock:
                    ok.append(path)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(ok) >= 20, 30, "the first hits")  # under load, then the kill
    victims = server.workers()
    assert len(victims) >= 2
    os.kill(victims[0], signal.SIGKILL)
    for t in threads:
        t.join(90)
    stored = stored_paths(server.data_dir)
    assert len(ok) > 300
    missing = set(ok) - set(stored)
    assert not missing, f"{len(missing)} hits answered 200 but not stored"
    assert len(stored) == len(set(stored)), "a hit was stored twice"
    err = server.stop()
    assert "database is locked" not in err

    # restart on the same data folder: everything is still there, and it keeps counting
    again = Server(server.data_dir)
    try:
        assert again.get("/t.gif?p=/after", {"Origin": ORIGIN})[0] == 200
        after = stored_paths(server.data_dir)
        assert set(ok) <= set(after) and "/after" in after
    finally:
        again.stop()


def test_sigterm_finishes_requests_in_flight(server: Server) -> None:
    results: list[Any] = []
    sent_half = threading.Event()

    def slow_client() -> None:
        # a body trickled in slowly keeps the request in flight across the SIGTERM
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        body = json.dumps({"p": "/in-flight"}).encode()
        conn.putrequest("POST", "/t")
        conn.putheader("Origin", ORIGIN)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        conn.send(body[:5])
        sent_half.set()
        time.sleep(1.5)  # the rest arrives after the SIGTERM: part of the scenario
        conn.send(body[5:])
        results.append(conn.getresponse().status)
        conn.close()

    t = threading.Thread(target=slow_client)
    t.start()
    assert sent_half.wait(10)
    server.proc.send_signal(signal.SIGTERM)
    t.join(30)
    assert results == [204]
    assert "/in-flight" in stored_paths(server.data_dir)


def test_daily_purge_runs_once_under_a_lock(tmp_path: Path) -> None:
    import fcntl

    from collector.server.purge import run_purge_once

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(tmp_path)
    make_app({"DATA_DIR": str(tmp_path)}).extensions["cleargif"].close()  # as serve leaves it
    assert run_purge_once(str(tmp_path), env) == 0  # the purge command ran and succeeded
    with open(tmp_path / "events.db.purge.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another serve on this data folder is purging
        assert run_purge_once(str(tmp_path), env) is None
    env["CLEARGIF_K_MIN"] = "0"  # a broken configuration: the purge fails, serve goes on
    assert run_purge_once(str(tmp_path), env) == 2


def test_a_purge_by_hand_waits_for_none_and_overlaps_none(app: Any) -> None:
    from collector.analytics.retention import purge_lock

    runner = app.test_cli_runner()
    with purge_lock(app.extensions["cleargif"]) as held:
        assert held  # the daily purge of a serve is running
        out = runner.invoke(args=["purge"])
        assert out.exit_code == 75 and "Traceback" not in out.output
        assert error_line(out.stderr) == ("Error: Another purge is running on these stores (it "
                                          "holds the purge lock); let it finish, or see what "
                                          "it does with --dry-run.")
        assert runner.invoke(args=["purge", "--dry-run"]).exit_code == 0  # reads only
    assert runner.invoke(args=["purge"]).exit_code == 0


@pytest.mark.parametrize("args", [["--host", "nonexistent.invalid"], ["--port", "BUSY"]])
def test_serve_bad_address_one_line(tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = [port if a == "BUSY" else a for a in args]
        done = subprocess.run([sys.executable, "-m", "collector", "serve", *args], env=env,
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in lines[0]


def test_serve_without_its_worker_dependencies_one_line(tmp_path: Path) -> None:
    # As on an install missing a package gunicorn's gevent worker imports (packaging,
    # which gunicorn 27 stopped declaring): one line, not gunicorn's traceback.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(tmp_path)
    code = ("import sys; sys.modules['gunicorn.workers.ggevent'] = None; "
            "from collector.cli.main import main; sys.argv = ['cleargif', 'serve', "
            f"'--port', '{free_port()}']; main()")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cleargif serve cannot load its "
                                                   "gevent worker"), done.stderr
    assert "pip install" in lines[0]


def test_serve_dev_plain_http_cookies(tmp_path: Path) -> None:
    """--dev: Flask's reloader, cookies without Secure for plain http, no request log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "collector", "serve", "--dev", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        headers: list[tuple[str, str]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not headers:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/consent", body=json.dumps(
                    {"purposes": {"analytics": True}}), headers={
                    "Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                headers = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
                conn.close()
            except OSError:
                time.sleep(0.2)
        assert any(h.startswith("cg_sid=") for h in headers)
        assert all("Secure" not in h for h in headers)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "POST /consent" not in err  # no request log


@pytest.mark.parametrize(("argv", "named", "command"), [
    (["export", "--nope"], "--nope", "cleargif export"),
    (["nothing"], "nothing", "cleargif"),
    (["token", "new"], "--scope", "cleargif token new"),
    (["export", "--since", "2026-01-31"], "--until", "cleargif export"),
])
def test_usage_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str], argv: list[str],
                                   named: str, command: str) -> None:
    """One line in cleargif's own shape (click's wording inside it may change)."""
    from collector.cli.main import main

    monkeypatch.setenv("CLEARGIF_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Usage:" not in err
    assert err.startswith("Error: ") and named in err
    assert err.strip().endswith(f"See `{command} --help`.")
    assert not (tmp_path / "data").exists()


def test_help_and_success_exit_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from collector.cli.main import main

    monkeypatch.setenv("CLEARGIF_DATA_DIR", str(tmp_path / "data"))
    make_app({"DATA_DIR": str(tmp_path / "data")}).extensions["cleargif"].close()
    for argv in (["--help"], ["export", "--since", "2026-01-01", "--until", "2026-01-02"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    assert "Usage: cleargif" in capsys.readouterr().out


@pytest.mark.parametrize(("flag", "host", "config", "expected"), [
    (False, "127.0.0.1", {"ALLOWED_ORIGINS": []}, True),  # a newcomer's first run
    (False, "::1", {"ALLOWED_ORIGINS": []}, True),
    (False, "127.0.0.1", {"ALLOWED_ORIGINS": ["https://www.example.com"]}, False),  # proxy
    (True, "127.0.0.1", {"ALLOWED_ORIGINS": ["https://www.example.com"]}, True),
    (False, "0.0.0.0", {"ALLOWED_ORIGINS": []}, False),
    (False, "0.0.0.0", {"ALLOWED_ORIGINS": [], "DEMO": True}, True),
])
def test_wants_demo(flag: bool, host: str, config: dict[str, Any], expected: bool) -> None:
    from collector.server import wants_demo

    assert wants_demo(flag, host, config) is expected


def test_a_purge_on_an_unusable_data_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(blocker / "data")
    done = subprocess.run([sys.executable, "-m", "collector", "purge"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: No cleargif data here: the events store {blocker}/data/events.db does not "
        "exist. Run this where `cleargif serve` keeps its data, or point to it with "
        "--data-dir DIR (or CLEARGIF_DATA_DIR)."]


@pytest.mark.parametrize("argv", [[], ["consent"]])
def test_a_group_alone_prints_its_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str],
                                       argv: list[str]) -> None:
    from collector.cli.main import main

    monkeypatch.setenv("CLEARGIF_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert err.startswith(f"Usage: cleargif{' ' if argv else ''}{' '.join(argv)} [OPTIONS]")
    assert "Error" not in err and "Commands:" in err
    from flask import current_app

    assert not current_app, "no app context is left pushed behind"


@pytest.mark.parametrize("args", [
    ["token", "new", "--scope", "sender", "--name", "a\x01b"],
    ["token", "new", "--scope", "sender", "--name", "a\nb"],
    ["token", "new", "--scope", "sender", "--name", "\udcff"],
    ["token", "revoke", "--name", "\udcff"],
    ["audit", "--since", ""],
    ["serve", "--host", "a" * 300],
])
def test_more_bad_cli_input_is_one_line(app: Any, args: list[str]) -> None:
    out = app.test_cli_runner().invoke(args=args)
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert out.stderr.startswith("Error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "Using the " not in out.stderr  # the arguments are checked before any store


def test_key_files_that_cannot_be_written_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = str(blocker / "data")
    for args, message in (
            (["keys", "new"], f"No cleargif data folder at {blocker}/data. Run this where "
             "`cleargif serve` keeps its data, or point to it with --data-dir DIR (or "
             "CLEARGIF_DATA_DIR)."),
            (["serve", "--port", str(free_port())], f"The key file {blocker}/data/secret_keys "
             "could not be written (Not a directory); check that DATA_DIR exists and is "
             "writable.")):
        done = subprocess.run([sys.executable, "-m", "collector", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "Traceback" not in done.stderr, args
        assert done.stderr.strip().splitlines() == [f"Error: {message}"], args


@pytest.mark.parametrize(("path", "content_type"), [
    ("/t", "text/plain"), ("/consent", "application/json"),
    ("/consent", "application/x-www-form-urlencoded"),
])
def test_a_broken_chunked_body_is_a_400_under_gunicorn(server: Server, path: str,
                                                       content_type: str) -> None:
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Origin: {ORIGIN}\r\nContent-Type: {content_type}\r\n"
               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               "zz\r\n{}\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"could not be read" in answer


def test_a_booting_worker_stops_on_the_stop_signals() -> None:
    """A worker forked with the master's handlers would only queue a stop signal in its
    copy of the master's memory, and keep booting until killed 30 s later."""
    from collector.server import STOP_SIGNALS, gunicorn_options, worker_forked

    assert gunicorn_options("127.0.0.1", 8000, 1)["post_fork"] is worker_forked
    before = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    try:
        for number in STOP_SIGNALS:
            signal.signal(number, lambda *_: None)  # as inherited from the master
        worker_forked(None, None)
        assert all(signal.getsignal(number) is signal.SIG_DFL for number in STOP_SIGNALS)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
