"""Group commit: rows written at the same moment by several requests of one process share
one statement and one commit, and each request still returns only once its row is durable.

A request that finds no commit under way commits at once. Requests arriving while a
commit is under way (other greenlets of a gevent worker, other threads) gather behind it,
and the first of them commits all they gathered when it ends; when the last commit was
shared, it first lets the others run one turn, so that those about to arrive join it.
A failed commit fails every request whose row it carried, so a row is never acknowledged
without having been stored: on PostgreSQL, where each commit costs a round trip and a
flush of the write-ahead log, a busy worker pays for one per batch instead of one per hit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

#: Rows in one statement at most; more wait for the next commit.
MOST = 64


class _Batch:
    __slots__ = ("done", "error", "rows")

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """Writes rows through ``write`` (one call per batch, which must commit them all or
    raise), batching the rows of concurrent callers of :meth:`add`."""

    def __init__(self, write: Callable[[Sequence[Any]], None], most: int = MOST) -> None:
        self._write = write
        self._most = most
        self._cond = threading.Condition(threading.Lock())  # cheaper than its RLock
        self._open = _Batch()
        self._writing = False
        self._together = False

    @property
    def waiting(self) -> int:
        """Rows gathered for the next write, waiting for the one under way."""
        return len(self._open.rows)

    def add(self, row: Any) -> None:
        """Write ``row`` with whatever rows arrive meanwhile; return once it is committed,
        or raise what the write of its batch raised."""
        with self._cond:
            while len(self._open.rows) >= self._most:
                self._cond.wait()
            batch = self._open
            batch.rows.append(row)
            while not batch.done:
                if not self._writing and self._open is batch:
                    self._writing = True  # this caller writes the batch for all in it
                    if self._together:
                        # The last write carried several callers' rows: let the others
                        # about to add theirs do so first (one turn of the other threads
                        # or greenlets), so that they share this write, not wait for it.
                        self._cond.release()
                        try:
                            time.sleep(0)
                        finally:
                            self._cond.acquire()
                    self._open = _Batch()
                    self._cond.notify_all()  # callers held back by a full batch
                    break
                self._cond.wait()
            else:
                if batch.error is not None:
                    raise batch.error
                return
        try:
            self._write(batch.rows)
        except BaseException as exc:
            batch.error = exc
            raise
        finally:
            with self._cond:
                batch.done = True
                self._together = len(batch.rows) > 1
                self._writing = False
                self._cond.notify_all()
