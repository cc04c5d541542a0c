"""The SQL of email reports, shared by both backends (their dialects differ only in the
placeholder and the tables' names): counts of a campaign's opens and clicks by verdict,
and the fetches that are in a scanner's burst (:class:`collector.storage.protocols.Burst`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .protocols import Burst

#: What a fetch reached, for counting a burst's different targets: ``o`` the pixel,
#: ``l:<link id>`` a link, ``u`` the unsubscribe page.
_TARGET = ("CASE WHEN b.kind = 'open' THEN 'o' WHEN COALESCE(b.name, b.kind) = 'click' "
           "THEN 'l:' || COALESCE(b.link, '') ELSE 'u' END")


def _marks(mark: str, values: Sequence[Any]) -> str:
    return ", ".join(mark for _ in values) or "NULL"


def burst_ids(mark: str, events: str, campaign: str, burst: Burst) -> tuple[str, list[Any]]:
    """``SELECT DISTINCT id``s of the campaign's fetches that are in a burst.

    A burst starts at a fetch ``a`` of a message (list, recipient) when the message's
    fetches from ``a.ts`` to ``a.ts + seconds`` reach ``targets`` different targets; each
    fetch of the message within such a window is in it. A message has a handful of
    fetches, so the self-join stays small: the recipient index finds them.
    """
    sql = (
        # Each fetch a of a message that starts a window holding enough targets; b are
        # the message's fetches in it.
        f"WITH starts AS (SELECT a.list, a.recipient, a.ts AS start FROM {events} a "
        f"JOIN {events} b ON b.recipient = a.recipient AND b.campaign = a.campaign AND "
        f"b.ts >= a.ts AND b.ts <= a.ts + {mark} AND b.list = a.list AND "
        f"b.kind IN ('open', 'click') WHERE a.campaign = {mark} AND a.recipient IS NOT "
        "NULL AND a.kind IN ('open', 'click') GROUP BY a.list, a.recipient, a.ts "
        f"HAVING COUNT(DISTINCT {_TARGET}) >= {mark}) "
        # Every fetch inside such a window. CROSS JOIN (SQLite keeps its order): from the
        # few starts into the recipient index, never the other way.
        f"SELECT DISTINCT f.id FROM starts s CROSS JOIN {events} f WHERE "
        f"f.recipient = s.recipient AND f.campaign = {mark} AND f.ts >= s.start AND "
        f"f.ts <= s.start + {mark} AND f.list = s.list AND f.kind IN ('open', 'click')")
    return sql, [int(burst.seconds), campaign, int(burst.targets), campaign,
                 int(burst.seconds)]


def _source(mark: str, events: str, campaign: str,
            flagged: tuple[str, list[Any]] | None) -> tuple[str, list[Any]]:
    """``WITH e AS (…)``: the campaign's email events as ``e(kind, name, link, recipient,
    verdict)``, the verdict being ``burst`` for the ids ``flagged`` selects."""
    if flagged is None:
        return (f"WITH e AS (SELECT kind, name, link, recipient, agent AS verdict FROM "
                f"{events} WHERE campaign = {mark}) ", [campaign])
    ids, params = flagged
    return (f"WITH e AS (SELECT kind, name, link, recipient, CASE WHEN id IN ({ids}) THEN "
            f"'burst' ELSE agent END AS verdict FROM {events} WHERE campaign = {mark}) ",
            [*params, campaign])


def _agents(mark: str, agents: Sequence[str] | None,
            exclude: Sequence[str]) -> tuple[str, list[Any]]:
    where, params = "", []
    if agents is not None:
        where += f" AND verdict IN ({_marks(mark, agents)})"
        params += list(agents)
    if exclude:
        where += f" AND (verdict IS NULL OR verdict NOT IN ({_marks(mark, exclude)}))"
        params += list(exclude)
    return where, params


def email_counts(mark: str, events: str, campaign: str, kind: str,
                 agents: Sequence[str] | None, exclude: Sequence[str],
                 links: Sequence[str] | None,
                 flagged: tuple[str, list[Any]] | None) -> tuple[str, list[Any]]:
    """Events, distinct recipients and events with a recipient, of one kind (a click is
    not an unsubscribe page fetch: its name is its kind)."""
    source, params = _source(mark, events, campaign, flagged)
    where, more = _agents(mark, agents, exclude)
    if links is not None:
        where += f" AND COALESCE(link, '(none)') IN ({_marks(mark, links)})"
        more += list(links)
    return (f"{source}SELECT COUNT(*), COUNT(DISTINCT recipient), COUNT(recipient) FROM e "
            f"WHERE kind = {mark} AND COALESCE(name, kind) = kind{where}",
            [*params, kind, *more])


def link_counts(mark: str, events: str, campaign: str, agents: Sequence[str] | None,
                exclude: Sequence[str],
                flagged: tuple[str, list[Any]] | None) -> tuple[str, list[Any]]:
    """:func:`email_counts` of clicks, per link id (``(none)`` for none)."""
    source, params = _source(mark, events, campaign, flagged)
    where, more = _agents(mark, agents, exclude)
    return (f"{source}SELECT COALESCE(link, '(none)'), COUNT(*), COUNT(DISTINCT recipient), "
            "COUNT(recipient) FROM e WHERE kind = 'click' AND COALESCE(name, kind) = "
            f"'click'{where} GROUP BY 1 ORDER BY 1", [*params, *more])
