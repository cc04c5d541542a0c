"""``cleargif keys new``: rotate the signing keys kept under ``DATA_DIR``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import data_folder, errors_as_lines, fail

keys_group = AppGroup("keys", help="Manage the signing keys under DATA_DIR.")


@keys_group.command("new")
@click.option("--kind", type=click.Choice(["secret", "token", "both"]), default="both",
              show_default=True, help="SECRET_KEYS (cookies, receipts) or TOKEN_KEYS (email).")
@errors_as_lines
def keys_new(kind: str) -> None:
    """Append a new key; it signs from now on, older keys still verify."""
    from ..config import append_key

    data_folder()
    names = {"secret": ["SECRET_KEYS"], "token": ["TOKEN_KEYS"],
             "both": ["SECRET_KEYS", "TOKEN_KEYS"]}[kind]
    for name in names:
        if current_app.config.get(name):
            fail(f"{name} is set in the configuration, so its key file is not used; add the "
                 "new key to the configuration instead.")
        path = append_key(current_app.config, name)
        click.echo(f"Appended a new key to {path}; restart the collector (and share "
                   f"{'TOKEN_KEYS with your senders' if name == 'TOKEN_KEYS' else 'nothing'}"
                   ").")
