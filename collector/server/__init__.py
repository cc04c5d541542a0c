"""Running the collector for real: gunicorn workers, no access log, the daily purge.

Each worker builds its own app after the fork, so no store connection is ever shared
between processes. The access log stays off: it would hold addresses and full URLs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from ..errors import StorageError

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PURGE_EVERY_SECONDS = 24 * 3600


class CollectorServer(BaseApplication):
    """A gunicorn application whose workers each call ``create_app(overrides)``."""

    def __init__(self, overrides: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.overrides = dict(overrides)
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Hand the options to gunicorn (called by gunicorn)."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork (called by gunicorn)."""
        from .. import create_app

        return create_app(self.overrides)


def wants_demo(flag: bool, host: str, config: Mapping[str, Any]) -> bool:
    """Whether ``cleargif serve`` shows the demo page at ``/``.

    Asked for (``--demo`` or ``DEMO``), or a first run on loopback: no site configured
    yet (``ALLOWED_ORIGINS`` empty). A collector on loopback behind a reverse proxy,
    with its sites configured, serves no demo unless asked.
    """
    if flag or config.get("DEMO"):
        return True
    return host in LOOPBACK and not config.get("ALLOWED_ORIGINS")


def address_problem(host: str, port: int) -> str | None:
    """Why the collector cannot listen on ``host:port``, as a sentence, or None."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):  # UnicodeError: a name IDNA cannot encode
        return f"--host {host[:80]!r} is not an address or a name this machine can resolve."
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except PermissionError:
            return f"Port {port} needs privileges; choose a port above 1023 with --port."
        except OSError as exc:
            return (f"Cannot listen on {host}:{port} ({exc.strerror}); stop the program using "
                    "it or choose another --port.")
    return None


def gunicorn_options(host: str, port: int, workers: int,
                     on_ready: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """gunicorn settings: sync workers, access log off, graceful SIGTERM."""
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "worker_class": "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 30,
        "timeout": 30,
        "keepalive": 5,
        # Request lines longer than this are refused by gunicorn itself with a 4xx.
        "limit_request_line": 8190,
        "proc_name": "cleargif",
    }
    if on_ready is not None:
        options["when_ready"] = on_ready
    return options


@contextlib.contextmanager
def purge_lock(data_dir: str) -> Iterator[bool]:
    """Hold ``DATA_DIR/purge.lock`` exclusively while the block runs; yields False at
    once, holding nothing, when another process holds it.

    :raises StorageError: the lock file cannot be created (the message says where).
    """
    path = Path(data_dir) / "purge.lock"
    try:
        Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = open(path, "a")  # noqa: SIM115 - closed by the with block below
    except OSError as exc:
        raise StorageError(f"Cannot create the purge lock {path} ({exc.strerror}); check "
                           "that DATA_DIR exists and is writable.") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_purge_once(data_dir: str, env: Mapping[str, str] | None = None) -> int | None:
    """Run ``cleargif purge`` in a child process (which takes :func:`purge_lock`).

    Returns its exit status, or None when another process holds the lock (another
    ``serve`` on the same data folder, or an operator, is purging).
    """
    done = subprocess.run([sys.executable, "-m", "collector", "purge"],
                          env=dict(env or os.environ), check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    from ..cli.purge import PURGE_BUSY

    if done.returncode == PURGE_BUSY:
        return None
    if done.returncode != 0:
        logging.getLogger("cleargif").error("daily purge failed: %s",
                                            done.stderr.strip()[-500:])
    return done.returncode


def start_daily_purge(data_dir: str, env: Mapping[str, str],
                      every: float = PURGE_EVERY_SECONDS) -> threading.Event:
    """Purge now and then every ``every`` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            run_purge_once(data_dir, env)
            stop.wait(every)

    threading.Thread(target=loop, name="cleargif-purge", daemon=True).start()
    return stop


def serve_dev(overrides: Mapping[str, Any], host: str, port: int) -> None:
    """Flask's development server with its reloader, without request logging."""
    from werkzeug.serving import run_simple

    from .. import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(overrides)
    # run_simple rather than app.run: Flask refuses app.run() inside its own CLI.
    run_simple(host, port, app, use_reloader=True, threaded=True)
