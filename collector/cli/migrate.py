"""``cleargif migrate``: bring both stores to the schema this release knows."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from . import errors_as_lines


@click.command("migrate")
@with_appcontext
@errors_as_lines
def migrate() -> None:
    """Apply the schema migrations the stores lack, creating them where they do not exist.

    ``cleargif serve`` does the same when it starts; several collectors starting at once
    apply each migration once. A store newer than this release is refused.
    """
    from ..extension import ext

    col = ext()
    for name, store in (("events", col.events), ("identity", col.identity)):
        applied = store.migrate()
        done = ", ".join(str(v) for v in applied)
        click.echo(f"{name} store {store.location}: schema version {store.schema_version()}"
                   + (f" (applied {done})" if applied else " (up to date)"))
