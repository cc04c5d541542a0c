"""Group commit: concurrent rows share a write, and no caller returns before its row is
written, nor returns at all when the write of its row failed."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from collector.storage.groupcommit import GroupCommit


class Writer:
    """Records each batch; the first one waits for ``release`` (a slow commit)."""

    def __init__(self, fail_on: Any = None) -> None:
        self.batches: list[list[Any]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, rows: Sequence[Any]) -> None:
        first = not self.batches
        self.batches.append(list(rows))
        if first:
            self.entered.set()
            assert self.release.wait(10)
        if self.fail_on in rows:
            raise OSError("the disk is full")


def add_in_threads(commits: GroupCommit, rows: Sequence[Any]) -> dict[Any, Any]:
    """Add each row from a thread of its own; what each add returned or raised, filled in
    as they end (its threads under the key ``threads``)."""
    outcome: dict[Any, Any] = {}

    def add(row: Any) -> None:
        try:
            commits.add(row)
            outcome[row] = "written"
        except OSError as exc:
            outcome[row] = exc

    threads = [threading.Thread(target=add, args=(row,)) for row in rows]
    outcome["threads"] = threads
    for t in threads:
        t.start()
    return outcome


def wait_waiting(commits: GroupCommit, count: int) -> None:
    """Until ``count`` rows wait in the open batch."""
    deadline = time.monotonic() + 10
    while commits.waiting < count:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_row_alone_is_written_at_once() -> None:
    writer = Writer()
    writer.release.set()
    commits = GroupCommit(writer)
    commits.add("a")
    commits.add("b")
    assert writer.batches == [["a"], ["b"]]


def test_rows_arriving_during_a_write_share_the_next_one() -> None:
    writer = Writer()
    commits = GroupCommit(writer)
    first = add_in_threads(commits, ["first"])
    assert writer.entered.wait(10)
    rest = add_in_threads(commits, ["b", "c", "d", "e"])
    wait_waiting(commits, 4)
    assert "b" not in rest, "no caller returns before its row is written"
    writer.release.set()
    for t in [*first.pop("threads"), *rest.pop("threads")]:
        t.join(10)
    assert writer.batches[0] == ["first"]
    assert sorted(writer.batches[1]) == ["b", "c", "d", "e"] and len(writer.batches) == 2
    assert set(first.values()) | set(rest.values()) == {"written"}


@pytest.mark.parametrize("most", [1, 2, 5, 64])
def test_a_batch_holds_at_most_most_rows(most: int) -> None:
    writer = Writer()
    commits = GroupCommit(writer, most=most)
    first = add_in_threads(commits, [0])
    assert writer.entered.wait(10)
    rest = add_in_threads(commits, [1, 2, 3, 4, 5])
    wait_waiting(commits, min(most, 5))
    writer.release.set()
    for t in [*first.pop("threads"), *rest.pop("threads")]:
        t.join(10)
    assert len(writer.batches[1]) == min(most, 5)  # the batch that waited, full
    assert max(len(b) for b in writer.batches) <= most
    assert sorted(row for batch in writer.batches for row in batch) == [0, 1, 2, 3, 4, 5]


def test_a_failed_write_fails_every_row_in_it_and_no_other() -> None:
    writer = Writer(fail_on="c")
    commits = GroupCommit(writer)
    first = add_in_threads(commits, ["first"])
    assert writer.entered.wait(10)
    rest = add_in_threads(commits, ["b", "c"])
    wait_waiting(commits, 2)
    writer.release.set()
    for t in [*first.pop("threads"), *rest.pop("threads")]:
        t.join(10)
    assert first == {"first": "written"}
    assert all(isinstance(rest[row], OSError) for row in ("b", "c"))
    commits.add("after")  # the next write is tried anew
    assert writer.batches[-1] == ["after"]


class Blocking:
    """Writers whose every write waits until the test releases it (a slow commit, each on
    a connection of its own): ``log`` holds each write's writer, rows and release."""

    def __init__(self) -> None:
        self.log: list[tuple[int, list[Any], threading.Event]] = []

    def writer(self, name: int) -> Any:
        def write(rows: Sequence[Any]) -> None:
            gate = threading.Event()
            self.log.append((name, list(rows), gate))
            assert gate.wait(10)
        return write

    def began(self, count: int) -> None:
        """Until ``count`` writes have begun."""
        deadline = time.monotonic() + 10
        while len(self.log) < count:
            assert time.monotonic() < deadline
            time.sleep(0.005)

    def rows(self, index: int) -> list[Any]:
        return sorted(self.log[index][1])

    def release(self, index: int | None = None) -> None:
        for _, _, gate in self.log if index is None else [self.log[index]]:
            gate.set()


