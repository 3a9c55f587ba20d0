"""Executors: where the runner's work items (generation chunks, episodes, scores) run.

- ``local``: a thread pool in this process (the default). Model backends wait on servers or
  release the GIL in native code, and scorers wait on sandbox subprocesses, so threads are
  enough and share the model-call cache.
- ``process``: a process pool, for scorers that burn Python CPU. Work must pickle: benchmarks
  must be importable by module name in the workers (an installed plugin). Model backends are
  not shipped but rebuilt in each worker from their spec (:mod:`lemur.eval.workers`).
- ``ray``: tasks on a Ray cluster (``--ray-address``, or a local instance started on demand);
  the same rules apply, and every node must have the same packages installed.

All executors share :meth:`Executor.imap`: results come back in input order with at most
``window`` items in flight, which is what lets the runner write JSONL in sample order while
work completes out of order.
"""

from __future__ import annotations

import abc
import collections
import concurrent.futures
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Protocol

from lemur.core.errors import ConfigError, MissingDependencyError

ExecutorName = Literal["local", "process", "ray"]
EXECUTOR_NAMES: tuple[str, ...] = ("local", "process", "ray")


class Pending(Protocol):
    """A submitted work item."""

    def result(self) -> Any:
        """Wait for the item and return its result, or raise its exception."""


class Executor(abc.ABC):
    """Runs a function over work items, concurrently.

    Args:
        workers: How many items run at once (threads, processes, or Ray tasks in flight).
    """

    name: str = ""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"executor '{self.name}': workers must be at least 1, got {workers}")
        self.workers = workers

    @abc.abstractmethod
    def submit(self, fn: Callable[[Any], Any], item: Any) -> Pending:
        """Start ``fn(item)`` and return a handle whose ``result()`` waits for it."""

    def prepare(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Make ``fn`` cheap to submit many times (Ray ships it to the cluster once)."""
        return fn

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any], window: int | None = None) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in input order, keeping at most ``window`` in flight.

        Args:
            fn: A function of one argument; must pickle for ``process`` and ``ray``.
            items: The work items; consumed lazily.
            window: Items in flight at most; default twice the workers.

        Raises:
            Exception: The first exception raised by ``fn``, in input order; items still in
                flight are waited for (threads) or abandoned.
        """
        window = window or 2 * self.workers
        prepared = self.prepare(fn)
        in_flight: collections.deque[Pending] = collections.deque()
        iterator = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < window:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                in_flight.append(self.submit(prepared, item))
            if not in_flight:
                return
            yield in_flight.popleft().result()

    def close(self) -> None:
        """Release the workers; the default does nothing."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ThreadExecutor(Executor):
    """A thread pool in this process."""

    name = "local"

    def __init__(self, workers: int = 4) -> None:
        super().__init__(workers)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lemur-eval")

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Pending:
        """Run ``fn(item)`` on a pool thread."""
        return self._pool.submit(fn, item)

    def close(self) -> None:
        """Wait for running items and stop the threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class ProcessExecutor(Executor):
    """A pool of worker processes (started with ``spawn``, so no lock or thread is inherited)."""

    name = "process"

    def __init__(self, workers: int = 2) -> None:
        import multiprocessing

        super().__init__(workers)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Pending:
        """Run ``fn(item)`` in a worker process."""
        return self._pool.submit(fn, item)

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class _RayPending:
    def __init__(self, ref: Any) -> None:
        self._ref = ref

    def result(self) -> Any:
        import ray

        try:
            return ray.get(self._ref)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class RayExecutor(Executor):
    """Ray tasks, one per work item, on the cluster at ``address`` or on a local instance.

    Args:
        workers: Tasks in flight at most (and CPUs of a local instance started here).
        address: A running cluster (``ray://host:10001`` or ``auto``); ``None`` connects to
            the instance this process already joined, or starts a local one.

    Raises:
        MissingDependencyError: Ray is not installed (``pip install 'lemur-eval[ray]'``).
    """

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        super().__init__(workers)
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("the ray executor", "ray", "lemur-eval[ray]") from None
        self._started_here = False
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
            self._started_here = True
        self._remote = ray.remote(num_cpus=1)(_call)

    def prepare(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Put ``fn`` (with the benchmark and backend recipe it carries) into the object store once."""
        import ray

        return ray.put(fn)

    def submit(self, fn: Any, item: Any) -> Pending:
        """Start a Ray task computing ``fn(item)``."""
        return _RayPending(self._remote.remote(fn, item))

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


def create_executor(name: str, workers: int, ray_address: str | None = None) -> Executor:
    """Build the executor called ``name`` (``local``, ``process`` or ``ray``).

    Raises:
        ConfigError: Unknown name or fewer than one worker.
        MissingDependencyError: ``ray`` without Ray installed.
    """
    factories: dict[str, Callable[[], Executor]] = {
        "local": functools.partial(ThreadExecutor, workers),
        "process": functools.partial(ProcessExecutor, workers),
        "ray": functools.partial(RayExecutor, workers, ray_address),
    }
    if name not in factories:
        raise ConfigError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTOR_NAMES)}")
    return factories[name]()
