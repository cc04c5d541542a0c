"""The daily purge of ``cleargif serve``: ``cleargif purge`` in a child process, under the
purge lock, so a purge never runs inside a worker and two never overlap.

A purge that cannot start (no memory or processes left for the child, say) or fails is
tried again after a back-off that doubles from :data:`RETRY_FIRST_SECONDS` up to
:data:`RETRY_MAX_SECONDS`, and the log says so each time; the thread itself never dies.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping

PURGE_EVERY_SECONDS = 24 * 3600
#: The first wait after a purge that could not start or failed; it doubles each time.
RETRY_FIRST_SECONDS = 60.0
#: The longest wait between retries.
RETRY_MAX_SECONDS = 3600.0

log = logging.getLogger("cleargif")


class PurgeNotStarted(Exception):
    """The child process of a purge could not be started."""


def run_purge_once(data_dir: str, env: Mapping[str, str] | None = None) -> int | None:
    """Run ``cleargif purge`` in a child process (which takes the purge lock,
    :func:`collector.analytics.retention.purge_lock`).

    Returns its exit status, or None when another process holds the lock (another
    ``serve`` on the same data folder, or an operator, is purging).

    :raises PurgeNotStarted: the child could not be started (the message says why).
    """
    try:
        done = subprocess.run([sys.executable, "-m", "collector", "purge"],
                              env=dict(env or os.environ), check=False,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise PurgeNotStarted(exc.strerror or type(exc).__name__) from None
    from ..cli.purge import PURGE_BUSY

    if done.returncode == PURGE_BUSY:
        return None
    if done.returncode != 0:
        log.error("daily purge failed: %s", done.stderr.strip()[-500:])
    return done.returncode


def next_wait(status: int | PurgeNotStarted | None, retry: float, every: float) -> float:
    """Seconds until the next attempt after one that ended with ``status``: the daily
    period after a purge that ran (or another process's), else the back-off ``retry``."""
    if isinstance(status, PurgeNotStarted) or (status is not None and status != 0):
        return retry
    return every


def start_daily_purge(data_dir: str, env: Mapping[str, str],
                      every: float = PURGE_EVERY_SECONDS,
                      run: Callable[[str, Mapping[str, str]], int | None] = run_purge_once,
                      first_retry: float = RETRY_FIRST_SECONDS,
                      max_retry: float = RETRY_MAX_SECONDS) -> threading.Event:
    """Purge now and then every ``every`` seconds in a daemon thread, retrying with a
    doubling back-off after a failure; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        retry = first_retry
        while not stop.is_set():
            status: int | PurgeNotStarted | None
            try:
                status = run(data_dir, env)
            except PurgeNotStarted as exc:
                status = exc
                log.error("The daily purge could not start (%s); trying again in %d s.",
                          exc, retry)
            except Exception as exc:  # the thread must outlive any surprise
                status = PurgeNotStarted(type(exc).__name__)
                log.error("The daily purge could not run (%s); trying again in %d s.",
                          type(exc).__name__, retry)
            wait = next_wait(status, retry, every)
            if wait == retry:
                if not isinstance(status, PurgeNotStarted):
                    log.error("The daily purge failed (exit status %s); trying again in "
                              "%d s.", status, retry)
                retry = min(retry * 2, max_retry)
            else:
                retry = first_retry
            stop.wait(wait)

    threading.Thread(target=loop, name="cleargif-purge", daemon=True).start()
    return stop
