"""``cleargif token new|revoke|list``: the admin API's bearer tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import data_stores, errors_as_lines, fail

token_group = AppGroup("token", help="Admin API tokens (only their hash is stored).")


@token_group.command("new")
@click.option("--scope", required=True, help="aggregate, sender and/or pii, comma-separated.")
@click.option("--name", required=True, help="Who uses it, e.g. 'analytics team'.")
@errors_as_lines
def token_new(scope: str, name: str) -> None:
    """Create a token; it is printed once."""
    import time

    from ..privacy import apitokens

    scopes = apitokens.parse_scopes(scope)
    apitokens.check_name(name)
    identity = data_stores("identity").identity
    token = apitokens.create(identity, name, scopes, int(time.time()))
    click.echo(token)
    click.echo(f"Token {name!r} with scope {scope}: shown once, store it now.", err=True)


@token_group.command("revoke")
@click.option("--name", required=True, help="The token's name.")
@errors_as_lines
def token_revoke(name: str) -> None:
    """Revoke the live token of that name."""
    import time

    from ..privacy import apitokens

    apitokens.check_name(name)
    if not apitokens.revoke(data_stores("identity").identity, name, int(time.time())):
        fail(f"No live token is named {name!r}; see `cleargif token list`.")
    click.echo(f"Revoked {name!r}.")


@token_group.command("list")
@errors_as_lines
def token_list() -> None:
    """List tokens (names, scopes, dates; never the secrets)."""
    from sdk.times import iso

    from ..privacy import apitokens

    for t in apitokens.listing(data_stores("identity").identity):
        state = f"revoked {iso(t.revoked_at)}" if t.revoked_at else "live"
        click.echo(f"{t.name}\t{','.join(sorted(t.scopes))}\tcreated {iso(t.created_at)}\t{state}")
