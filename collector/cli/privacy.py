"""Commands for the privacy officer: ``consent verify``, ``consent show``,
``subject export``, ``subject erase`` and ``audit``.

Every command that shows or erases personal data writes an audit entry
(:mod:`collector.privacy.audit`) with the OS user as the actor. Bad input prints one line and
exits with status 2, as everywhere in the CLI.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..consent.receipts import ChainProblem, check_chain, sealer
from ..privacy import audit
from ..privacy.subjects import Subject
from ..storage import ReceiptRow
from . import data_stores, errors_as_lines, fail


def _audit(action: str, subject: Subject, reason: str | None,
           detail: dict[str, Any]) -> None:
    """One audit entry with the OS user as the actor."""
    audit.log_access(action, subject_kind=subject.kind, subject_id=subject.id,
                     reason=reason, detail=detail, actor=audit.cli_actor())


# --- the receipt chain ------------------------------------------------------------------


_HASH = re.compile(r"[0-9a-fA-F]{64}")


def tombstone_summary(tombstones: Iterable[ReceiptRow]) -> str:
    """``3 tombstones (retention: 2, erasure:child: 1)``."""
    by_reason = Counter(t.tombstone_reason or "no reason" for t in tombstones)
    total = sum(by_reason.values())
    head = f"{total} tombstone{'' if total == 1 else 's'}"
    if not total:
        return head
    return f"{head} ({', '.join(f'{r}: {n}' for r, n in sorted(by_reason.items()))})"


consent_group = AppGroup("consent", help="Proof of consent: the receipt chain.")


@consent_group.command("verify")
@click.option("--head", "noted_head", default=None, metavar="HASH",
              help="The last hash an earlier verify printed: also prove that no receipt "
              "was cut off the end of the chain since.")
@errors_as_lines
def consent_verify(noted_head: str | None) -> None:
    """Walk the receipt chain and report any receipt altered, removed or inserted.

    Tombstones left by retention and erasure are accepted and counted by reason. Exit
    status 0 when the chain is intact, 1 when it is not.
    """
    if noted_head is not None and not _HASH.fullmatch(noted_head.strip()):
        fail("--head must be the 64 hexadecimal characters an earlier `cleargif consent "
             "verify` printed after \"hash\".")
    col = data_stores("identity")
    rows = list(col.identity.receipt_rows())
    problems, tombstones, count = check_chain(rows, col.receipt_keys)
    if noted_head is not None and noted_head.strip().lower() not in {r.hash for r in rows}:
        # The chain cannot show rows cut off its end: only a hash noted earlier can.
        problems.append(ChainProblem(rows[-1].seq if rows else 0, "-", "removed",
                                     "the receipt with the noted hash is gone: receipts "
                                     "were removed from the end of the chain (or the hash "
                                     "was noted from another collector)"))
    stones = tombstone_summary(tombstones)
    noun = "receipt" if count == 1 else "receipts"
    if problems:
        for p in problems:
            click.echo(f"receipt {p.seq} {p.receipt_id}: {p.kind} — {p.detail}")
        click.echo(f"{count} {noun}, {len(problems)} problem"
                   f"{'' if len(problems) == 1 else 's'}; {stones}", err=True)
        click.get_current_context().exit(1)
    click.echo(f"{count} {noun}, chain intact; {stones}")
    if rows:
        click.echo(f"Last receipt: {rows[-1].seq}, hash {rows[-1].hash}; note it, and a "
                   "later `cleargif consent verify --head HASH` proves nothing was cut off "
                   "the end.", err=True)


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def proof_lines(entry: dict[str, Any], problems: dict[int, ChainProblem]) -> list[str]:
    """One receipt as the lines of a human-readable proof."""
    r = entry["receipt"]
    chain = f"  chain           receipt {entry['seq']}, hash {entry['hash']}"
    problem = problems.get(entry["seq"])
    warning = [] if problem is None else \
        [f"  WARNING         this receipt is {problem.kind}: {problem.detail}"]
    if "unreadable_body" in r:
        return [f"Receipt at chain position {entry['seq']}",
                f"  body            not a receipt: {str(r['unreadable_body'])[:200]}",
                chain, *warning]
    return [
        f"Receipt {r.get('receipt_id')}",
        f"  decided at      {r.get('time')}",
        f"  policy          revision {r.get('revision')}, notice SHA-256 "
        f"{r.get('notice_sha256')}",
        f"  language        {r.get('lang')}",
        f"  granted         {', '.join(r.get('granted') or []) or '(none)'}",
        f"  denied          {', '.join(r.get('denied') or []) or '(none)'}",
        f"  source          {r.get('source')}",
        f"  signals         GPC {_yes_no(r.get('gpc'))}, DNT {_yes_no(r.get('dnt'))}, "
        f"marketing granted over GPC {_yes_no(r.get('gpc_override'))}",
        f"  withdrawal      {r.get('withdraw')}",
        chain,
        *warning,
    ]


@consent_group.command("show")
@click.option("--subject", "subject_id", required=True,
              help="The consent subject id (32 hex characters).")
@click.option("--reason", default=None, help="Why you look (kept in the audit log).")
@errors_as_lines
def consent_show(subject_id: str, reason: str | None) -> None:
    """Print a subject's consent receipts as a human-readable proof (audited)."""
    from ..privacy.subjects import parse_subject, receipts_of

    subject = parse_subject("consent", subject_id.strip())
    why = audit.check_reason(reason, subject_id=subject.id)
    col = data_stores("identity")
    entries = receipts_of(col.identity, subject.id)
    problems, _, _ = check_chain(col.identity.receipt_rows(), col.receipt_keys)
    _audit(audit.CONSENT_SHOW, subject, why, {"receipts": len(entries)})
    if not entries:
        click.echo(f"No receipts are held for consent subject {subject.id} (it never "
                   "decided here, or its receipts were tombstoned by retention or erasure).")
        return
    state = "intact" if not problems else \
        f"NOT intact, {len(problems)} problems: run `cleargif consent verify`"
    click.echo(f"Consent receipts of subject {subject.id}: {len(entries)}, oldest first "
               f"(receipt chain {state})")
    by_seq = {p.seq: p for p in problems}
    for entry in entries:
        click.echo("")
        for line in proof_lines(entry, by_seq):
            click.echo(line)


