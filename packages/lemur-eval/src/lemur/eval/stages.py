"""The work items of a run, as plain module-level functions so every executor (threads, processes, Ray) can ship them.

Each function takes what it needs explicitly (benchmark, backend) and returns JSON-ready
records; only the runner writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lemur.eval.agent_loop import Episode, run_episode
from lemur.eval.benchmark import AgentBenchmark, Benchmark, Sample, Score
from lemur.eval.cache import CachingBackend
from lemur.eval.models.base import GenerationRequest


def generate_chunk(backend: CachingBackend, chunk: Sequence[tuple[str, GenerationRequest]]) -> list[dict[str, Any]]:
    """Generate for a chunk of ``(sample id, request)`` pairs; one ``generations.jsonl`` record each, in order."""
    answers = backend.generate_with_cache_info([request for _, request in chunk])
    return [
        {
            "id": sample_id,
            "request": request.to_dict(),
            "output": generation.text,
            "finish_reason": generation.finish_reason,
            "cached": cached,
        }
        for (sample_id, request), (generation, cached) in zip(chunk, answers, strict=True)
    ]


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
    return _score_record(sample.id, benchmark.score(sample, generation["output"]))


def _score_record(sample_id: str, score: Score) -> dict[str, Any]:
    if not isinstance(score, Score):
        raise TypeError(f"score() must return a Score, got {type(score).__name__}")
    return {"id": sample_id, "score": float(score.value), "details": dict(score.details)}
