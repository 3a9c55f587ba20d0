"""The work items of a run, as plain module-level functions so every executor (threads, processes, Ray) can ship them.

Each function takes what it needs explicitly (benchmark, backend) and returns JSON-ready
records; only the runner writes files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lemur.eval.agent_loop import Episode, run_episode
from lemur.eval.benchmark import AgentBenchmark, Benchmark, Sample, Score
from lemur.eval.cache import CachingBackend
from lemur.eval.models.base import GenerationRequest, LoglikelihoodRequest

#: What ``Benchmark.request`` returns: one generation, or log-likelihood requests scored together.
SampleRequest = GenerationRequest | Sequence[LoglikelihoodRequest]


def request_to_dict(request: SampleRequest) -> dict[str, Any]:
    """The JSON form of a sample's request: ``GenerationRequest.to_dict()``, or ``{"loglikelihood": [...]}``."""
    if isinstance(request, GenerationRequest):
        return request.to_dict()
    return {"loglikelihood": [dataclasses.asdict(item) for item in request]}


def generate_chunk(backend: CachingBackend, chunk: Sequence[tuple[str, SampleRequest]]) -> list[dict[str, Any]]:
    """Answer a chunk of ``(sample id, request)`` pairs; one ``generations.jsonl`` record each, in order.

    Generation requests go to the backend in one ``generate`` call and log-likelihood
    requests in one ``loglikelihood`` call. A log-likelihood sample's record has
    ``"output": ""``, ``"finish_reason": "loglikelihood"`` and ``"logprobs"`` (one float per
    request, in order).
    """
    generation_indices = [i for i, (_, request) in enumerate(chunk) if isinstance(request, GenerationRequest)]
    scored_indices = [i for i, (_, request) in enumerate(chunk) if not isinstance(request, GenerationRequest)]
    records: list[dict[str, Any]] = [{} for _ in chunk]
    if generation_indices:
        answers = backend.generate_with_cache_info([chunk[i][1] for i in generation_indices])
        for index, (generation, cached) in zip(generation_indices, answers, strict=True):
            sample_id, request = chunk[index]
            records[index] = {
                "id": sample_id,
                "request": request_to_dict(request),
                "output": generation.text,
                "finish_reason": generation.finish_reason,
                "cached": cached,
            }
    if scored_indices:
        flat = [item for i in scored_indices for item in chunk[i][1]]
        values = backend.loglikelihood_with_cache_info(flat)
        offset = 0
        for index in scored_indices:
            sample_id, request = chunk[index]
            part = values[offset : offset + len(request)]
            offset += len(request)
            records[index] = {
                "id": sample_id,
                "request": request_to_dict(request),
                "output": "",
                "logprobs": [value for value, _ in part],
                "finish_reason": "loglikelihood",
                "cached": all(cached for _, cached in part),
            }
    return records


def play_episode(benchmark: AgentBenchmark, backend: CachingBackend, sample: Sample) -> dict[str, Any]:
    """Play ``sample``'s episode with a fresh environment and agent; its ``generations.jsonl`` record."""
    env = benchmark.make_env()
    try:
        agent = benchmark.make_agent(backend)
        episode = run_episode(env, agent, benchmark.max_turns, options=benchmark.reset_options(sample))
    finally:
        env.close()
    return episode.to_record(sample.id)


def score_output(benchmark: Benchmark, item: tuple[Sample, dict[str, Any]]) -> dict[str, Any]:
    """Score one generation record; its ``results.jsonl`` record."""
    sample, generation = item
    if isinstance(benchmark, AgentBenchmark):
        episode = Episode.from_record(generation)
        score = benchmark.score_episode(sample, episode)
        return {
            **_score_record(sample.id, score),
            "success": episode.success,
            "success_turn": episode.success_turn,
        }
    output = generation["logprobs"] if "logprobs" in generation else generation["output"]
    return _score_record(sample.id, benchmark.score(sample, output))


def _score_record(sample_id: str, score: Score) -> dict[str, Any]:
    if not isinstance(score, Score):
        raise TypeError(f"score() must return a Score, got {type(score).__name__}")
    return {"id": sample_id, "score": float(score.value), "details": dict(score.details)}
