"""Group commit: rows written at the same moment by several requests of one process share
one statement and one commit, and each request still returns only once its row is durable.

Rows wait in batches, in the order they came. The first caller of a batch leads it: when
a writer is free it writes the batch for everyone in it, so a request that finds every
writer idle commits at once, and requests arriving while a commit is under way gather
behind it. When the last commit was shared, a leader finding every writer idle first lets
the others run one turn, so that those about to arrive join it.

With two writers or more (each its own connection), a second batch is written while the
first is still under way once it holds two rows and at least as many as are under way;
whoever adds the row that makes it so writes it. A few clients then alternate between two
batches instead of all waiting on one commit (in which the process has nothing to do), and
many still share a few large commits. A failed write fails every request whose row it
carried, so a row is never acknowledged without having been stored: on PostgreSQL, where
each commit costs a round trip and a flush of the write-ahead log, a busy worker pays for
one per batch instead of one per hit.

A waiting caller is woken once, when its batch is written (or, leading one, when a writer
becomes free), not by every commit: under gevent each wake-up is a switch of the event
loop, and waking them all for every commit cost more than the commit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

#: Rows in one statement at most; more wait for the next commit.
MOST = 64

Write = Callable[[Sequence[Any]], None]


class _Batch:
    __slots__ = ("done", "error", "rows", "taken", "turn")

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.taken = False  #: a writer has it; no row joins it any more
        self.done = threading.Event()  #: written, or failed with ``error``
        self.turn = threading.Event()  #: its leader should look again
        self.error: BaseException | None = None


class GroupCommit:
    """Writes rows through ``writes`` (one call per batch, which must commit them all or
    raise; each callable writes one batch at a time, on a connection of its own),
    batching the rows of concurrent callers of :meth:`add`."""

    def __init__(self, *writes: Write, most: int = MOST) -> None:
        if not writes:
            raise ValueError("GroupCommit needs at least one write function")
        self._free = list(writes)
        self._writers = len(writes)
        self._most = most
        self._lock = threading.Lock()
        self._pending: deque[_Batch] = deque()
        self._flying = 0  # rows being written
        self._together = False  # the last write carried several callers' rows

    @property
    def waiting(self) -> int:
        """Rows waiting for a write to take them."""
        return sum(len(batch.rows) for batch in self._pending)

    def add(self, row: Any) -> None:
        """Write ``row`` with whatever rows arrive meanwhile; return once it is committed,
        or raise what the write of its batch raised."""
        pending = self._pending
        write: Write | None = None
        with self._lock:
            if not pending or len(pending[-1].rows) >= self._most:
                pending.append(_Batch())
            batch = pending[-1]
            batch.rows.append(row)
            leads = len(batch.rows) == 1
            if not leads and self._writers > 1 and self._second_may_start(batch):
                write = self._take(batch)
        interrupted: BaseException | None = None
        if write is None and leads:
            write, interrupted = self._lead(batch)
        if write is None:  # another caller writes it
            if interrupted is not None:
                raise interrupted
            batch.done.wait()
            if batch.error is not None:
                raise batch.error
            return
        try:
            write(batch.rows)
        except BaseException as exc:
            batch.error = exc
            raise
        finally:
            with self._lock:
                self._free.append(write)
                self._flying -= len(batch.rows)
                self._together = len(batch.rows) > 1
                if pending:
                    pending[0].turn.set()
            batch.done.set()
        if interrupted is not None:
            raise interrupted

    def _second_may_start(self, batch: _Batch) -> bool:
        # Under the lock: ``batch`` may be written while another is under way (see above).
        return (bool(self._free) and self._pending[0] is batch
                and len(batch.rows) >= max(2, self._flying))

    def _take(self, batch: _Batch) -> Write:
        # Under the lock: a free writer takes the first batch waiting.
        self._pending.popleft()
        batch.taken = True
        batch.turn.set()  # its leader, if it waits, stops waiting
        write = self._free.pop()
        self._flying += len(batch.rows)
        if self._pending and self._free:
            self._pending[0].turn.set()
        return write

    def _lead(self, batch: _Batch) -> tuple[Write | None, BaseException | None]:
        """Wait until ``batch`` may be written and take a writer for it (None when another
        caller took it first). An exception raised into the waiting caller (a greenlet
        killed) is returned, to be raised once the batch is taken and written: the rows
        of the others in it must not wait for a leader that left."""
        lock = self._lock
        gathered = False
        interrupted: BaseException | None = None
        with lock:
            while not batch.taken:
                if self._pending[0] is batch and self._free:
                    idle = len(self._free) == self._writers
                    if idle and self._together and not gathered:
                        # Let the other threads or greenlets about to add their rows do so
                        # first (one turn), so that they share this write, not wait for it.
                        gathered = True
                        lock.release()
                        try:
                            time.sleep(0)
                        except BaseException as exc:
                            interrupted = interrupted or exc
                        finally:
                            lock.acquire()
                        continue
                    if idle or self._second_may_start(batch):
                        return self._take(batch), interrupted
                batch.turn.clear()
                lock.release()
                try:
                    batch.turn.wait()
                except BaseException as exc:
                    interrupted = interrupted or exc
                finally:
                    lock.acquire()
        return None, interrupted
