"""The ``cleargif`` command line: a click group built with Flask's ``FlaskGroup``, one
module per group of commands (:mod:`.commands` registers them on ``app.cli``, so tests
drive them with ``app.test_cli_runner()``; :mod:`.main` is the console script).

This module holds what the commands share and imports none of them. Bad input prints one
line and exits with status 2.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
from flask import current_app

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


def write_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str,
               meta: dict[str, Any], out: Any) -> None:
    """Rows as CSV (metadata to stderr), NDJSON (metadata to stderr) or one JSON object."""
    import json

    from ..analytics.formats import meta_lines, write_csv

    if fmt == "json":
        json.dump({"meta": meta, "rows": rows}, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    for line in meta_lines(meta):
        click.echo(line, err=True)
    if fmt == "csv":
        write_csv(rows, columns, out)
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


class Bars:
    """One progress bar per part of a long job (a table, a data class) on stderr, each
    replacing the previous one; called as ``bars(name, done, total)``. A part with
    nothing to do draws no bar."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._stack = contextlib.ExitStack()
        self._update: Callable[[int], None] | None = None
        self._name, self._done = "", 0

    def __call__(self, name: str, done: int, total: int) -> None:
        if total <= 0:
            return
        if self._update is None or name != self._name:
            self.close()
            bar = self._stack.enter_context(click.progressbar(
                length=total, label=f"{name:<{self._width}}", file=sys.stderr))
            self._update, self._name, self._done = bar.update, name, 0
        self._update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Finish the bar being drawn, if any."""
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._update = None
