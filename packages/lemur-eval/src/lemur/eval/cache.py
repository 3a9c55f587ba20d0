"""The model-call cache: every deterministic model call, stored in SQLite by a content key.

The key is the SHA-256 of the canonical JSON of ``[backend identity, method, request]``
(STYLE 7.10), so the same request to the same model (same backend, model, revision, template)
is answered from the cache by any later run, of any benchmark. Sampled generations
(``temperature > 0``) are never cached: each call must draw anew.

The store is one SQLite file in WAL mode with a busy timeout, so several threads (one
connection each) and several processes (local Ray workers, parallel runs) can read and write
it at once. A value is written only after the backend returned it, in one transaction per
batch, so a killed run never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lemur.core.errors import ConfigError
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_BUSY_TIMEOUT_MS = 60_000


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings (tuples become lists)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_json(value: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def cache_key(identity: Mapping[str, Any], method: str, request: Mapping[str, Any]) -> str:
    """The cache key of one call: SHA-256 of ``[identity, method, request]`` in canonical JSON."""
    return sha256_json([dict(identity), method, dict(request)])


class ResponseCache:
    """A thread- and process-safe key/value store of JSON values in one SQLite file.

    Args:
        path: The database file; its folder is created on first use.

    Raises:
        ConfigError: The file exists but is not a Lemur cache (or not SQLite), or cannot be
            created.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        # Connections cannot cross processes; a copy (a Ray worker) opens its own.
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(_SCHEMA)
            except sqlite3.DatabaseError as error:
                raise ConfigError(
                    f"model-call cache {self.path}: cannot open it as a SQLite database ({error})"
                ) from None
            except OSError as error:
                raise ConfigError(f"model-call cache {self.path}: cannot create it ({error})") from None
            self._local.connection = connection
        return connection

    def check(self) -> None:
        """Open (and create) the database now, so a bad path fails before a run starts.

        Raises:
            ConfigError: See the class docstring.
        """
        self._connection()

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values of those ``keys`` that are present."""
        found: dict[str, Any] = {}
        connection = self._connection()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite caps bound parameters per statement
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, value in connection.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", part):
                found[key] = json.loads(value)
        return found

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Store ``(key, value)`` pairs in one transaction (an existing key is overwritten)."""
        rows = [(key, json.dumps(value, ensure_ascii=False)) for key, value in items]
        if not rows:
            return
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class CachingBackend(ModelBackend):
    """A model backend that answers from a :class:`ResponseCache` and asks ``inner`` for the rest.

    Greedy generations and log-likelihoods are cached; requests with ``temperature > 0`` go
    to ``inner`` every time. Results keep the order and length of the requests.

    Args:
        inner: The backend that really answers.
        cache: Where answers are kept; ``None`` turns caching off (every call goes to ``inner``).
    """

    def __init__(self, inner: ModelBackend, cache: ResponseCache | None) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self._identity = dict(inner.identity)

    @property
    def identity(self) -> dict[str, Any]:
        """The identity of the wrapped backend."""
        return self._identity

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one completion per request, in order, from the cache where possible."""
        return [generation for generation, _ in self.generate_with_cache_info(requests)]

    def generate_with_cache_info(self, requests: Sequence[GenerationRequest]) -> list[tuple[Generation, bool]]:
        """Like :meth:`generate`, with a flag per result saying whether it came from the cache."""
        keys = [
            cache_key(self._identity, "generate", request.to_dict())
            if self.cache is not None and request.temperature == 0
            else None
            for request in requests
        ]
        hits = self.cache.get_many([key for key in keys if key is not None]) if self.cache is not None else {}
        results: list[tuple[Generation, bool] | None] = [None] * len(requests)
        missing: list[int] = []
        for index, key in enumerate(keys):
            if key is not None and key in hits:
                hit = hits[key]
                results[index] = (Generation(hit["text"], hit["finish_reason"]), True)
            else:
                missing.append(index)
        if missing:
            generated = self.inner.generate([requests[index] for index in missing])
            if len(generated) != len(missing):
                raise RuntimeError(
                    f"model backend '{self.name}' returned {len(generated)} generations for {len(missing)} requests"
                )
            to_store = []
            for index, generation in zip(missing, generated, strict=True):
                results[index] = (generation, False)
                if keys[index] is not None:
                    to_store.append((keys[index], {"text": generation.text, "finish_reason": generation.finish_reason}))
            if self.cache is not None:
                self.cache.put_many(to_store)
        return [result for result in results if result is not None]

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """Log-probabilities of each continuation, in order, from the cache where possible."""
        return [value for value, _ in self.loglikelihood_with_cache_info(requests)]

    def loglikelihood_with_cache_info(self, requests: Sequence[LoglikelihoodRequest]) -> list[tuple[float, bool]]:
        """Like :meth:`loglikelihood`, with a flag per result saying whether it came from the cache."""
        if self.cache is None:
            return [(float(value), False) for value in self.inner.loglikelihood(requests)]
        import dataclasses

        keys = [cache_key(self._identity, "loglikelihood", dataclasses.asdict(r)) for r in requests]
        hits = self.cache.get_many(keys)
        missing = [index for index, key in enumerate(keys) if key not in hits]
        values = [hits.get(key) for key in keys]
        if missing:
            scored = self.inner.loglikelihood([requests[index] for index in missing])
            if len(scored) != len(missing):
                raise RuntimeError(
                    f"model backend '{self.name}' returned {len(scored)} log-likelihoods for {len(missing)} requests"
                )
            for index, value in zip(missing, scored, strict=True):
                values[index] = value
            self.cache.put_many((keys[index], values[index]) for index in missing)
        fresh = set(missing)
        return [(float(value), index not in fresh) for index, value in enumerate(values)]

    def close(self) -> None:
        """Close the wrapped backend and this thread's cache connection."""
        self.inner.close()
        if self.cache is not None:
            self.cache.close()
