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
