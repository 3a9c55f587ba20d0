"""Merge concurrent model calls into batches, so a server over a batched backend uses its batches.

``lemur serve`` answers each HTTP request separately, but a backend such as ``hf`` is much
faster on a batch. :class:`CallBatcher` runs every backend call in one worker thread; while a
call runs, new calls queue up, and the worker then takes all queued calls of the same method
(up to ``max_batch`` items) and makes one backend call for them. Nothing waits for a batch to
fill: a lone request runs at once, so batching adds no latency.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

_STOP = object()


@dataclasses.dataclass
class _Call:
    method: str  #: the name of a list-in, list-out method of the target
    items: list[Any]
    future: concurrent.futures.Future


class CallBatcher:
    """Run ``target.<method>(items)`` calls from many threads or tasks as merged batches.

    Args:
        target: The object whose list-in, list-out methods are called (a model backend).
        max_batch: Most items merged into one call; a single larger call is not split.
    """

    def __init__(self, target: Any, max_batch: int = 32) -> None:
        self.target = target
        self.max_batch = max_batch
        self.calls_made = 0  #: backend calls made so far (for tests and stats)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="lemur-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, method: str, items: Sequence[Any]) -> concurrent.futures.Future:
        """Queue ``target.<method>(items)``; the future resolves to its list of results."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put(_Call(method, list(items), future))
        return future

    async def call(self, method: str, items: Sequence[Any]) -> list[Any]:
        """Await ``target.<method>(items)``, merged with other pending calls of the same method.

        Raises:
            Exception: Whatever the target raised for these items (they are retried alone
                when a merged call fails, so one bad request never fails the others).
        """
        return await asyncio.wrap_future(self.submit(method, items))

    def close(self) -> None:
        """Stop the worker after the calls already queued."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        deferred: list[Any] = []
        while True:
            first = deferred.pop(0) if deferred else self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            size = len(first.items)
            while size < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is not _STOP and nxt.method == first.method and size + len(nxt.items) <= self.max_batch:
                    batch.append(nxt)
                    size += len(nxt.items)
                else:
                    deferred.append(nxt)
                    break
            self._run(batch)

    def _run(self, batch: list[_Call]) -> None:
        method: Callable[[list[Any]], list[Any]] = getattr(self.target, batch[0].method)
        merged = [item for call in batch for item in call.items]
        try:
            self.calls_made += 1
            results = method(merged)
        except BaseException as error:  # noqa: BLE001 - handed to the callers' futures
            if len(batch) == 1:
                batch[0].future.set_exception(error)
            else:
                for call in batch:
                    self._run([call])
            return
        start = 0
        for call in batch:
            call.future.set_result(results[start : start + len(call.items)])
            start += len(call.items)
