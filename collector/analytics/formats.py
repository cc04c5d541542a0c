"""Aggregates as text: CSV rows and the metadata lines that go with them, written alike by
``cleargif export`` (metadata on stderr) and the dashboard's downloads (metadata as ``#``
lines above the rows), so that a download can be compared line by line with the export.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO


def meta_lines(meta: Mapping[str, Any]) -> list[str]:
    """The metadata of an export as ``# key: value`` lines, then one ``# note: …`` line
    per note."""
    lines = []
    for key, value in meta.items():
        if key != "notes":
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"# {key}: {shown}")
    lines.extend(f"# note: {note}" for note in meta.get("notes", []))
    return lines


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    """Rows as CSV with a header line, ``\\n`` line ends."""
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
