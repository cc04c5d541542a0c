"""``cleargif suppressions import FILE``: the sender's loop, from a mailbox of bounces and
complaints to the suppression list."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from . import data_stores, errors_as_lines

suppressions_group = AppGroup("suppressions", help="The suppression list: who not to mail.")


class _Bar:
    """A progress bar on stderr, drawn once the number of messages is known."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._stack = contextlib.ExitStack()
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if total <= 0:
                return
            self._bar = self._stack.enter_context(click.progressbar(
                length=total, label=self._label, file=sys.stderr))
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Finish the bar, if one was drawn."""
        self._stack.close()


def _on_terminal() -> bool:
    return sys.stderr.isatty()


@suppressions_group.command("import")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would be suppressed; change nothing.")
@errors_as_lines
def import_command(path: Path, dry_run: bool) -> None:
    """Suppress the recipients of hard bounces and complaints found in FILE.

    FILE is an mbox file, a folder of .eml files or one .eml file holding delivery status
    notifications (RFC 3464) and abuse reports (ARF, RFC 5965). Each is mapped to its
    recipient through the tokens of the returned mail (TOKEN_KEYS); hard bounces and
    complaints are suppressed from all mail, soft bounces are not. Addresses are never
    stored or shown. Prints one line per outcome; running it again changes nothing.
    """
    from .. import clock
    from ..mail.bounces import read_reports
    from ..mail.imports import import_reports, summary_lines

    col = data_stores("identity")
    codec = col.token_codec
    bar = _Bar("Reading reports") if _on_terminal() else None
    reports = read_reports(path, codec, progress=bar)
    try:
        result = import_reports(col.identity, reports, int(clock.now()), dry_run=dry_run)
    finally:
        if bar is not None:
            bar.close()
    messages = result.summary.messages
    click.echo(f"Read {messages} message{'' if messages == 1 else 's'} from {path}.")
    for line in summary_lines(result, dry_run=dry_run):
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was changed.", err=True)
