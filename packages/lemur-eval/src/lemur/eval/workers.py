"""Model backends in worker processes: built there from the spec, with the parent as the cache's one writer.

A live backend does not pickle (an HTTP client, a loaded model), so the ``process`` and
``ray`` executors never ship one. They ship a :class:`WorkerBackend`: the spec's
:class:`~lemur.eval.models.spec.BackendRecipe` (class by import path, target, options), the
parent's backend identity and the cache's path. Each worker process builds the backend once
(:func:`_built`, kept while the parent's identity stays the same, so a pool worker or a Ray
worker loads a checkpoint once) and answers work items with it:

- cache reads come from the SQLite file when the worker can see it (same machine; a remote Ray
  node without the file simply misses);
- cache writes are not made in the worker: the answers a worker computed travel back with its
  result and the parent stores them (:func:`map_with_backend`), so the parent is the only
  writer and a worker on another node cannot write to a file no one reads;
- keys use the parent's identity, so a worker's reads and the parent's writes agree.

Each worker runs one item at a time (a pool process, a Ray task with one CPU), so a backend
is never used by two threads of one worker.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lemur.eval.cache import CachingBackend, ResponseCache
from lemur.eval.executors import Executor
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend
from lemur.eval.models.spec import BackendRecipe, ModelSpec, backend_recipe

T = TypeVar("T")
R = TypeVar("R")

#: Per worker process: backends built from recipes, and read connections to cache files.
_BACKENDS: dict[str, ModelBackend] = {}
_READERS: dict[Path, ResponseCache] = {}
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class WorkerBackend:
    """What a worker needs to answer model calls as the parent's :class:`CachingBackend` would.

    Attributes:
        recipe: How to build the backend (target made absolute where it is a local path).
        identity: The parent backend's identity (the cache-key part).
        cache_path: The model-call cache, or ``None`` when caching is off.
    """

    recipe: BackendRecipe
    identity: Mapping[str, Any]
    cache_path: Path | None

    @classmethod
    def of(cls, spec: ModelSpec, backend: CachingBackend) -> WorkerBackend:
        """The worker form of the parent's ``backend``, built from ``spec``.

        Raises:
            ConfigError / UnknownComponentError: as :func:`~lemur.eval.models.spec.backend_recipe`.
        """
        cache_path = backend.cache.path.resolve() if backend.cache is not None else None
        return cls(backend_recipe(spec).with_absolute_target(), dict(backend.identity), cache_path)

    def open(self) -> tuple[CachingBackend, _CollectingCache | None]:
        """This process's backend behind a cache that reads the shared file and collects writes."""
        inner = _PinnedIdentity(_built(self.recipe, self.identity), self.identity)
        if self.cache_path is None:
            return CachingBackend(inner, None), None
        cache = _CollectingCache(self.cache_path, _reader(self.cache_path))
        return CachingBackend(inner, cache), cache


def map_with_backend(
    executor: Executor,
    backend: CachingBackend,
    spec: ModelSpec,
    work: Callable[[CachingBackend, T], R],
    items: Iterable[T],
) -> Iterator[R]:
    """Yield ``work(backend, item)`` for each item, in order, through ``executor``.

    The ``local`` executor's threads share ``backend``. Other executors get a
    :class:`WorkerBackend` instead; the cache entries their workers computed are written
    here, as each result arrives.

    Args:
        executor: Where the items run.
        backend: The parent's backend (and cache).
        spec: The spec ``backend`` was built from.
        work: A picklable function of (backend, item), e.g. a ``functools.partial`` of a
            module-level function.
        items: The work items.
    """
    if executor.name == "local":
        yield from executor.imap(functools.partial(work, backend), items)
        return
    call = _InWorker(work, WorkerBackend.of(spec, backend))
    for result, writes in executor.imap(call, items):
        if writes and backend.cache is not None:
            backend.cache.put_many(writes)
        yield result


@dataclasses.dataclass(frozen=True)
class _InWorker:
    """``work(backend, item)`` in a worker; returns the result and the cache entries to store."""

    work: Callable[[CachingBackend, Any], Any]
    handle: WorkerBackend

    def __call__(self, item: Any) -> tuple[Any, list[tuple[str, Any]]]:
        backend, cache = self.handle.open()
        result = self.work(backend, item)
        return result, (cache.writes if cache is not None else [])


def _built(recipe: BackendRecipe, identity: Mapping[str, Any]) -> ModelBackend:
    """The backend of ``recipe``, built once per process while the parent's ``identity`` stays the same.

    The identity is part of the key, so a long-lived (Ray) worker rebuilds a checkpoint
    rewritten at the same path (its fingerprint changes) instead of answering with the old
    weights. Only the latest backend is kept; an earlier one is closed.
    """
    key = repr(
        (recipe.backend_cls.__module__, recipe.backend_cls.__qualname__, recipe.args, recipe.spec.options, identity)
    )
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            for old in _BACKENDS.values():
                old.close()
            _BACKENDS.clear()
            # The parent built the same backend before the run and showed its warnings already.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                backend = recipe.build()
            _BACKENDS[key] = backend
        return backend


def _reader(path: Path) -> ResponseCache | None:
    """A connection for reading the cache at ``path``, or None when this machine does not have the file."""
    with _LOCK:
        if path not in _READERS:
            if not path.is_file():
                return None
            _READERS[path] = ResponseCache(path)
        return _READERS[path]


class _CollectingCache(ResponseCache):
    """Reads through to the shared cache file (if any); keeps writes for the parent to store."""

    def __init__(self, path: Path, reader: ResponseCache | None) -> None:
        super().__init__(path)
        self._reader = reader
        self.writes: list[tuple[str, Any]] = []

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values of those ``keys`` that the shared file holds."""
        return self._reader.get_many(keys) if self._reader is not None else {}

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Keep the entries for the parent."""
        self.writes.extend(items)

    def close(self) -> None:
        """Nothing to close: the reader lives as long as the process."""


class _PinnedIdentity(ModelBackend):
    """``inner`` under the parent's identity, so the worker's cache keys are the parent's."""

    def __init__(self, inner: ModelBackend, identity: Mapping[str, Any]) -> None:
        self.inner = inner
        self.name = inner.name
        self._identity = dict(identity)

    @property
    def identity(self) -> dict[str, Any]:
        """The parent's identity."""
        return self._identity

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """``inner``'s generations."""
        return self.inner.generate(requests)

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """``inner``'s log-likelihoods."""
        return self.inner.loglikelihood(requests)

    def close(self) -> None:
        """Keep ``inner`` open: it serves this process's later items."""
