"""``cleargif serve``: run the collector (gunicorn, access log off, a daily purge)."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from . import errors_as_lines, fail


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
        wants_demo,
        worker_problem,
    )
    from ..server.purge import start_daily_purge

    config = current_app.config
    # Under --dev the reloader's child inherits the socket its parent already bound.
    reloaded = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    problem = None
    if not reloaded:
        problem = (None if dev else worker_problem()) or address_problem(host, port)
    if problem:
        fail(problem)
    ensure_key_files(config, lambda line: click.echo(line, err=True))
    # Both stores exist, at this release's schema, from the start (several collectors
    # starting at once apply each migration once); commands run beside the collector find
    # them. This process's connections are closed before the workers fork.
    col = ext()
    for name, store in (("events", col.events), ("identity", col.identity)):
        applied = store.migrate()
        if applied:
            click.echo(f"Applied schema migration{'s' if len(applied) > 1 else ''} "
                       f"{', '.join(map(str, applied))} to the {name} store.", err=True)
    factory = col.factory
    where = (f"data in {os.path.abspath(config['DATA_DIR'])}"
             if config["EVENTS_URL"].startswith("sqlite:") and
             config["IDENTITY_URL"].startswith("sqlite:")
             else f"stores {col.events.location} and {col.identity.location}")
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
    click.echo(f"cleargif collector on http://{shown_host}:{port}/ ({where}; access log "
               "off)", err=True)
    if overrides.get("DEMO"):
        click.echo(f"Open http://{shown_host}:{port}/ for the demo page.", err=True)
    click.echo(f"The dashboard is at http://{shown_host}:{port}/dashboard/ (add an account "
               "with `cleargif user add NAME`).", err=True)
    if host not in LOOPBACK and not dev and config["COOKIE_SECURE"]:
        # Browsers accept Secure cookies over plain http only on loopback.
        click.echo("Cookies are Secure: serve the collector through HTTPS (see the README's "
                   "reverse proxy), or use --dev on plain http.", err=True)
    if dev:
        serve_dev(factory, overrides, host, port)
        return
    env = dict(os.environ)
    stop = start_daily_purge(config["DATA_DIR"], env)
    counts = share_metrics() if config.get("METRICS_TOKEN") else None
    try:
        CollectorServer(factory, overrides, gunicorn_options(host, port, workers)).run()
    finally:
        stop.set()
        if counts is not None:
            import shutil

            shutil.rmtree(counts, ignore_errors=True)


def share_metrics() -> str | None:
    """Give the workers one folder for their metrics (prometheus_client's multiprocess
    mode), so that ``/metrics`` adds up every worker's counts; returns it, or None when
    the operator named one (``PROMETHEUS_MULTIPROC_DIR``) and keeps it."""
    import os
    import tempfile

    from ..metrics import MULTIPROC_ENV

    if os.environ.get(MULTIPROC_ENV):
        return None
    folder = tempfile.mkdtemp(prefix="cleargif-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    import sys

    if "prometheus_client.values" in sys.modules:
        # This process chose in-memory counting when it first imported prometheus_client;
        # the workers it forks must count in the folder.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()
    return folder
