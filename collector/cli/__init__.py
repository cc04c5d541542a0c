"""The ``cleargif`` command line: a click group built with Flask's ``FlaskGroup``.

Commands register themselves on ``app.cli`` in :func:`init_app`, so tests drive them
with ``app.test_cli_runner()``. Bad input prints one line and exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
from click.exceptions import NoArgsIsHelpError
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from ..errors import CleargifError


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with status 2."""
    raise _Exit(message)


class _Exit(click.ClickException):
    """A one-line error, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def errors_as_lines(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn cleargif's own errors into one line and exit status 2, never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CleargifError as exc:
            raise _Exit(str(exc)) from None

    return wrapper


def data_stores(*names: str) -> Any:
    """The app's :class:`~collector.extension.Collector`, once the stores named
    (``events``, ``identity``) are known to exist; says on stderr which ones are used.

    Refuses with one line, creating nothing, where a store does not exist: a command run
    in the wrong folder would otherwise read, or create, an empty ``./cleargif-data``.
    """
    from ..extension import ext
    from ..storage import EventStore, IdentityStore

    col = ext()
    stores: dict[str, EventStore | IdentityStore] = {"events": col.events,
                                                     "identity": col.identity}
    for name in names:
        if not stores[name].exists():
            fail(f"No cleargif data here: the {name} store {stores[name].location} does not "
                 "exist. Run this where `cleargif serve` keeps its data, or point to it with "
                 "--data-dir DIR (or CLEARGIF_DATA_DIR).")
    click.echo("Using " + " and ".join(f"the {name} store {stores[name].location}"
                                       for name in names) + ".", err=True)
    return col


def data_folder() -> str:
    """``DATA_DIR``, refused with one line when it does not exist (see :func:`data_stores`)."""
    import os

    folder = str(current_app.config["DATA_DIR"])
    if not os.path.isdir(folder):
        fail(f"No cleargif data folder at {os.path.abspath(folder)}. Run this where "
             "`cleargif serve` keeps its data, or point to it with --data-dir DIR (or "
             "CLEARGIF_DATA_DIR).")
    return folder


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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@click.option("--dev", is_flag=True, help="Flask's reloader, COOKIE_SECURE=false (plain http).")
@click.option("--demo", is_flag=True, help="Serve the demo page at / (on by default on "
              "loopback while ALLOWED_ORIGINS is empty).")
@with_appcontext
@errors_as_lines
def serve(host: str, port: int, workers: int, dev: bool, demo: bool) -> None:
    """Run the collector (gunicorn, access log off; purges daily)."""
    import os

    from ..config import ensure_key_files
    from ..extension import ext
    from ..server import (
        LOOPBACK,
        CollectorServer,
        address_problem,
        gunicorn_options,
        serve_dev,
        start_daily_purge,
        wants_demo,
    )

    config = current_app.config
    # Under --dev the reloader's child inherits the socket its parent already bound.
    reloaded = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    problem = None if reloaded else address_problem(host, port)
    if problem:
        fail(problem)
    ensure_key_files(config, lambda line: click.echo(line, err=True))
    # Both stores exist from the first start, so that commands run beside the collector
    # find them; this process's connections are closed before the workers fork.
    col = ext()
    for store in (col.events, col.identity):
        store.ping()
    col.close()
    overrides: dict[str, Any] = {}
    if dev:
        overrides["COOKIE_SECURE"] = False
    if wants_demo(demo, host, config):
        overrides["DEMO"] = True
    if overrides.get("DEMO"):
        # The demo page is a site of its own; count it.
        overrides["SITES"] = [*config["SITES"], "127.0.0.1", "localhost", host.strip("[]")]
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"cleargif collector on http://{shown_host}:{port}/ (data in "
               f"{os.path.abspath(config['DATA_DIR'])}; access log off)", err=True)
    if overrides.get("DEMO"):
        click.echo(f"Open http://{shown_host}:{port}/ for the demo page.", err=True)
    if host not in LOOPBACK and not dev and config["COOKIE_SECURE"]:
        # Browsers accept Secure cookies over plain http only on loopback.
        click.echo("Cookies are Secure: serve the collector through HTTPS (see the README's "
                   "reverse proxy), or use --dev on plain http.", err=True)
    if dev:
        serve_dev(overrides, host, port)
        return
    env = dict(os.environ)
    stop = start_daily_purge(config["DATA_DIR"], env)
    try:
        CollectorServer(overrides, gunicorn_options(host, port, workers)).run()
    finally:
        stop.set()


def write_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str,
               meta: dict[str, Any], out: Any) -> None:
    """Rows as CSV (metadata to stderr), NDJSON (metadata to stderr) or one JSON object."""
    import csv
    import json

    if fmt == "json":
        json.dump({"meta": meta, "rows": rows}, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    for key, value in meta.items():
        if key != "notes":
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            click.echo(f"# {key}: {shown}", err=True)
    for note in meta.get("notes", []):
        click.echo(f"# note: {note}", err=True)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@click.command("export")
@click.option("--since", required=True, help="First day, YYYY-MM-DD (in TIMEZONE).")
@click.option("--until", required=True, help="Last day, inclusive, YYYY-MM-DD.")
@click.option("--by", default="day", show_default=True,
              help="Dimensions to group by, comma-separated, from: day, path, referrer_host, "
                   "browser, os, device, lang, utm_source, utm_medium, utm_campaign.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "ndjson"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write here instead of standard output.")
@click.option("--revision", type=click.IntRange(1, 2**31 - 1), default=None,
              help="Only events under this policy revision.")
@click.option("--include-bots", is_flag=True, help="Count bots and crawlers too.")
@with_appcontext
@errors_as_lines
def export_command(since: str, until: str, by: str, fmt: str, out: str | None,
                   revision: int | None, include_bots: bool) -> None:
    """Export aggregate page views, with small cells suppressed."""
    from ..analytics import export as reports
    from ..analytics.query import METRICS, Query, QueryError, parse_day, parse_dimensions
    try:
        query = Query(since=parse_day(since, "since"), until=parse_day(until, "until"),
                      by=parse_dimensions(by), revision=revision, include_bots=include_bots,
                      timezone=current_app.config["TIMEZONE"])
    except QueryError as exc:
        fail(str(exc))
    col = data_stores("events")
    meta, result = reports.export(col.events, query, current_app.config["K_MIN"])
    columns = list(query.by) + list(METRICS)
    if out:
        try:
            with open(out, "w", newline="", encoding="utf-8") as fh:
                write_rows(result.rows, columns, fmt, meta, fh)
        except OSError as exc:
            fail(f"Cannot write {out}: {exc.strerror}; choose another --out.")
        click.echo(f"Wrote {len(result.rows)} rows to {out}.", err=True)
    else:
        write_rows(result.rows, columns, fmt, meta, sys.stdout)


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
    from ..consent.receipts import iso
    from ..privacy import apitokens

    for t in apitokens.listing(data_stores("identity").identity):
        state = f"revoked {iso(t.revoked_at)}" if t.revoked_at else "live"
        click.echo(f"{t.name}\t{','.join(sorted(t.scopes))}\tcreated {iso(t.created_at)}\t{state}")


campaign_group = AppGroup("campaign", help="Email campaigns: sends and reports.")


@campaign_group.command("sent")
@click.argument("campaign")
@click.argument("count", type=click.IntRange(1, 10**9))
@click.option("--list", "list_id", default=None, help="The list (audience) it went to.")
@errors_as_lines
def campaign_sent(campaign: str, count: int, list_id: str | None) -> None:
    """Record COUNT sends of CAMPAIGN (the open rate's denominator)."""
    import time

    from ..mail import campaigns

    campaigns.check_id(campaign, "campaign")
    if list_id is not None:
        campaigns.check_id(list_id, "list")
    events = data_stores("events").events
    total = campaigns.record_sends(events, campaign, count, list_id, int(time.time()))
    click.echo(f"Campaign {campaign}: {total} sends recorded.")


@campaign_group.command("report")
@click.argument("campaign")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@errors_as_lines
def campaign_report(campaign: str, fmt: str) -> None:
    """Sends, opens (human, Apple MPP, machine), open rate, clicks, unsubscribes."""
    import json

    from ..mail import campaigns

    campaigns.check_id(campaign, "campaign")
    col = data_stores("events", "identity")
    if not campaigns.known(col.events, col.identity, campaign):
        fail(campaigns.unknown_message(col.events, campaign))
    rep = campaigns.report(col.events, col.identity, campaign, current_app.config["K_MIN"])
    if fmt == "json":
        click.echo(json.dumps(rep, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        write_rows(campaigns.report_rows(rep), ["metric", "value"], "csv",
                   {"campaign": campaign, "k_min": rep["k_min"], "notes": rep["notes"]},
                   sys.stdout)
    else:
        click.echo(campaigns.report_text(rep))


COMMANDS: list[click.Command] = [keys_group, serve, export_command, token_group,
                                 campaign_group]


def init_app(app: Flask) -> None:
    """Register the commands on ``app.cli``."""
    # Feature modules import helpers from here, so they are imported late.
    from .privacy import COMMANDS as PRIVACY_COMMANDS
    from .purge import COMMANDS as RETENTION_COMMANDS

    for command in [*COMMANDS, *RETENTION_COMMANDS, *PRIVACY_COMMANDS]:
        app.cli.add_command(command)


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
        import os

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
