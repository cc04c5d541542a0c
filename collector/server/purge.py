"""The daily purge of ``cleargif serve``: ``cleargif purge`` in a child process, under the
purge lock, so a purge never runs inside a worker and two never overlap."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping

PURGE_EVERY_SECONDS = 24 * 3600


def run_purge_once(data_dir: str, env: Mapping[str, str] | None = None) -> int | None:
    """Run ``cleargif purge`` in a child process (which takes the purge lock,
    :func:`collector.analytics.retention.purge_lock`).

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
