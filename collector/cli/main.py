"""The ``cleargif`` console script: builds the app for the command given, with
``--data-dir`` and ``--version``, and keeps every error to one line."""

from __future__ import annotations

import os
import sys

import click
from click.exceptions import NoArgsIsHelpError
from flask import Flask
from flask.cli import FlaskGroup

from ..errors import CleargifError


def version() -> str:
    """The installed release of cleargif (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("cleargif")
    except PackageNotFoundError:
        return "unknown"


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"cleargif {version()}")
        ctx.exit(0)


def _use_data_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Read by create_app (and inherited by the daily purge's child process), so it must be
    # in place before any command builds the app.
    if value is not None and not ctx.resilient_parsing:
        os.environ["CLEARGIF_DATA_DIR"] = value


def _load_app() -> Flask:
    """Build the app for a command; a configuration error is one line and status 2."""
    from .. import create_app

    try:
        return create_app()
    except CleargifError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cleargif`` console script."""
    group = FlaskGroup(name="cleargif", create_app=_load_app, add_default_commands=False,
                       add_version_option=False, load_dotenv=False, set_debug_flag=False,
                       help="cleargif: consent-first page-view and email-open tracking.")
    # The app is built from cleargif's own configuration: Flask's --app, --env-file and
    # --debug options would only mislead.
    group.params = [p for p in group.params if p.name not in ("app", "env_file", "debug")]
    group.params += [
        click.Option(["--data-dir"], metavar="DIR", expose_value=False, is_eager=True,
                     callback=_use_data_dir,
                     help="The data folder to use (else CLEARGIF_DATA_DIR, else "
                          "./cleargif-data)."),
        click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_show_version, help="Show the version and exit."),
    ]
    try:
        code = group.main(args=argv, prog_name="cleargif", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # "cleargif" or "cleargif consent" alone: the help
        click.echo(exc.ctx.get_help() if exc.ctx is not None else "", err=True)
        _close(exc.ctx)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # Click's own form is three lines (usage, a hint, the error); keep to one.
        command = exc.ctx.command_path if exc.ctx is not None else "cleargif"
        _close(exc.ctx)
        message = exc.format_message()
        joint = " " if message.endswith((".", "?")) else ". "
        click.echo(f"Error: {message}{joint}See `{command} --help`.", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _close(ctx: click.Context | None) -> None:
    # A usage error is raised while click builds the context, before its "with" block:
    # close it here, or the app context FlaskGroup pushed into it stays pushed.
    while ctx is not None:
        ctx.close()
        ctx = ctx.parent
