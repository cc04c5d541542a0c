"""``cleargif copy --from URL --to URL``: move both stores to another backend."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import with_appcontext

from . import Bars, errors_as_lines, fail

URLS_HELP = ("sqlite:///path/to/data-folder (the folder holding events.db and identity.db) "
             "or postgresql://user:password@host/database (both stores, each in its schema)")


def _stores_at(url: str, identity: str | None, what: str) -> tuple[str, str]:
    """``(events URL, identity URL)`` of a place given on the command line."""
    if url.startswith("sqlite:///"):
        folder = url[len("sqlite:///"):]
        if not folder or folder.endswith(".db"):
            fail(f"{what} names a SQLite file; give the data folder that holds events.db "
                 f"and identity.db, such as sqlite:///srv/cleargif-data.")
        events = f"sqlite:///{os.path.join(folder, 'events.db')}"
        return events, identity or f"sqlite:///{os.path.join(folder, 'identity.db')}"
    if url.startswith(("postgresql://", "postgres://")):
        return url, identity or url
    fail(f"{what} must be {URLS_HELP}.")


@click.command("copy")
@click.option("--from", "source", required=True, metavar="URL",
              help=f"Where the stores are now: {URLS_HELP}.")
@click.option("--to", "target", required=True, metavar="URL", help="Where they go, as --from.")
@click.option("--from-identity", default=None, metavar="URL",
              help="The source's identity store, when it is not in --from (another "
                   "database or role).")
@click.option("--to-identity", default=None, metavar="URL",
              help="The destination's identity store, when it is not in --to.")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(100, 100_000),
              help="Rows per transaction.")
@with_appcontext
@errors_as_lines
def copy_command(source: str, target: str, from_identity: str | None,
                 to_identity: str | None, batch: int) -> None:
    """Copy both stores to another backend, such as from SQLite to PostgreSQL.

    Runs again to finish after an interruption (rows already there are left alone), and
    ends by comparing every table's rows and checking the receipt chain where it landed.
    Stop the collectors first, or run it again afterwards to bring over what came
    meanwhile. Exit status 1 when the counts differ or the chain is not intact.
    """
    from sdk.remember import RememberStore

    from ..consent.receipts import check_chain
    from ..extension import ext
    from ..storage import open_events, open_identity
    from ..storage.copy import copy_store

    src = _stores_at(source, from_identity, "--from")
    dst = _stores_at(target, to_identity, "--to")
    if src == dst:
        fail("--from and --to name the same stores; copy to another place.")
    events_from, identity_from = open_events(src[0]), open_identity(src[1])
    if not (events_from.exists() and identity_from.exists()):
        fail(f"No cleargif data at {events_from.location} and {identity_from.location}; "
             "check --from (a data folder for SQLite).")
    events_to, identity_to = open_events(dst[0]), open_identity(dst[1])
    click.echo(f"Copying {events_from.location} and {identity_from.location} to "
               f"{events_to.location} and {identity_to.location}.", err=True)
    bars = Bars(18) if sys.stderr.isatty() else None
    try:
        if identity_from.has_remember_tables():
            # The SDK makes its remember-me tables on first use; make them at the
            # destination so that their rows have a place.
            with RememberStore(dst[1], keys=()) as remember:
                remember.epoch("cleargif-copy")
        results = [*copy_store(events_from, events_to, batch=batch, progress=bars),
                   *copy_store(identity_from, identity_to, batch=batch, progress=bars)]
    finally:
        if bars is not None:
            bars.close()
        for store in (events_from, identity_from):
            store.close()
    for result in results:
        click.echo(result.line())
    rows = list(identity_to.receipt_rows())
    problems, _, count = check_chain(rows, ext().receipt_keys)
    chain = "intact" if not problems else f"NOT intact, {len(problems)} problems"
    click.echo(f"receipt chain at the destination: {count} receipts, {chain}")
    events_to.close()
    identity_to.close()
    if problems or not all(r.complete for r in results):
        click.get_current_context().exit(1)
