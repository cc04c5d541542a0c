"""Numbered schema migrations (DESIGN 6), one folder per backend and store:
``schema/<backend>/<store>/NNNN_what.sql``, applied in order and recorded in the store.

Each backend applies them under its own lock (:mod:`.sqlite`); this module only finds
them and says what is wrong with a store that is newer than the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import StorageError

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered step of a store's schema."""

    version: int
    name: str
    sql: str


@cache
def migrations(backend: str, store: str) -> tuple[Migration, ...]:
    """The migrations of a store on a backend, in order.

    :raises RuntimeError: the files are not numbered 1, 2, 3… (a packaging mistake).
    """
    folder = resources.files("collector.storage").joinpath("schema", backend, store)
    found = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2),
                                   entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"The {store} migrations for {backend} are not numbered 1 to "
                           f"{len(found)}: {[m.version for m in found]}.")
    return tuple(found)


def latest(backend: str, store: str) -> int:
    """The newest version this code knows for a store."""
    return len(migrations(backend, store))


def too_new(what: str, version: int, known: int) -> StorageError:
    """The refusal for a store whose schema is newer than the code."""
    return StorageError(f"The {what} has schema version {version}, newer than this "
                        f"release of cleargif knows ({known}); upgrade cleargif, or restore "
                        "a backup made by this release.")


def pending(backend: str, store: str, current: int) -> tuple[Migration, ...]:
    """The migrations a store at version ``current`` still needs.

    :raises StorageError: the store is newer than the code.
    """
    steps = migrations(backend, store)
    if current > len(steps):
        raise too_new(f"{store} store", current, len(steps))
    return steps[current:]
