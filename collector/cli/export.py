"""``cleargif export``: aggregate page views, with small cells suppressed."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from . import data_stores, errors_as_lines, fail, write_rows


@click.command("export")
@click.option("--since", required=True, help="First day, YYYY-MM-DD (in TIMEZONE).")
@click.option("--until", required=True, help="Last day, inclusive, YYYY-MM-DD.")
@click.option("--by", default="day", show_default=True,
              help="Dimensions to group by, comma-separated, from: day, path, referrer_host, "
                   "browser, os, device, lang, utm_source, utm_medium, utm_campaign, site, "
                   "name (the event's).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "ndjson"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write here instead of standard output.")
@click.option("--revision", type=click.IntRange(1, 2**31 - 1), default=None,
              help="Only events under this policy revision.")
@click.option("--include-bots", is_flag=True, help="Count bots and crawlers too.")
@click.option("--filter", "filters", multiple=True, metavar="DIMENSION:VALUE",
              help="Only events with this value, such as site:www.example.com or "
                   "kind:pageview (an empty value: events without one); repeat to combine. "
                   "The dashboard's downloads name theirs.")
@click.option("--daily", is_flag=True,
              help="Read summarised days from daily totals, as the dashboard does: fast, "
                   "but visits and returning visitors become sums of daily counts.")
@with_appcontext
@errors_as_lines
def export_command(since: str, until: str, by: str, fmt: str, out: str | None,
                   revision: int | None, include_bots: bool, filters: tuple[str, ...],
                   daily: bool) -> None:
    """Export aggregate page views, with small cells suppressed."""
    from ..analytics.export import export
    from ..analytics.query import (
        METRICS,
        Query,
        QueryError,
        parse_day,
        parse_dimensions,
        parse_filter,
    )
    try:
        query = Query(since=parse_day(since, "since"), until=parse_day(until, "until"),
                      by=parse_dimensions(by), revision=revision, include_bots=include_bots,
                      timezone=current_app.config["TIMEZONE"],
                      filters=tuple(parse_filter(f) for f in filters), daily=daily)
    except QueryError as exc:
        fail(str(exc))
    col = data_stores("events")
    meta, result = export(col.events, query, current_app.config["K_MIN"])
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
