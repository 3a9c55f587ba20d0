"""The evaluation runner (lemur.eval.runner), in process, with the replay backend and small real benchmarks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lemur.core.errors import UnknownComponentError
from lemur.eval.config import RunConfig
from lemur.eval.results import RunDirError
from lemur.eval.runner import run


def record_replay(path: Path, plugin, size: int, wrong_every: int = 7) -> float:
    """Write a replay file answering toy-sum, wrong on every ``wrong_every``-th sample; return the true accuracy."""
    benchmark = plugin.ToySum(size=size)
    correct = 0
    with path.open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            answer = sample.target + 1 if index % wrong_every == 0 else sample.target
            correct += answer == sample.target
            file.write(json.dumps({"request": benchmark.request(sample).to_dict(), "output": f" {answer}"}) + "\n")
    return correct / size


def config(tmp_path: Path, **fields) -> RunConfig:
    base = {
        "model": f"replay:{tmp_path / 'replay.jsonl'}",
        "benchmarks": ["toy-sum"],
        "out": tmp_path / "run",
        "cache": tmp_path / "cache.sqlite",
        "progress": False,
    }
    return RunConfig.model_validate({**base, **fields})


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_writes_generations_results_and_summary(eval_test_plugin, tmp_path):
    accuracy = record_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=200)
    summary = run(config(tmp_path, chunk_size=7, workers=3))
    out = tmp_path / "run"
    generations = lines(out / "toy-sum" / "generations.jsonl")
    results = lines(out / "toy-sum" / "results.jsonl")
    ids = [f"sum-{i:05d}" for i in range(200)]
    assert [g["id"] for g in generations] == ids and [r["id"] for r in results] == ids
    assert generations[1]["output"] == " 90" and generations[1]["request"]["prompt"] == "37 + 53 ="
    assert not any(g["cached"] for g in generations)
    assert results[0] == {"id": "sum-00000", "score": 0.0, "details": {"predicted": 1}}
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary and summary["finished"] is True
    entry = summary["benchmarks"]["toy-sum"]
    assert entry["scores"]["accuracy"] == pytest.approx(accuracy)
    assert (entry["n"], entry["version"], entry["category"], entry["metric"]) == (200, "1", "text", "accuracy")
    assert "success_by_turn" not in entry and len(entry["data_sha256"]) == 64 and len(entry["prompt_hash"]) == 64
    assert summary["model"]["backend"] == "replay" and summary["model"]["identity"]["sha256"]
    assert summary["lemur"]["lemur-eval"] == "0.1.0"
    assert summary["git_revision"] is None or len(summary["git_revision"]) == 40
    assert "model: replay:" in (out / "config.yaml").read_text()
    rescored = run(config(tmp_path, model=f"replay:{out}", out=tmp_path / "rescored"))
    assert (tmp_path / "rescored" / "toy-sum" / "results.jsonl").read_text() == (
        out / "toy-sum" / "results.jsonl"
    ).read_text()
    assert rescored["benchmarks"] == summary["benchmarks"]


def test_limit_and_a_second_run_answered_from_the_cache(eval_test_plugin, tmp_path):
    record_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=200)
    first = run(config(tmp_path, limit=30))
    second = run(config(tmp_path, limit=30, out=tmp_path / "again"))
    cached = lines(tmp_path / "again" / "toy-sum" / "generations.jsonl")
    assert len(cached) == 30 and all(g["cached"] for g in cached)
    assert first["benchmarks"]["toy-sum"]["scores"] == second["benchmarks"]["toy-sum"]["scores"]
    # the data hash covers every sample whatever the limit; so does the prompt hash
    full = run(config(tmp_path, out=tmp_path / "full", use_cache=False))
    assert full["benchmarks"]["toy-sum"]["data_sha256"] == first["benchmarks"]["toy-sum"]["data_sha256"]
    assert full["benchmarks"]["toy-sum"]["prompt_hash"] == first["benchmarks"]["toy-sum"]["prompt_hash"]
    assert not any(g["cached"] for g in lines(tmp_path / "full" / "toy-sum" / "generations.jsonl"))


def test_resume_finishes_a_cut_run_without_losing_or_duplicating(eval_test_plugin, tmp_path):
    record_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=100)
    sized = {"benchmark_options": {"toy-sum": {"size": 100}}}
    reference = run(config(tmp_path, out=tmp_path / "reference", **sized))
    run(config(tmp_path, **sized))
    folder = tmp_path / "run" / "toy-sum"
    # cut the run as a kill would: 60 generations and a partial line, 25 results
    generations = (folder / "generations.jsonl").read_text().splitlines(keepends=True)
    (folder / "generations.jsonl").write_text("".join(generations[:60]) + generations[60][:17])
    results = (folder / "results.jsonl").read_text().splitlines(keepends=True)
    (folder / "results.jsonl").write_text("".join(results[:25]))
    (tmp_path / "run" / "summary.json").unlink()
    resumed = run(config(tmp_path, **sized), resume=True)
    assert (folder / "results.jsonl").read_text() == (tmp_path / "reference" / "toy-sum" / "results.jsonl").read_text()
    assert [g["id"] for g in lines(folder / "generations.jsonl")] == [f"sum-{i:05d}" for i in range(100)]
    assert resumed["benchmarks"] == reference["benchmarks"]


def test_resume_refuses_a_different_config_and_a_missing_run(eval_test_plugin, tmp_path):
    record_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=20)
    run(config(tmp_path, limit=10))
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "run").rglob("*"))
    with pytest.raises(RunDirError, match="field 'limit' was 10 in .*config.yaml but is 5 now"):
        run(config(tmp_path, limit=5), resume=True)
    with pytest.raises(RunDirError, match="is not empty; pass --resume"):
        run(config(tmp_path, limit=10))
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "run").rglob("*")) == before
    with pytest.raises(RunDirError, match="holds no run"):
        run(config(tmp_path, out=tmp_path / "nothing"), resume=True)
    # workers and executor settings may change on resume
    run(config(tmp_path, limit=10, workers=1, chunk_size=3), resume=True)


def test_bad_inputs_write_nothing(eval_test_plugin, tmp_path):
    record_replay(tmp_path / "replay.jsonl", eval_test_plugin, size=20)
    with pytest.raises(UnknownComponentError, match="unknown benchmark 'toy-sun': did you mean 'toy-sum'"):
        run(config(tmp_path, benchmarks=["toy-sum", "toy-sun"]))
    assert not (tmp_path / "run").exists()


def test_agent_benchmark_records_turns_and_success_by_turn(eval_test_plugin, tmp_path):
    targets = (1, 17, 32, 33, 48, 50, 64)
    summary = run(
        config(
            tmp_path,
            model="test-bisect",
            benchmarks=["toy-guess"],
            benchmark_options={"toy-guess": {"targets": targets}},
        )
    )
    needed = {str(t): eval_test_plugin.bisect_turns(t) for t in targets}
    max_turns = eval_test_plugin.ToyGuess.max_turns
    folder = tmp_path / "run" / "toy-guess"
    episodes = {g["id"]: g for g in lines(folder / "generations.jsonl")}
    for task, turns in needed.items():
        episode = episodes[task]
        assert episode["success"] == (turns <= max_turns)
        assert len(episode["turns"]) == min(turns, max_turns)
        assert episode["turns"][0] == {
            "turn": 1,
            "action": "32",
            "observation": episode["turns"][0]["observation"],
            "reward": float(task == "32"),
        }
    results = {r["id"]: r for r in lines(folder / "results.jsonl")}
    assert {task: r["success_turn"] for task, r in results.items()} == {
        task: (turns if turns <= max_turns else None) for task, turns in needed.items()
    }
    entry = summary["benchmarks"]["toy-guess"]
    expected_curve = [sum(t <= k for t in needed.values()) / len(targets) for k in range(1, max_turns + 1)]
    assert entry["success_by_turn"] == pytest.approx(expected_curve)
    assert entry["scores"]["success_rate"] == pytest.approx(expected_curve[-1])
    assert entry["category"] == "agent" and entry["n"] == len(targets)


def test_loglikelihood_benchmark_and_rescoring_a_saved_run(eval_test_plugin, tmp_path):
    benchmark = eval_test_plugin.ToyChoice()
    expected = 0
    with (tmp_path / "scores.jsonl").open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            favourite = sample.target if index % 4 else (sample.target + 1) % 4  # wrong on every 4th
            expected += favourite == sample.target
            for choice, request in enumerate(benchmark.request(sample)):
                logprob = -0.5 if choice == favourite else -3.0 - choice
                file.write(json.dumps({"request": dataclasses.asdict(request), "logprob": logprob}) + "\n")
    summary = run(config(tmp_path, model=f"replay:{tmp_path / 'scores.jsonl'}", benchmarks=["toy-choice"]))
    assert summary["benchmarks"]["toy-choice"]["scores"]["accuracy"] == pytest.approx(expected / 12)
    record = lines(tmp_path / "run" / "toy-choice" / "generations.jsonl")[0]
    assert record["finish_reason"] == "loglikelihood" and len(record["logprobs"]) == 4 and record["output"] == ""
    assert record["request"]["loglikelihood"][0]["continuation"] == " A"

    # a saved run directory replays as a model: re-scoring gives the same results
    rescored = run(
        config(tmp_path, model=f"replay:{tmp_path / 'run'}", benchmarks=["toy-choice"], out=tmp_path / "again")
    )
    assert rescored["benchmarks"] == summary["benchmarks"]
    results = "toy-choice/results.jsonl"
    assert (tmp_path / "again" / results).read_text() == (tmp_path / "run" / results).read_text()