def join(*outcomes: dict[Any, Any]) -> None:
    for outcome in outcomes:
        for t in outcome.pop("threads"):
            t.join(10)
            assert not t.is_alive()


def test_a_second_writer_takes_a_batch_of_two_while_the_first_is_under_way() -> None:
    writes = Blocking()
    commits = GroupCommit(writes.writer(1), writes.writer(2))
    first = add_in_threads(commits, ["a"])
    writes.began(1)
    lone = add_in_threads(commits, ["b"])
    wait_waiting(commits, 1)
    time.sleep(0.05)
    assert len(writes.log) == 1, "one row alone waits for the write under way"
    pair = add_in_threads(commits, ["c"])
    writes.began(2)  # while "a" is still being written
    assert writes.rows(1) == ["b", "c"] and writes.log[1][0] != writes.log[0][0]
    assert "b" not in lone and "c" not in pair, "no caller returns before its row is written"
    writes.release()
    join(first, lone, pair)
    assert first == {"a": "written"} and lone == {"b": "written"} and pair == {"c": "written"}


def test_a_second_batch_waits_until_it_is_as_large_as_the_one_under_way() -> None:
    writes = Blocking()
    commits = GroupCommit(writes.writer(1), writes.writer(2))
    outcomes = [add_in_threads(commits, ["a"])]
    writes.began(1)
    outcomes.append(add_in_threads(commits, ["b", "c"]))  # two rows: the other writer
    writes.began(2)
    outcomes.append(add_in_threads(commits, ["d", "e", "f"]))  # both busy: they wait
    wait_waiting(commits, 3)
    writes.release(0)  # "a" is written; d, e and f take its writer
    writes.began(3)
    assert writes.rows(2) == ["d", "e", "f"]
    writes.release(1)  # b and c are written: three rows remain under way
    join(outcomes[1])
    outcomes.append(add_in_threads(commits, ["g", "h"]))
    wait_waiting(commits, 2)
    time.sleep(0.05)
    assert len(writes.log) == 3, "two rows wait while three are being written"
    outcomes.append(add_in_threads(commits, ["i"]))
    writes.began(4)
    assert writes.rows(3) == ["g", "h", "i"]
    writes.release()
    join(*outcomes[:1], *outcomes[2:])
    assert all(set(o.values()) == {"written"} for o in outcomes)
    assert sorted(row for _, rows, _ in writes.log for row in rows) == list("abcdefghi")


def test_one_writer_never_starts_a_second_batch() -> None:
    writes = Blocking()
    commits = GroupCommit(writes.writer(1))
    outcomes = [add_in_threads(commits, ["a"])]
    writes.began(1)
    outcomes.append(add_in_threads(commits, ["b", "c", "d"]))
    wait_waiting(commits, 3)
    time.sleep(0.05)
    assert len(writes.log) == 1
    writes.release(0)
    writes.began(2)
    assert writes.rows(1) == ["b", "c", "d"]
    writes.release()
    join(*outcomes)


def test_a_leader_killed_while_waiting_still_writes_the_rows_of_the_others() -> None:
    # Under gevent, as a worker runs: the first greenlet of a batch, killed while it
    # waits for the write under way, must not leave the others' rows waiting for ever.
    import subprocess
    import sys

    code = """
from gevent import monkey
monkey.patch_all()
import gevent, gevent.event
from collector.storage.groupcommit import GroupCommit
release = gevent.event.Event()
written = []
def write(rows):
    written.append(list(rows))
    release.wait()
commits = GroupCommit(write)
first = gevent.spawn(commits.add, "first")
gevent.sleep(0.01)
leader = gevent.spawn(commits.add, "leader")
gevent.sleep(0.01)
other = gevent.spawn(commits.add, "other")
gevent.sleep(0.01)
leader.kill(block=False)
gevent.sleep(0.01)
release.set()
gevent.joinall([first, leader, other], timeout=5)
print(written, other.successful(), type(leader.value).__name__ if leader.dead else "alive")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "[['first'], ['leader', 'other']] True GreenletExit"
