"""``cleargif campaign sent|report``: email campaigns' sends and reports."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from . import data_stores, errors_as_lines, fail, write_rows

campaign_group = AppGroup("campaign", help="Email campaigns: sends and reports.")


@campaign_group.command("sent")
@click.argument("campaign")
@click.argument("count", type=click.IntRange(1, 10**9))
@click.option("--list", "list_id", default=None, help="The list (audience) it went to.")
@click.option("--mode", type=click.Choice(["individual", "aggregate", "none"]), default=None,
              help="The tracking mode the mails were prepared in (Mailer.prepare's mode); "
                   "record each mode's sends apart. Left out, reports guess it.")
@errors_as_lines
def campaign_sent(campaign: str, count: int, list_id: str | None, mode: str | None) -> None:
    """Record COUNT sends of CAMPAIGN (the rates' denominator)."""
    import time

    from ..mail import campaigns

    campaigns.check_name(campaign, "campaign")
    if list_id is not None:
        campaigns.check_name(list_id, "list")
    events = data_stores("events").events
    total = campaigns.record_sends(events, campaign, count, list_id, int(time.time()), mode)
    click.echo(f"Campaign {campaign}: {total} sends recorded.")


@campaign_group.command("report")
@click.argument("campaign")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@errors_as_lines
def campaign_report(campaign: str, fmt: str) -> None:
    """Sends, opens (human, Apple MPP, machine, unknown), open rate, clicks, click rate,
    unsubscribes."""
    import json

    from ..mail import campaigns

    campaigns.check_id(campaign, "campaign")
    col = data_stores("events", "identity")
    if not campaigns.known(col.events, col.identity, campaign):
        fail(campaigns.unknown_message(col.events, campaign))
    config = current_app.config
    rep = campaigns.report(col.events, col.identity, campaign, config["K_MIN"],
                           config["EMAIL_BURST_SECONDS"])
    if fmt == "json":
        click.echo(json.dumps(rep, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        write_rows(campaigns.report_rows(rep), ["metric", "value"], "csv",
                   {"campaign": campaign, "k_min": rep["k_min"], "notes": rep["notes"]},
                   sys.stdout)
    else:
        click.echo(campaigns.report_text(rep))
