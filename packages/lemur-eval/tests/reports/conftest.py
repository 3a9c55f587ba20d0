"""Run directories in the format of ``lemur.eval.results``, written by the tests themselves.

The runner is not used: each helper writes per-sample ``results.jsonl`` lines and derives
``summary.json`` from them, as the runner does, so the tests know every expected number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

#: Benchmark name -> category, for the benchmarks the fixtures use.
CATEGORY = {
    "mmlu": "text",
    "bbh": "text",
    "gsm8k": "text",
    "humaneval": "code",
    "mbpp": "code",
    "spider": "code",
    "multipl-e": "code",
    "ds-1000": "code",
}


def _category(name: str) -> str:
    return CATEGORY.get(name, "agent")


def write_run(
    root: Path,
    run_id: str,
    model_spec: str,
    samples: Mapping[str, Sequence[float]],
    *,
    success_turns: Mapping[str, Sequence[int | None]] | None = None,
    max_turns: int = 5,
    finished: bool = True,
) -> Path:
    """Write a run directory whose benchmark scores are the means of ``samples``.

    Args:
        root: Parent directory; the run goes to ``root / run_id``.
        run_id: The run's id and directory name.
        model_spec: The ``model.spec`` recorded in the summary.
        samples: Benchmark name -> per-sample scores in [0, 1].
        success_turns: Agent benchmark -> per-sample turn of success (``None`` = failed);
            these benchmarks get ``success_by_turn`` and their score is the success rate.
        max_turns: Turn budget of the agent benchmarks.
        finished: The summary's ``finished`` flag.
    """
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(f"model: {model_spec}\nbenchmarks: {sorted(samples)}\n", encoding="utf-8")
    benchmarks: dict[str, Any] = {}
    for name, scores in samples.items():
        folder = run_dir / name
        folder.mkdir()
        turns = (success_turns or {}).get(name)
        with (folder / "results.jsonl").open("w", encoding="utf-8") as stream:
            for index, score in enumerate(scores):
                line: dict[str, Any] = {"id": f"{name}-{index}", "score": score, "details": {}}
                if turns is not None:
                    line.update(success=turns[index] is not None, success_turn=turns[index])
                stream.write(json.dumps(line) + "\n")
        category = _category(name)
        metric = "success_rate" if category == "agent" else "accuracy"
        entry: dict[str, Any] = {
            "version": "1",
            "category": category,
            "metric": metric,
            "setting": {"turns": max_turns} if category == "agent" else {"shots": 3},
            "scores": {metric: sum(scores) / len(scores)},
            "n": len(scores),
            "data_sha256": "0" * 64,
            "prompt_hash": "1" * 64,
        }
        if turns is not None:
            entry["success_by_turn"] = [
                sum(1 for t in turns if t is not None and t <= k) / len(turns) for k in range(1, max_turns + 1)
            ]
        benchmarks[name] = entry
    summary = {
        "run_id": run_id,
        "created": "2026-11-27T12:00:00Z",
        "finished": finished,
        "lemur": {"lemur-core": "0.1.0", "lemur-eval": "0.1.0"},
        "git_revision": None,
        "model": {"spec": model_spec, "backend": model_spec.split(":")[0], "identity": {}},
        "benchmarks": benchmarks,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return run_dir


def fractions(correct: int, total: int) -> list[float]:
    """``total`` per-sample scores of which the first ``correct`` are 1.0."""
    return [1.0] * correct + [0.0] * (total - correct)


def turns_for(solved_at: Sequence[int], failed: int) -> list[int | None]:
    """Per-sample success turns: the given turns, then ``failed`` unsolved samples."""
    return [*solved_at, *([None] * failed)]


FOUNDATIONAL = {
    "mmlu": (33, 50),
    "bbh": (27, 60),
    "gsm8k": (41, 80),
    "humaneval": (20, 41),
    "mbpp": (30, 50),
    "spider": (31, 50),
    "multipl-e": (12, 40),
    "ds-1000": (9, 30),
}
TOOLS = {"mint-gsm8k": (20, 48), "mint-hotpotqa": (15, 43), "mint-math": (30, 100), "mint-mmlu": (40, 76)}
SQL_TURNS = turns_for([1, 1, 2, 2, 2, 3, 4, 5, 5], failed=11)
CTF_TURNS = turns_for([2, 3, 5], failed=17)


@pytest.fixture
def make_run() -> Callable[..., Path]:
    """The :func:`write_run` helper."""
    return write_run


@pytest.fixture
def data() -> SimpleNamespace:
    """The sample counts behind :func:`two_runs` and the helpers that build samples."""
    return SimpleNamespace(
        FOUNDATIONAL=FOUNDATIONAL,
        TOOLS=TOOLS,
        SQL_TURNS=SQL_TURNS,
        CTF_TURNS=CTF_TURNS,
        fractions=fractions,
        turns_for=turns_for,
    )


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    """Run A: all of Table 3, four of five tool tasks plus mint-theoremqa, InterCode SQL/CTF, WebArena,
    M-ALFWorld. Run B: text only, plus InterCode-SQL; unfinished."""
    samples_a = {name: fractions(*counts) for name, counts in FOUNDATIONAL.items()}
    samples_a.update({name: fractions(*counts) for name, counts in TOOLS.items()})
    samples_a["mint-theoremqa"] = fractions(10, 49)
    samples_a["intercode-sql"] = [1.0 if t is not None else 0.0 for t in SQL_TURNS]
    samples_a["intercode-ctf"] = [1.0 if t is not None else 0.0 for t in CTF_TURNS]
    samples_a["webarena"] = fractions(3, 50)
    samples_a["mint-alfworld"] = fractions(12, 40)
    run_a = write_run(
        tmp_path / "runs",
        "run-a",
        "replay:lemur-70b-chat.jsonl",
        samples_a,
        success_turns={"intercode-sql": SQL_TURNS, "intercode-ctf": CTF_TURNS},
    )
    samples_b = {name: fractions(correct - 5, total) for name, (correct, total) in FOUNDATIONAL.items()}
    samples_b = {name: samples_b[name] for name in ("mmlu", "bbh", "gsm8k")}
    sql_b = turns_for([1, 3, 3, 4], failed=16)
    samples_b["intercode-sql"] = [1.0 if t is not None else 0.0 for t in sql_b]
    run_b = write_run(
        tmp_path / "runs",
        "run-b",
        "replay:llama-2-70b-chat.jsonl",
        samples_b,
        success_turns={"intercode-sql": sql_b},
        finished=False,
    )
    return [run_a, run_b]
