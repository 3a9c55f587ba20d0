"""CallBatcher merges calls that queue up while one runs, and keeps every caller's results apart."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lemur.eval.batcher import CallBatcher


class Recorder:
    """A list-in, list-out target that blocks its first call until released and records call sizes."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[tuple[str, list[str]]] = []

    def upper(self, items: list[str]) -> list[str]:
        self.calls.append(("upper", list(items)))
        self.started.set()
        self.release.wait(timeout=10)
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    def length(self, items: list[str]) -> list[int]:
        self.calls.append(("length", list(items)))
        return [len(item) for item in items]


def test_calls_queued_during_a_call_are_merged_into_one() -> None:
    target = Recorder()
    batcher = CallBatcher(target, max_batch=32)
    first = batcher.submit("upper", ["a"])
    assert target.started.wait(timeout=10)
    queued = [batcher.submit("upper", [f"x{i}", f"y{i}"]) for i in range(5)]
    target.release.set()
    assert first.result(timeout=10) == ["A"]
    assert [f.result(timeout=10) for f in queued] == [[f"X{i}", f"Y{i}"] for i in range(5)]
    assert [len(items) for _, items in target.calls] == [1, 10]
    batcher.close()


def test_max_batch_and_method_bound_each_merge() -> None:
    target = Recorder()
    batcher = CallBatcher(target, max_batch=4)
    blocker = batcher.submit("upper", ["a"])
    assert target.started.wait(timeout=10)
    futures = [batcher.submit("upper", ["b", "c"]), batcher.submit("upper", ["d", "e"]), batcher.submit("upper", ["f"])]
    lengths = batcher.submit("length", ["abc"])
    more = batcher.submit("upper", ["g"])
    target.release.set()
    blocker.result(timeout=10)
    assert [f.result(timeout=10) for f in futures] == [["B", "C"], ["D", "E"], ["F"]]
    assert lengths.result(timeout=10) == [3]
    assert more.result(timeout=10) == ["G"]
    assert target.calls == [
        ("upper", ["a"]),
        ("upper", ["b", "c", "d", "e"]),
        ("upper", ["f"]),
        ("length", ["abc"]),
        ("upper", ["g"]),
    ]
    batcher.close()


def test_a_failing_item_fails_only_its_own_call() -> None:
    target = Recorder()
    batcher = CallBatcher(target)
    blocker = batcher.submit("upper", ["a"])
    assert target.started.wait(timeout=10)
    good, bad, also_good = (batcher.submit("upper", [x]) for x in ("b", "bad", "c"))
    target.release.set()
    blocker.result(timeout=10)
    assert good.result(timeout=10) == ["B"]
    assert also_good.result(timeout=10) == ["C"]
    with pytest.raises(ValueError, match="bad item"):
        bad.result(timeout=10)
    batcher.close()


def test_call_can_be_awaited() -> None:
    target = Recorder()
    target.release.set()
    batcher = CallBatcher(target)

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(batcher.call("length", ["x" * n]) for n in range(4)))

    assert asyncio.run(main()) == [[0], [1], [2], [3]]
    batcher.close()
