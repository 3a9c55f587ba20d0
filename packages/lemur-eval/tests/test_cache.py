"""The model-call cache (lemur.eval.cache)."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from lemur.core.errors import ConfigError
from lemur.eval.cache import CachingBackend, ResponseCache, cache_key
from lemur.eval.models.base import Generation, GenerationRequest, LoglikelihoodRequest, ModelBackend


class CountingModel(ModelBackend):
    """Echoes the prompt upper-cased and counts what it was asked."""

    name = "counting"

    def __init__(self, model="m1"):
        self.model = model
        self.generated: list[str] = []
        self.scored = 0

    @property
    def identity(self):
        return {"model": self.model}

    def generate(self, requests):
        self.generated += [r.prompt for r in requests]
        return [Generation(r.prompt.upper(), "length") for r in requests]

    def loglikelihood(self, requests):
        self.scored += len(requests)
        return [-float(len(r.continuation)) for r in requests]


def test_key_is_sha256_of_canonical_identity_method_request():
    request = GenerationRequest(prompt="p", stop=("\n",))
    expected = hashlib.sha256(
        json.dumps([{"model": "m"}, "generate", request.to_dict()], sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert cache_key({"model": "m"}, "generate", request.to_dict()) == expected
    assert cache_key({"model": "m2"}, "generate", request.to_dict()) != expected
    assert cache_key({"model": "m"}, "loglikelihood", request.to_dict()) != expected


def test_second_call_is_answered_from_the_cache_across_instances(tmp_path):
    path = tmp_path / "c.sqlite"
    inner = CountingModel()
    first = CachingBackend(inner, ResponseCache(path))
    requests = [GenerationRequest(prompt=p) for p in ("a", "b", "a")]
    assert [(g.text, c) for g, c in first.generate_with_cache_info(requests)] == [
        ("A", False),
        ("B", False),
        ("A", False),
    ]
    again = CachingBackend(CountingModel(), ResponseCache(path))
    mixed = requests + [GenerationRequest(prompt="c")]
    answers = again.generate_with_cache_info(mixed)
    assert [(g.text, g.finish_reason, c) for g, c in answers] == [
        ("A", "length", True),
        ("B", "length", True),
        ("A", "length", True),
        ("C", "length", False),
    ]
    assert again.inner.generated == ["c"]
    other_model = CachingBackend(CountingModel("m2"), ResponseCache(path))
    other_model.generate(requests[:1])
    assert other_model.inner.generated == ["a"]


def test_sampled_generations_bypass_the_cache(tmp_path):
    backend = CachingBackend(CountingModel(), ResponseCache(tmp_path / "c.sqlite"))
    sampled = GenerationRequest(prompt="x", temperature=0.7)
    backend.generate([sampled])
    backend.generate([sampled])
    assert backend.inner.generated == ["x", "x"]
    assert len(backend.cache) == 0


def test_loglikelihoods_are_cached(tmp_path):
    backend = CachingBackend(CountingModel(), ResponseCache(tmp_path / "c.sqlite"))
    requests = [LoglikelihoodRequest("ctx", " ab"), LoglikelihoodRequest("ctx", " c")]
    assert backend.loglikelihood(requests) == [-3.0, -2.0]
    assert backend.loglikelihood(requests[::-1]) == [-2.0, -3.0]
    assert backend.inner.scored == 2


def test_no_cache_means_every_call_reaches_the_model():
    backend = CachingBackend(CountingModel(), None)
    backend.generate([GenerationRequest(prompt="a")])
    backend.generate([GenerationRequest(prompt="a")])
    assert backend.inner.generated == ["a", "a"]


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    errors = []

    def write(worker: int) -> None:
        try:
            for start in range(0, 200, 20):
                cache.put_many((f"{worker}-{i}", {"v": i}) for i in range(start, start + 20))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reader = ResponseCache(path)
    assert len(reader) == 800
    assert reader.get_many(["3-199", "0-0", "nope"]) == {"3-199": {"v": 199}, "0-0": {"v": 0}}


def test_a_file_that_is_not_sqlite_is_a_config_error(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_text("this is not a database" * 100)
    with pytest.raises(ConfigError, match="cannot open it as a SQLite database"):
        ResponseCache(path).check()
