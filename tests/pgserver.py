"""A throwaway PostgreSQL server for the tests and benchmarks: ``initdb`` and ``pg_ctl``
from the machine's PostgreSQL (13 or newer) on a temporary folder and a free port, as the
``postgres`` user when run as root. Nothing of the machine's own clusters is touched."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: Where Debian and Ubuntu put the server programs (one folder per major version).
_DEBIAN_BIN = "/usr/lib/postgresql/*/bin"
HOW_TO_ENABLE = ("PostgreSQL missing: apt-get install postgresql (13 or newer; initdb and "
                 "pg_ctl are found on PATH or under /usr/lib/postgresql/*/bin) and pip "
                 "install -e '.[test]' (psycopg) to run the PostgreSQL tests")


def server_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, newest version first; None without one."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob(_DEBIAN_BIN),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                      else 0)
    for folder in reversed(versions):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def available() -> str | None:
    """None when a server can be started here, else why not (how to enable it)."""
    if server_bin() is None:
        return HOW_TO_ENABLE
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return HOW_TO_ENABLE
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser (util-linux) to start PostgreSQL as postgres"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1.

    :param durable: keep ``fsync`` on (benchmarks); the tests turn it off for speed, which
        changes nothing of what a commit means to a client.
    """

    def __init__(self, durable: bool = False) -> None:
        self.bin = server_bin()
        if self.bin is None:
            raise RuntimeError(HOW_TO_ENABLE)
        self.root = Path(tempfile.mkdtemp(prefix="cleargif-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.durable = durable
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr[-2000:]}")

    def start(self) -> TempPostgres:
        """initdb and start; returns self."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} -c max_connections=200")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "start")
        return self

    def url(self, database: str = "postgres", user: str = "postgres",
            password: str | None = None) -> str:
        """A ``postgresql://`` URL of this server."""
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each in its own transaction."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    def new_database(self, name: str) -> str:
        """Create an empty database; its superuser URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleargif_database(self, name: str) -> tuple[str, str]:
        """A database set up as the README says for several collectors: two roles, the
        events role given no access to the identity schema. ``(EVENTS_URL,
        IDENTITY_URL)``."""
        self.sql(f"CREATE ROLE {name}_events LOGIN PASSWORD 'events-{name}'",
                 f"CREATE ROLE {name}_identity LOGIN PASSWORD 'identity-{name}'",
                 f"CREATE DATABASE {name}")
        self.sql(f"CREATE SCHEMA cleargif_events AUTHORIZATION {name}_events",
                 f"CREATE SCHEMA cleargif_identity AUTHORIZATION {name}_identity",
                 database=name)
        return (self.url(name, f"{name}_events", f"events-{name}"),
                self.url(name, f"{name}_identity", f"identity-{name}"))

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        with contextlib.suppress(RuntimeError):  # already stopped
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "stop")
        shutil.rmtree(self.root, ignore_errors=True)