# --- subjects ---------------------------------------------------------------------------

subject_group = AppGroup("subject", help="Subject access and erasure (GDPR articles 15 and 17).")


def _subject_options(fn: Any) -> Any:
    for kind, option in reversed(
            [("account", "--account"), ("recipient", "--recipient"),
             ("visitor", "--visitor"), ("consent", "--consent-subject")]):
        what = {"account": "a host app's account id (remember-me)",
                "recipient": "an email recipient pseudonym",
                "visitor": "a visitor id (32 hex, from the cg_vid cookie)",
                "consent": "a consent subject id (32 hex, from cg_consent or a receipt)"}[kind]
        fn = click.option(option, kind, default=None, metavar="ID", help=f"By {what}.")(fn)
    return fn


def _one_subject(**given: str | None) -> Any:
    from ..privacy.subjects import parse_subject

    named = [(kind, value) for kind, value in given.items() if value is not None]
    if len(named) != 1:
        fail("Name exactly one subject: --account, --recipient, --visitor or "
             "--consent-subject.")
    kind, value = named[0]
    return parse_subject(kind, value.strip() if kind in ("visitor", "consent") else value)


def _stores() -> Any:
    from ..privacy.subjects import Stores

    col = data_stores("events", "identity")
    return Stores(col.events, col.identity, current_app.config["IDENTITY_URL"],
                  lambda: sealer(col.receipt_keys))


