"""The sender's loop: bounces and complaints read from a mailbox
(:mod:`collector.mail.bounces`) become suppression entries with their reason.

A hard bounce (the address does not work) and a complaint (the recipient reported the
mail as spam) suppress the recipient from **all mail** (:data:`~collector.mail.campaigns.
ALL_MAIL`), not only from the list the mail went to: a dead address is dead for every
list, and mailbox providers count a complaint against the sender, whatever the list. The
campaign of the returned mail is kept as provenance, so its report counts them. Soft
bounces (a full mailbox, a delay) suppress no one: they may pass.

Importing the same mailbox again changes nothing: an entry that exists is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..storage import IdentityStore, Suppression
from .bounces import Reports, Summary
from .campaigns import ALL_MAIL

#: The reasons an import suppresses for, in the order it reports them.
SUPPRESSING = ("bounce", "complaint")


@dataclass
class Imported:
    """What an import found and did.

    :ivar summary: the mailbox's messages by outcome (:class:`~collector.mail.bounces.Summary`).
    :ivar recipients: distinct recipients to suppress, by reason (``bounce`` for hard
        bounces, ``complaint``).
    :ivar added: of those, how many entries were new (or, in a dry run, would be).
    """

    summary: Summary
    recipients: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    def already(self, reason: str) -> int:
        """Recipients of ``reason`` that were suppressed from all mail before."""
        return self.recipients.get(reason, 0) - self.added.get(reason, 0)


def import_reports(identity: IdentityStore, reports: Reports, now: int, *,
                   dry_run: bool = False) -> Imported:
    """Read ``reports`` and suppress the recipients of hard bounces and complaints from
    all mail, reason ``bounce`` or ``complaint``, each reason in one transaction.

    :param dry_run: count what would be suppressed; write nothing.
    """
    found: dict[str, dict[str, str]] = {reason: {} for reason in SUPPRESSING}
    for finding in reports:
        if finding.hard:
            # The first report of a recipient gives the provenance, as the store keeps it.
            found[finding.reason].setdefault(finding.recipient, finding.campaign)
    result = Imported(reports.summary)
    seen: set[str] = set()
    for reason in SUPPRESSING:
        entries = [Suppression(ALL_MAIL, recipient, campaign, reason)
                   for recipient, campaign in found[reason].items()]
        result.recipients[reason] = len(entries)
        if dry_run:
            new = [e.recipient for e in entries if e.recipient not in seen
                   and not identity.is_suppressed(ALL_MAIL, e.recipient, ALL_MAIL)]
            result.added[reason] = len(new)
            seen.update(new)
        else:
            result.added[reason] = identity.suppress(entries, now) if entries else 0
    return result


def summary_lines(result: Imported, *, dry_run: bool = False) -> list[str]:
    """One line per outcome, for people (no recipient, no address)."""
    s = result.summary
    verb = "would be suppressed" if dry_run else "suppressed"

    def suppressed(reason: str) -> str:
        n = result.added[reason]
        return (f"{n} recipient{'' if n == 1 else 's'} {verb} from all mail, "
                f"{result.already(reason)} already suppressed")

    return [
        f"Hard bounces: {s.hard_bounces} ({suppressed('bounce')}).",
        f"Complaints: {s.complaints} ({suppressed('complaint')}).",
        f"Soft bounces: {s.soft_bounces} (not suppressed: a full mailbox or a delay may "
        "pass).",
        f"Unmapped: {s.unmapped} (no token of a mail cleargif prepared names the recipient; "
        "nothing suppressed).",
        f"Other reports: {s.other_reports} (deliveries, and feedback that is no complaint).",
        f"Not reports: {s.not_reports} (replies and other mail, skipped).",
        f"Unreadable: {s.unreadable} (too damaged to read, skipped).",
    ]
