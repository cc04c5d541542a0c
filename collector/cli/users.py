"""``cleargif user add|remove|list``: the accounts that may sign in to the dashboard."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from . import data_stores, errors_as_lines, fail

user_group = AppGroup("user", help="Dashboard accounts (only a hash of each password is "
                                   "stored).")


def _read_password(from_stdin: bool) -> str:
    from ..dashboard.auth import MAX_PASSWORD

    if not from_stdin:
        text: str = click.prompt("Password", hide_input=True,
                                 confirmation_prompt="Repeat the password")
        return text
    # Bytes, decoded strictly: a password no browser could type back is refused here.
    raw: bytes = sys.stdin.buffer.readline(4 * MAX_PASSWORD + 2)
    try:
        return raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        fail("The password on standard input is not UTF-8 text; send it as UTF-8.")


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of a "
                   "prompt (for scripts: never put it on the command line).")
@errors_as_lines
def user_add(name: str, password_stdin: bool) -> None:
    """Add an account NAME that may sign in to the dashboard at /dashboard/."""
    from ..dashboard import auth

    auth.check_name(name)
    identity = data_stores("identity").identity
    if identity.user_password_hash(name) is not None:
        fail(f"There is already a user named {name}; remove it first (cleargif user remove "
             f"{name}) to give it a new password.")
    password = _read_password(password_stdin)
    auth.add_user(identity, name, password)
    click.echo(f"Added {name}: sign in at /dashboard/ on the collector.")


@user_group.command("remove")
@click.argument("name")
@errors_as_lines
def user_remove(name: str) -> None:
    """Remove the account NAME: its sessions and remember-me logins end at once."""
    from sdk.remember import RememberStore

    from ..dashboard import auth

    auth.check_name(name)
    identity = data_stores("identity").identity
    if not auth.remove_user(identity, name):
        fail(f"No user is named {name}; see `cleargif user list`.")
    # Its remember-me tokens go too (no key is needed to end them).
    with RememberStore(current_app.config["IDENTITY_URL"], keys=()) as remember:
        remember.forget_everywhere(auth.remember_account(name))
    click.echo(f"Removed {name}; its sessions and remembered logins have ended.")


@user_group.command("list")
@errors_as_lines
def user_list() -> None:
    """List the accounts: name, when added, last sign-in (never a password hash)."""
    from sdk.times import iso

    users = data_stores("identity").identity.users()
    if not users:
        click.echo("No users yet; add one with `cleargif user add NAME`.", err=True)
    for user in users:
        last = iso(user.last_login_at) if user.last_login_at is not None else "never"
        click.echo(f"{user.name}\tadded {iso(user.created_at)}\tlast sign-in {last}")