def _write_private(path: str, text: str) -> None:
    """Write ``text`` to a file only its owner can read: it holds personal data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(path, 0o600)
    except OSError as exc:
        fail(f"Cannot write {path}: {exc.strerror}; choose another --out.")


@subject_group.command("export")
@_subject_options
@click.option("--reason", default=None, help="Why (kept in the audit log), e.g. 'Art. 15 "
              "request'.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here (mode 0600) instead of standard output.")
@errors_as_lines
def subject_export(account: str | None, recipient: str | None, visitor: str | None,
                   consent: str | None, reason: str | None, out: str | None) -> None:
    """Everything held about one subject, as JSON (audited)."""
    from .. import clock
    from ..privacy.subjects import export_counts, export_subject, summary

    subject = _one_subject(account=account, recipient=recipient, visitor=visitor,
                           consent=consent)
    why = audit.check_reason(reason, subject_id=subject.id)
    stores = _stores()
    history = audit.read(stores.identity, subject_hmacs=audit.subject_hmacs(
        current_app.config, subject.kind, subject.id))
    document = export_subject(subject, stores, now=clock.now(), history=history)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out:
        _write_private(out, text)
    _audit(audit.EXPORT, subject, why, export_counts(document))
    if out:
        click.echo(f"Wrote {summary(document)} to {out}.", err=True)
    else:
        click.echo(text, nl=False)
        click.echo(f"Exported {summary(document)}.", err=True)


@subject_group.command("erase")
@_subject_options
@click.option("--reason", default=None,
              help="Why: 'request', 'child' (data of a child under 13) or a short text.")
@click.option("--strip-events", is_flag=True,
              help="Keep the subject's events as anonymous counts, without their ids, "
                   "instead of deleting them.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@errors_as_lines
def subject_erase(account: str | None, recipient: str | None, visitor: str | None,
                  consent: str | None, reason: str | None, strip_events: bool,
                  yes: bool) -> None:
    """Erase everything held about one subject but its suppression entries (audited)."""
    from .. import clock
    from ..privacy.subjects import erase_subject, erasure_reason

    subject = _one_subject(account=account, recipient=recipient, visitor=visitor,
                           consent=consent)
    why = erasure_reason(reason, subject)
    audit.subject_keyring(current_app.config)  # no key, no audit entry: fail before erasing
    stores = _stores()
    if not yes:
        click.confirm(f"Erase everything held about {subject.kind} {subject.id} but its "
                      "suppression entries? This cannot be undone.", abort=True, err=True)
    result = erase_subject(subject, stores, reason=why, now=clock.now(),
                           strip_events=strip_events)
    _audit(audit.ERASE, subject, why, result.counts())
    for line in result.lines():
        click.echo(line)
    warning = result.warning()
    if warning:
        click.echo(f"Warning: {warning}", err=True)


# --- the audit log ----------------------------------------------------------------------

def _day_start(text: str, name: str, tz: ZoneInfo) -> datetime:
    from ..analytics.query import QueryError, parse_day

    try:
        day = parse_day(text, name)
    except QueryError as exc:
        fail(str(exc))
    return datetime.combine(day, time(0), tz)


@click.command("audit")
@click.option("--since", default=None, help="First day, YYYY-MM-DD (in TIMEZONE).")
@click.option("--until", default=None, help="Last day, inclusive, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(audit.FORMATS), default="text",
              show_default=True)
@with_appcontext
@errors_as_lines
def audit_command(since: str | None, until: str | None, fmt: str) -> None:
    """Print the PII-access audit log (subjects appear only as HMACs)."""

    tz = ZoneInfo(current_app.config["TIMEZONE"])
    # An option given empty is a slip (an unset shell variable), not "no limit".
    start = _day_start(since, "since", tz) if since is not None else None
    end = _day_start(until, "until", tz) + timedelta(days=1) if until is not None else None
    if start and end and start >= end:
        fail("--since is after --until; swap them.")
    identity = data_stores("identity").identity
    entries = audit.read(identity, since=int(start.timestamp()) if start else None,
                         until=int(end.timestamp()) if end else None)
    click.echo(audit.render(entries, fmt), nl=False)
    if not entries:
        click.echo("No audit entries in that period.", err=True)
