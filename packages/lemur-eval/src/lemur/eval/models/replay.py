"""The ``replay`` backend: answers from a file of recorded generations (Lemur's mock model).

Spec: ``replay:PATH`` where ``PATH`` is a JSONL file, or a run directory (every
``*/generations.jsonl`` in it is read). Each line is one JSON object:

- a generation: ``{"request": {...}, "output": str, "finish_reason": "stop" | "length"}``
  (``finish_reason`` optional, default ``"stop"``); the request is
  :meth:`GenerationRequest.to_dict`'s form, so a run's ``generations.jsonl`` replays as is
  (its other keys, ``id`` and ``cached``, are ignored);
- a log-likelihood: ``{"request": {"context": str, "continuation": str}, "logprob": float}``;
- a run's log-likelihood record: ``{"request": {"loglikelihood": [{"context", "continuation"},
  ...]}, "logprobs": [float, ...]}`` (one value per request);
- an agent episode record of a run (``{"id", "turns", ...}``, no ``request``) is skipped: it
  says what happened, not what was asked.

A request is answered by the line whose request is equal to it (canonical JSON). When the
same request was recorded several times (sampled runs), the recordings are served in file
order and the last one repeats. A request that was never recorded is an error, not a guess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lemur.core.errors import ConfigError, LemurError
from lemur.eval.cache import canonical_json
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend


class ReplayFileError(ConfigError):
    """A replay file is missing, unreadable, or has a line that is not a recorded call."""


class ReplayMissError(LemurError):
    """A request has no recording in the replay file."""


class ReplayBackend(ModelBackend):
    """Answers generation and log-likelihood requests from recorded calls.

    Args:
        path: A JSONL file of recordings, or a run directory (see the module docstring).

    Raises:
        ReplayFileError: The path does not exist, holds no recordings, or a line is not valid
            JSON, not an object, or lacks ``request`` with ``output`` (str) or ``logprob``
            (number); the message names the file and line.
    """

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._generations: dict[str, list[Generation]] = {}
        self._logprobs: dict[str, float] = {}
        self._served: dict[str, int] = {}
        self._keys: dict[GenerationRequest, str] = {}  # canonical JSON of requests seen, computed once
        self._lock = threading.Lock()
        digest = hashlib.sha256()
        for file in self._files():
            digest.update(file.read_bytes())
            self._load(file)
        if not self._generations and not self._logprobs:
            raise ReplayFileError(f"replay file {self.path}: holds no recorded generations or log-likelihoods")
        self._sha256 = digest.hexdigest()

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            files = sorted(self.path.glob("*/generations.jsonl"))
            if not files:
                raise ReplayFileError(f"replay directory {self.path}: no */generations.jsonl inside")
            return files
        if not self.path.is_file():
            raise ReplayFileError(f"replay file {self.path}: does not exist")
        return [self.path]

    def _load(self, file: Path) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ReplayFileError(f"replay file {file}: cannot read it ({error})") from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"replay file {file}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReplayFileError(f"{where}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ReplayFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
            if "request" not in record and "turns" in record:
                continue
            request = record.get("request")
            if not isinstance(request, dict):
                raise ReplayFileError(f"{where}: needs a 'request' object")
            if "loglikelihood" in request and "logprobs" in record:
                self._load_scored(where, request["loglikelihood"], record["logprobs"])
                continue
            key = canonical_json(request)
            if "output" in record:
                output, finish = record["output"], record.get("finish_reason", "stop")
                if not isinstance(output, str) or not isinstance(finish, str):
                    raise ReplayFileError(f"{where}: 'output' and 'finish_reason' must be strings")
                try:
                    GenerationRequest.from_dict(request)
                except (TypeError, ValueError, KeyError) as error:
                    raise ReplayFileError(f"{where}: 'request' is not a generation request ({error})") from None
                self._generations.setdefault(key, []).append(Generation(output, finish))
            elif "logprob" in record:
                value = record["logprob"]
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ReplayFileError(f"{where}: 'logprob' must be a number")
                self._logprobs[key] = float(value)
            else:
                raise ReplayFileError(f"{where}: needs 'output' (a generation) or 'logprob' (a log-likelihood)")

    def _load_scored(self, where: str, requests: Any, values: Any) -> None:
        """Load a run's log-likelihood record: ``{"loglikelihood": [requests]}`` with ``"logprobs"``."""
        if not isinstance(requests, list) or not isinstance(values, list) or len(requests) != len(values):
            raise ReplayFileError(f"{where}: 'loglikelihood' and 'logprobs' must be lists of the same length")
        for request, value in zip(requests, values, strict=True):
            if not isinstance(request, dict) or not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ReplayFileError(f"{where}: each log-likelihood needs a request object and a number")
            self._logprobs[canonical_json(request)] = float(value)

    def __getstate__(self) -> dict[str, Any]:
        # Locks do not pickle; a copy in another process (a Ray or pool worker) gets its own.
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def identity(self) -> dict[str, Any]:
        """The recordings' location and content hash."""
        return {"backend": self.name, "path": str(self.path.resolve()), "sha256": self._sha256}

    def _key(self, request: GenerationRequest) -> str:
        key = self._keys.get(request)
        if key is None:
            key = self._keys[request] = canonical_json(request.to_dict())
        return key

    def has_recording(self, request: GenerationRequest | Sequence[LoglikelihoodRequest]) -> bool:
        """Whether :meth:`generate` (one request) or :meth:`loglikelihood` (a sequence) can answer ``request``."""
        if isinstance(request, GenerationRequest):
            return self._key(request) in self._generations
        return all(canonical_json(dataclasses.asdict(item)) in self._logprobs for item in request)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """The recorded generation of each request, in order.

        Raises:
            ReplayMissError: A request was never recorded.
        """
        results = []
        with self._lock:
            for request in requests:
                key = self._key(request)
                recorded = self._generations.get(key)
                if recorded is None:
                    raise ReplayMissError(
                        f"replay file {self.path}: no recorded generation for the request {_preview(request)}"
                    )
                served = self._served.get(key, 0)
                self._served[key] = served + 1
                results.append(recorded[min(served, len(recorded) - 1)])
        return results

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[float]:
        """The recorded log-probability of each continuation, in order.

        Raises:
            ReplayMissError: A request was never recorded.
        """
        values = []
        for request in requests:
            value = self._logprobs.get(canonical_json(dataclasses.asdict(request)))
            if value is None:
                raise ReplayMissError(
                    f"replay file {self.path}: no recorded log-likelihood for context {request.context[-60:]!r} "
                    f"and continuation {request.continuation!r}"
                )
            values.append(value)
        return values


def _preview(request: GenerationRequest) -> str:
    text = request.prompt if request.prompt is not None else (request.messages[-1].content if request.messages else "")
    return repr(text[-80:])
