"""The contract end to end: run directories written by the real runner (``lemur.eval.runner``), then reported.

Uses the runner tests' toy benchmarks (``_lemur_eval_test_plugin``): ``toy-sum`` answered
from a replay file with a known accuracy, and the agent benchmark ``toy-guess`` played by a
bisecting model whose turns per target are known.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lemur.eval.config import RunConfig
from lemur.eval.reports.report import build_report, render
from lemur.eval.runner import run


def _replay(path: Path, plugin, size: int) -> float:
    benchmark = plugin.ToySum(size=size)
    correct = 0
    with path.open("w") as file:
        for index, sample in enumerate(benchmark.samples()):
            answer = sample.target + (1 if index % 4 == 0 else 0)
            correct += answer == sample.target
            file.write(json.dumps({"request": benchmark.request(sample).to_dict(), "output": f" {answer}"}) + "\n")
    return correct / size


def test_report_reads_what_the_runner_writes(eval_test_plugin, tmp_path: Path) -> None:
    accuracy = _replay(tmp_path / "replay.jsonl", eval_test_plugin, size=40)
    common = {"cache": tmp_path / "cache.sqlite", "progress": False}
    run(
        RunConfig.model_validate(
            {
                "model": f"replay:{tmp_path / 'replay.jsonl'}",
                "benchmarks": ["toy-sum"],
                "benchmark_options": {"toy-sum": {"size": 40}},
                "out": tmp_path / "a",
                **common,
            }
        )
    )
    targets = (1, 17, 32, 33, 48, 50, 64)
    run(
        RunConfig.model_validate(
            {
                "model": "test-bisect",
                "benchmarks": ["toy-guess"],
                "benchmark_options": {"toy-guess": {"targets": targets}},
                "out": tmp_path / "b",
                **common,
            }
        )
    )
    report = build_report([tmp_path / "a", tmp_path / "b"], plots=True)
    scores = next(table for table in report.tables if table.id == "scores")
    texts = {
        (row.label.split(":")[0], column.key): text
        for row in scores.rows
        for column, text in zip(scores.columns, row.texts, strict=True)
    }
    assert texts[("replay", "toy-sum")] == f"{100 * accuracy:.1f}"
    max_turns = eval_test_plugin.ToyGuess.max_turns
    solved = [t for t in map(eval_test_plugin.bisect_turns, targets) if t <= max_turns]
    assert texts[("test-bisect", "toy-guess")] == f"{100 * len(solved) / len(targets):.1f}"
    curve = report.runs[1].benchmarks["toy-guess"].success_by_turn
    assert curve == pytest.approx([sum(t <= k for t in solved) / len(targets) for k in range(1, max_turns + 1)])
    files = render(report, ["md", "html", "png"])
    assert "plots/success_by_turn_toy-guess.png" in files
