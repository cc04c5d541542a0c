"""Running the collector for real: gunicorn with gevent workers (:mod:`.worker`), a
logger that writes no client data (:mod:`.logger`) and no access log (the daily purge is
in :mod:`.purge`).

Each worker builds its own app after the fork, so no store connection is ever shared
between processes. The access log stays off: it would hold addresses and full URLs.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


#: Connections one worker holds at once; more wait in the listen queue.
WORKER_CONNECTIONS = 2000

#: Builds a collector app with configuration overrides (:func:`collector.create_app`).
AppFactory = Callable[[Mapping[str, Any]], Any]


class CollectorServer(BaseApplication):
    """A gunicorn application whose workers each build their app with ``factory``."""

    def __init__(self, factory: AppFactory, overrides: Mapping[str, Any],
                 options: Mapping[str, Any]) -> None:
        self.factory = factory
        self.overrides = dict(overrides)
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Hand the options to gunicorn (called by gunicorn)."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork (called by gunicorn)."""
        return self.factory(self.overrides)


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


def worker_problem() -> str | None:
    """Why gunicorn cannot load the collector's gevent worker, as a sentence, or None
    (gunicorn itself would answer with a traceback)."""
    try:
        from . import worker  # noqa: F401
    except ImportError as exc:
        return (f"cleargif serve cannot load its gevent worker ({exc}); install cleargif "
                "again with its dependencies (pip install -e .).")
    return None


#: The signals that stop a worker (gunicorn installs its handlers for them at boot).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def worker_forked(arbiter: Any, worker: Any) -> None:
    """gunicorn's ``post_fork``: a new worker stops on the stop signals until it installs
    its own handlers. It inherits the master's, which only queue the signal in the
    master's memory, so a worker told to stop while booting (``cleargif serve`` stopped
    just after it started) kept running until the graceful timeout killed it, 30 s on."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def gunicorn_options(host: str, port: int, workers: int,
                     on_ready: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """gunicorn settings: gevent workers with header and body deadlines, a logger without
    client data and no access log, graceful SIGTERM."""
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        # Slow or idle clients cost a greenlet each, not a worker (see .worker).
        "worker_class": "collector.server.worker.CollectorWorker",
        "worker_connections": WORKER_CONNECTIONS,
        "logger_class": "collector.server.logger.PrivateLogger",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 30,
        # A worker whose event loop is stuck this long (never a slow client) is replaced.
        "timeout": 30,
        # Must not be 0: gunicorn reads each request's head inside the worker's header
        # deadline only on kept-alive connections.
        "keepalive": 10,
        # Request lines longer than this are refused by gunicorn itself with a 4xx.
        "limit_request_line": 8190,
        "proc_name": "cleargif",
        "post_fork": worker_forked,
    }
    if on_ready is not None:
        options["when_ready"] = on_ready
    return options


def serve_dev(factory: AppFactory, overrides: Mapping[str, Any], host: str,
              port: int) -> None:
    """Flask's development server with its reloader, without request logging."""
    from werkzeug.serving import run_simple

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = factory(overrides)
    # run_simple rather than app.run: Flask refuses app.run() inside its own CLI.
    run_simple(host, port, app, use_reloader=True, threaded=True)
