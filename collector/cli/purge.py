"""``cleargif purge [--dry-run]``: enforce the retention periods (DESIGN 1.7).

``cleargif serve`` runs it daily in a child process under a lock file
(:func:`collector.server.run_purge_once`); operators may run it by hand too.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click
from flask.cli import with_appcontext

from ..analytics.retention import PURGE_BUSY
from . import Bars, data_stores, errors_as_lines


class _Busy(click.ClickException):
    """Another purge holds the lock: one line, exit status :data:`PURGE_BUSY`."""

    exit_code = PURGE_BUSY

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; change nothing.")
@with_appcontext
@errors_as_lines
def purge(dry_run: bool) -> None:
    """Delete, or tombstone, what is past its retention period.

    Raw events are rolled up by day before they go; receipts and audit entries become
    tombstones. Prints one line per data class: how many went and the oldest date kept.
    """
    from .. import clock
    from ..analytics import retention

    col = data_stores("events", "identity")
    bars = Bars(12) if sys.stderr.isatty() else None
    # A dry run only reads; a purge must not overlap another (the daily one of a serve,
    # here or on another collector sharing the store).
    lock = contextlib.nullcontext(True) if dry_run else retention.purge_lock(col)
    with lock as held:
        if not held:
            raise _Busy("Another purge is running on these stores (it holds the purge "
                        "lock); let it finish, or see what it does with --dry-run.")
        try:
            reports = retention.purge(col, clock.now(), dry_run=dry_run,
                                      progress=bars)
        finally:
            if bars is not None:
                bars.close()
    for report in reports:
        click.echo(report.line())
    if dry_run:
        click.echo("Dry run: nothing was changed.", err=True)
